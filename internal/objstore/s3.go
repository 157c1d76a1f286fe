package objstore

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"gocloud.dev/blob"
	_ "gocloud.dev/blob/s3blob" // registers s3://
)

// openS3 opens "s3://bucket/prefix?endpoint=...&region=...". Credentials
// come from the standard AWS environment variables or profile. The path of
// the URL becomes a key prefix under which the zones live.
func openS3(ctx context.Context, u *url.URL) (*Store, error) {
	prefix := strings.Trim(u.Path, "/")
	bu := *u
	bu.Path = ""
	q := bu.Query()
	if q.Get("endpoint") != "" {
		// S3-compatible servers (MinIO, test servers) need path-style
		// addressing, and are often plain HTTP without AWS's checksums.
		if q.Get("use_path_style") == "" {
			q.Set("use_path_style", "true")
		}
		if strings.HasPrefix(q.Get("endpoint"), "http://") && q.Get("disable_https") == "" {
			q.Set("disable_https", "true")
		}
		if q.Get("request_checksum_calculation") == "" {
			q.Set("request_checksum_calculation", "when_required")
		}
		if q.Get("response_checksum_validation") == "" {
			q.Set("response_checksum_validation", "when_required")
		}
	}
	bu.RawQuery = q.Encode()
	b, err := blob.OpenBucket(ctx, bu.String())
	if err != nil {
		return nil, fmt.Errorf("open zones %s: %w", redact(u), err)
	}
	s := &Store{bucket: b, prefix: prefix, url: redact(u)}
	if ok, err := b.IsAccessible(ctx); err != nil || !ok {
		b.Close()
		if err == nil {
			err = fmt.Errorf("bucket %q does not exist", u.Host)
		}
		return nil, fmt.Errorf("open zones %s: %w (check the bucket name, the endpoint and the AWS credentials in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE)", redact(u), err)
	}
	return s, nil
}

// redact drops any user information from a URL for messages.
func redact(u *url.URL) string {
	c := *u
	c.User = nil
	return c.String()
}
