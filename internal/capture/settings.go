package capture

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/objstore"
	"github.com/grpipe/grpipe/internal/source"
)

// Settings are grpipe capture's settings, from its flags and environment.
type Settings struct {
	// APIURL and APIKey name the API (--api-url or GRPIPE_API_URL;
	// GRPIPE_API_KEY or --api-key).
	APIURL, APIKey string
	// Once polls one time; else Every is the polling period.
	Once  bool
	Every time.Duration
	// Until, when set, ends the capture after a flush.
	Until time.Time
	// Rate bounds the calls per second.
	Rate float64
	// FlushEvery and FlushRows say when the spool lands.
	FlushEvery time.Duration
	FlushRows  int
}

// ParseSettings returns the settings of grpipe capture's flags: the rate
// (1/s, 30/m) and --until (a time, or a duration from now) parsed, a
// polling period of a minute unless --once, checked.
func ParseSettings(s Settings, rate, until string, now time.Time) (Settings, error) {
	if !s.Once && s.Every == 0 {
		s.Every = time.Minute
	}
	var err error
	if s.Rate, err = source.ParseRate("rate", rate); err != nil {
		return s, err
	}
	if s.Until, err = ParseUntil(until, now); err != nil {
		return s, err
	}
	return s, s.Validate()
}

// Validate checks the settings, naming the flag at fault.
func (s Settings) Validate() error {
	switch {
	case s.APIURL == "":
		return fmt.Errorf("%w: no API URL: give --api-url or GRPIPE_API_URL (for a demo: `grpipe api-replay --from DIR`, then --api-url http://127.0.0.1:8090)", grpipe.ErrBadInput)
	case s.APIKey == "":
		return fmt.Errorf("%w: no API key: give GRPIPE_API_KEY (or --api-key, which other users can see in the process list)", grpipe.ErrBadInput)
	case s.Once && s.Every > 0:
		return fmt.Errorf("%w: --once and --every exclude each other: --once polls one time, --every polls until stopped", grpipe.ErrBadInput)
	case !s.Once && s.Every < time.Second:
		return fmt.Errorf("%w: --every %s: give a period of at least 1s, such as 60s", grpipe.ErrBadInput, s.Every)
	case s.FlushEvery <= 0:
		return fmt.Errorf("%w: --flush-every %s: give a positive duration, such as 10m", grpipe.ErrBadInput, s.FlushEvery)
	case s.FlushRows < 0:
		return fmt.Errorf("%w: --flush-rows %d: give a number of reviews, 0 for no bound", grpipe.ErrBadInput, s.FlushRows)
	case s.Rate <= 0:
		return fmt.Errorf("%w: --rate must be positive", grpipe.ErrBadInput)
	}
	return nil
}

// ParseUntil reads --until: an RFC 3339 time, or a duration from now.
func ParseUntil(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(d), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%w: --until %q: give a time such as 2026-11-27T18:00:00Z or a duration such as 30m", grpipe.ErrBadInput, s)
}

// RunSettings polls the API s names into the zones at zonesURL, with its
// lock and spool in dir and its state in st (taking lock, if set, first),
// until s says to stop or ctx ends (grpipe capture); it returns what it did.
func RunSettings(ctx context.Context, zonesURL, dir string, st State, lock func(context.Context) (func() error, error), s Settings, log *slog.Logger) (Stats, error) {
	client, err := source.NewClient(s.APIURL, s.APIKey, &source.Options{Rate: s.Rate, Log: log})
	if err != nil {
		return Stats{}, err
	}
	zones, err := objstore.Open(ctx, zonesURL)
	if err != nil {
		return Stats{}, err
	}
	defer zones.Close()
	opts := Options{Dir: dir, State: st, Lock: lock, Until: s.Until, FlushEvery: s.FlushEvery, FlushRows: s.FlushRows, Log: log}
	if !s.Once {
		opts.Every = s.Every
	}
	c, err := Open(ctx, client, zones, opts)
	if err != nil {
		return Stats{}, err
	}
	defer c.Close()
	log.Info("capture started", "api", client.BaseURL(), "zones", zones.URL(), "every", opts.Every.String(), "rate_per_s", s.Rate)
	err = c.Run(ctx)
	return c.Stats(), err
}

// String says what a capture did.
func (s Stats) String() string {
	return fmt.Sprintf("captured %d reviews in %d polls; landed %d in %d batches; skipped %d, failed %d",
		s.Fetched, s.Polls, s.Landed, s.Batches, s.Skipped, s.Failed)
}
