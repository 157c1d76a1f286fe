package grpipe_test

import (
	"errors"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	grpipe "github.com/grpipe/grpipe"
)

func TestValidateRunID(t *testing.T) {
	cases := []struct {
		name, id string
		ok       bool
	}{
		{"generated manual", "manual__2026-11-27T02:44:28.953513Z", true},
		{"generated scheduled", "scheduled__2026-03-01T00:10:00.000000Z", true},
		{"airflow style", "my_run.v2:retry+1-x", true},
		{"digit first", "2026-run", true},
		{"longest", strings.Repeat("a", grpipe.MaxRunIDLen), true},
		{"try without number", "manual__x_try", true},
		{"try inside", "manual__x_try2b", true},
		{"empty", "", false},
		{"dot", ".", false},
		{"dot dot", "..", false},
		{"hidden", ".manual", false},
		{"flag-like", "-rf", false},
		{"underscore first", "_x", false},
		{"slash", "a/b", false},
		{"parent", "../landing", false},
		{"backslash", `a\b`, false},
		{"space", "a b", false},
		{"newline", "a\nb", false},
		{"nul", "a\x00b", false},
		{"tilde", "a~b", false},
		{"percent", "..%2f", false},
		{"non-ascii", "prüfung", false},
		{"too long", strings.Repeat("a", grpipe.MaxRunIDLen+1), false},
		{"a retry's folder", "manual__2026-11-27T02:44:28.953513Z_try2", false},
		{"a retry's folder, many digits", "x_try0001", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := grpipe.ValidateRunID(tc.id)
			if (err == nil) != tc.ok {
				t.Fatalf("ValidateRunID(%q) = %v, want ok=%v", tc.id, err, tc.ok)
			}
			if err != nil && !errors.Is(err, grpipe.ErrBadInput) {
				t.Fatalf("ValidateRunID(%q) = %v, want an error wrapping ErrBadInput", tc.id, err)
			}
		})
	}
}

func TestValidateManualRunID(t *testing.T) {
	cases := []struct {
		name, id string
		ok       bool
	}{
		{"manual", "manual__my_run", true},
		{"own name", "rerun-after-fix", true},
		{"scheduled prefix", "scheduled__2026-03-01T00:10:00.000000Z", false},
		{"backfill prefix", "backfill__2026-03-01T00:10:00.000000Z", false},
		{"scheduled without the double underscore", "scheduled_x", true},
		{"invalid anyway", "..", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := grpipe.ValidateManualRunID(tc.id)
			if (err == nil) != tc.ok {
				t.Fatalf("ValidateManualRunID(%q) = %v, want ok=%v", tc.id, err, tc.ok)
			}
			if err != nil && !errors.Is(err, grpipe.ErrBadInput) {
				t.Fatalf("ValidateManualRunID(%q) = %v, want an error wrapping ErrBadInput", tc.id, err)
			}
		})
	}
}

func TestNewRunIDIsValid(t *testing.T) {
	for _, at := range []time.Time{time.Unix(0, 0), time.Date(2026, 11, 27, 2, 44, 28, 953513000, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.FixedZone("x", -3600))} {
		for _, kind := range []grpipe.RunType{grpipe.RunManual, grpipe.RunScheduled, grpipe.RunBackfill} {
			id := grpipe.NewRunID(kind, at)
			if err := grpipe.ValidateRunID(id); err != nil {
				t.Errorf("NewRunID(%s, %s) = %q: %v", kind, at, id, err)
			}
		}
	}
}

// FuzzValidateRunID checks that an accepted run id is one clean path element
// that no other accepted id's retry folder can equal, and that every refusal
// wraps ErrBadInput.
func FuzzValidateRunID(f *testing.F) {
	for _, s := range []string{"manual__2026-11-27T02:44:28.953513Z", "scheduled__2026-03-01T00:10:00.000000Z",
		"backfill__2026-03-01T00:00:00.000000Z", ".", "..", "", "a/b", "../x", `..\x`, "x_try2", "x_try", "-x",
		"a\x00", "é", strings.Repeat("z", 201), "manual__x.", "a..b", "a:b+c-d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		err := grpipe.ValidateRunID(id)
		if err != nil {
			if !errors.Is(err, grpipe.ErrBadInput) {
				t.Fatalf("ValidateRunID(%q) = %v: does not wrap ErrBadInput", id, err)
			}
			if !utf8.ValidString(err.Error()) {
				t.Fatalf("ValidateRunID(%q): the message is not valid UTF-8: %q", id, err.Error())
			}
			return
		}
		if id == "" || id == "." || id == ".." || len(id) > grpipe.MaxRunIDLen {
			t.Fatalf("ValidateRunID(%q) accepted it", id)
		}
		if path.Clean(id) != id || path.Base(id) != id || filepath.Base(id) != id || strings.ContainsAny(id, `/\`) {
			t.Fatalf("ValidateRunID(%q) accepted an id that is not one path element", id)
		}
		if got := path.Join("working", id); got != "working/"+id {
			t.Fatalf("ValidateRunID(%q) accepted an id that path.Join changes: %q", id, got)
		}
		if strings.HasPrefix(id, ".") || strings.HasPrefix(id, "-") {
			t.Fatalf("ValidateRunID(%q) accepted a hidden or flag-like id", id)
		}
		// The folder of a later try of this run is never another run's id.
		for _, n := range []int{1, 2, 10} {
			try := id + "_try" + strconv.Itoa(n)
			if grpipe.ValidateRunID(try) == nil {
				t.Fatalf("%q (a try folder of %q) is accepted as a run id", try, id)
			}
		}
		// Manual ids are valid run ids and never carry the scheduler's prefixes.
		if grpipe.ValidateManualRunID(id) == nil && (strings.HasPrefix(id, "scheduled__") || strings.HasPrefix(id, "backfill__")) {
			t.Fatalf("ValidateManualRunID(%q) accepted a reserved prefix", id)
		}
	})
}
