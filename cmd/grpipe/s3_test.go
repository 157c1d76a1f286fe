package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/grpipe/grpipe/internal/objstore"
	"github.com/grpipe/grpipe/internal/objstore/s3test"
)

// TestCrashThenRerunS3 is the crash test with the zones on an S3-protocol
// server (in this test process, so it outlives the killed grpipe): each
// home gets its own prefix in one bucket.
func TestCrashThenRerunS3(t *testing.T) {
	srv := s3test.Start(t, "grpipe")
	homeEnv := func(home string) map[string]string {
		return map[string]string{
			"GRPIPE_HOME":  home,
			"GRPIPE_ZONES": srv.ZonesURL("grpipe", filepath.Base(filepath.Dir(home))+"/"+filepath.Base(home)) + "&max_backoff=100ms",
		}
	}
	crashThenRerun(t, homeEnv, func(t *testing.T, env map[string]string, zone string) []string {
		if _, err := os.Stat(filepath.Join(env["GRPIPE_HOME"], "zones")); !os.IsNotExist(err) {
			t.Errorf("a local zones folder exists: the zones were not on S3")
		}
		s, err := objstore.Open(context.Background(), env["GRPIPE_ZONES"])
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		objs, err := s.List(context.Background(), zone+"/")
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, o := range objs {
			keys = append(keys, o.Key)
		}
		return keys
	})
}

// TestS3ZonesErrors: a missing bucket or unknown credentials stop a command
// with a message naming the setting and what to check.
func TestS3ZonesErrors(t *testing.T) {
	srv := s3test.Start(t, "grpipe")
	t.Run("missing bucket", func(t *testing.T) {
		r := grpipeCmd(t, map[string]string{"GRPIPE_HOME": t.TempDir(), "GRPIPE_ZONES": srv.ZonesURL("nope", "x")}, "run")
		if r.code == 0 || !strings.Contains(r.stderr, `bucket "nope" does not exist`) || !strings.Contains(r.stderr, "GRPIPE_ZONES") {
			t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
		}
	})
	t.Run("bad credentials", func(t *testing.T) {
		t.Setenv("AWS_SECRET_ACCESS_KEY", "N0tTheS3cret")
		t.Setenv("AWS_ACCESS_KEY_ID", "intruder")
		r := grpipeCmd(t, map[string]string{"GRPIPE_HOME": t.TempDir(), "GRPIPE_ZONES": srv.ZonesURL("grpipe", "x")}, "land", sampleDir(t)[0])
		if r.code == 0 || !strings.Contains(r.stderr, "AWS_ACCESS_KEY_ID") || strings.Contains(r.stderr, "N0tTheS3cret") {
			t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
		}
	})
}
