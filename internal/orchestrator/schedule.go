package orchestrator

import (
	"fmt"
	"time"

	"github.com/robfig/cron/v3"

	grpipe "github.com/grpipe/grpipe"
)

// DefaultSchedule is the original's schedule_interval: every 10 minutes.
const DefaultSchedule = "*/10 * * * *"

// maxIntervals bounds the runs one backfill creates.
const maxIntervals = 10000

// Schedule is a parsed cron spec or descriptor: it cuts time into the data
// intervals [t, Next(t)) that scheduled and backfill runs cover.
type Schedule struct {
	// Spec is the text it was parsed from.
	Spec string
	cron.Schedule
}

// ParseSchedule parses a cron spec (5 fields, "*/10 * * * *") or a
// descriptor ("@hourly", "@every 30s"); the error names the spec.
func ParseSchedule(spec string) (Schedule, error) {
	s, err := cron.ParseStandard(spec)
	if err != nil {
		return Schedule{}, fmt.Errorf("%w: schedule %q: %v (use a cron spec such as \"*/10 * * * *\" or \"@every 30s\")", grpipe.ErrBadInput, spec, err)
	}
	return Schedule{Spec: spec, Schedule: s}, nil
}

// Intervals returns the data intervals [start, end) whose logical date
// (start) lies in [from, to], oldest first, at most limit (0: 10000): the
// runs a backfill creates.
func (s Schedule) Intervals(from, to time.Time, limit int) ([][2]time.Time, error) {
	if to.Before(from) {
		return nil, fmt.Errorf("%w: --end-date %s is before --start-date %s", grpipe.ErrBadInput, to.Format(time.RFC3339), from.Format(time.RFC3339))
	}
	if limit <= 0 {
		limit = maxIntervals
	}
	var out [][2]time.Time
	for a := s.Next(from.Add(-time.Second)); !a.After(to); a = s.Next(a) {
		if len(out) == limit {
			return nil, fmt.Errorf("%w: more than %d intervals of %q between %s and %s: narrow the dates", grpipe.ErrBadInput, limit, s.Spec,
				from.Format(time.RFC3339), to.Format(time.RFC3339))
		}
		out = append(out, [2]time.Time{a, s.Next(a)})
	}
	return out, nil
}

// ParseDate reads a --start-date or --end-date: RFC 3339, or a date (UTC
// midnight); "" is the zero time. The error names the flag.
func ParseDate(flag, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%w: %s %q must be a date (2026-01-31) or an RFC 3339 time (2026-01-31T10:00:00Z)", grpipe.ErrBadInput, flag, s)
}

// ParseDates reads --start-date and --end-date (see ParseDate).
func ParseDates(start, end string) (time.Time, time.Time, error) {
	s, err := ParseDate("--start-date", start)
	if err != nil {
		return s, time.Time{}, err
	}
	e, err := ParseDate("--end-date", end)
	return s, e, err
}
