package objstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	gcaws "gocloud.dev/aws"
	"gocloud.dev/blob/s3blob"

	grpipe "github.com/grpipe/grpipe"
)

// S3 transfer settings.
const (
	// PartSize is the size of the parts of a multipart upload: objects
	// larger than this are uploaded in parts of this size.
	PartSize = 16 << 20
	// defaultMaxAttempts is how often one S3 request is tried, with
	// exponential backoff, before a transient error (503, throttling, a
	// timeout, a reset connection) is given up on.
	defaultMaxAttempts = 8
	// defaultResponseTimeout bounds the wait for a reply's headers; a
	// request that times out is retried.
	defaultResponseTimeout = 60 * time.Second
	// defaultMaxBackoff caps the wait between two attempts.
	defaultMaxBackoff = 5 * time.Second
)

// openS3 opens "s3://bucket/prefix?endpoint=...&region=...". Credentials
// come from the standard AWS environment variables or profile. The path of
// the URL becomes a key prefix under which the zones live.
//
// Query parameters: those of gocloud.dev's s3blob (endpoint, region,
// profile, use_path_style, disable_https, request_checksum_calculation,
// response_checksum_validation, ...), max_attempts (tries per request,
// default 8), max_backoff (the longest wait between two tries, a Go
// duration, default 5s) and response_timeout (the longest wait for a reply's
// headers before the request is tried again, default 60s).
func openS3(ctx context.Context, u *url.URL) (*Store, error) {
	prefix := strings.Trim(u.Path, "/")
	q := u.Query()
	if q.Get("endpoint") != "" {
		// S3-compatible servers (MinIO, test servers) need path-style
		// addressing, and are often plain HTTP without AWS's checksums
		// (without when_required, some store aws-chunked framing bytes
		// inside objects).
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
	bad := func(param, want string) error {
		return fmt.Errorf("%w: zones %s: parameter %s=%q: want %s", grpipe.ErrBadInput, redact(u), param, q.Get(param), want)
	}
	var s3opts []func(*s3.Options)
	for _, p := range []string{"use_path_style", "disable_https"} {
		v := q.Get(p)
		q.Del(p)
		if v == "" {
			continue
		}
		on, err := strconv.ParseBool(v)
		if err != nil {
			return nil, bad(p, "true or false")
		}
		if p == "use_path_style" {
			s3opts = append(s3opts, func(o *s3.Options) { o.UsePathStyle = on })
		} else {
			s3opts = append(s3opts, func(o *s3.Options) { o.EndpointOptions.DisableHTTPS = on })
		}
	}
	attempts := defaultMaxAttempts
	if v := q.Get("max_attempts"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, bad("max_attempts", "a whole number of at least 1")
		}
		attempts = n
		q.Del("max_attempts")
	}
	backoff := defaultMaxBackoff
	if v := q.Get("max_backoff"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, bad("max_backoff", "a positive duration such as 5s or 200ms")
		}
		backoff = d
		q.Del("max_backoff")
	}
	respTimeout := defaultResponseTimeout
	if v := q.Get("response_timeout"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, bad("response_timeout", "a positive duration such as 60s")
		}
		respTimeout = d
		q.Del("response_timeout")
	}
	cfg, err := gcaws.V2ConfigFromURLParams(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("%w: zones %s: %v", grpipe.ErrBadInput, redact(u), err)
	}
	// Transient errors (5xx, throttling, timeouts, reset connections) are
	// retried with exponential backoff and jitter.
	cfg.Retryer = func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = attempts
			o.MaxBackoff = backoff
			o.Backoff = retry.NewExponentialJitterBackoff(backoff)
			o.RateLimiter = ratelimit.None
		})
	}
	// Bound connecting and waiting for a response's headers, not the
	// transfer itself (large objects take their time).
	cfg.HTTPClient = awshttp.NewBuildableClient().
		WithDialerOptions(func(d *net.Dialer) { d.Timeout = 10 * time.Second }).
		WithTransportOptions(func(t *http.Transport) {
			t.ResponseHeaderTimeout = respTimeout
			t.TLSHandshakeTimeout = 10 * time.Second
		})
	client := s3.NewFromConfig(cfg, s3opts...)
	b, err := s3blob.OpenBucket(ctx, client, u.Host, &s3blob.Options{RequestChecksumCalculation: cfg.RequestChecksumCalculation})
	if err != nil {
		return nil, fmt.Errorf("open zones %s: %w", redact(u), err)
	}
	s := &Store{bucket: b, prefix: prefix, url: redact(u)}
	if ok, err := b.IsAccessible(ctx); err != nil || !ok {
		b.Close()
		if err == nil {
			err = fmt.Errorf("bucket %q does not exist", u.Host)
		}
		return nil, fmt.Errorf("open zones %s (setting zones, env GRPIPE_ZONES): %w (check the bucket name, the endpoint and the AWS credentials in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE)", redact(u), err)
	}
	return s, nil
}

// conditionalConflict reports S3's 409 ConditionalRequestConflict: two
// conditional writes of one key raced, and this one lost.
func conditionalConflict(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "ConditionalRequestConflict"
}

// redact drops any user information from a URL for messages.
func redact(u *url.URL) string {
	c := *u
	c.User = nil
	return c.String()
}
