// Package capture is the pipeline's first step: a polling loop that asks the
// Goodreads API for recent reviews, fetches each review not yet captured in
// its current version, spools the four entities' rows in local CSV files,
// and lands them in the landing zone as complete batch files. A review is
// marked captured only after its batch has landed, so a crash loses at most
// the unflushed spool, which is fetched again on restart.
package capture

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/flock"
	"github.com/grpipe/grpipe/internal/landing"
	"github.com/grpipe/grpipe/internal/objstore"
	"github.com/grpipe/grpipe/internal/source"
)

// API is the part of the Goodreads API the capture uses.
type API interface {
	RecentReviews(ctx context.Context) ([]source.Review, error)
	Review(ctx context.Context, id int64) (*source.Review, error)
}

var _ API = (*source.Client)(nil)

// Options tune a Capturer.
type Options struct {
	// Dir holds the capture's lock and its spool (usually <home>/capture).
	// A capture.db there (the state of an older grpipe) is imported into
	// State once, then renamed capture.db.imported.
	Dir string
	// State records the reviews landed, in their versions (the run store).
	State State
	// Lock, when set, is taken after the folder's lock: one capture per
	// metadata database when several machines share it (an advisory lock on
	// PostgreSQL). It returns what releases it.
	Lock func(ctx context.Context) (release func() error, err error)
	// Every is the time between two polls; 0 polls once (Run flushes and returns).
	Every time.Duration
	// Until stops Run at this time, after a flush (zero: never).
	Until time.Time
	// FlushEvery lands the spool when its oldest row is this old (default 10m).
	FlushEvery time.Duration
	// FlushRows lands the spool when it holds this many reviews (0: no bound).
	FlushRows int
	// Clock tells the time and sleeps between polls (default: the system clock).
	Clock source.Clock
	// Log receives progress and skipped reviews (default: discarded).
	Log *slog.Logger
}

// Stats counts what a capture did.
type Stats struct {
	Polls    int `json:"polls"`
	Listed   int `json:"listed"`   // reviews in the recent lists
	Fetched  int `json:"fetched"`  // review details fetched and spooled
	Skipped  int `json:"skipped"`  // 404 or malformed: logged and skipped
	Failed   int `json:"failed"`   // other errors: tried again on the next poll
	Batches  int `json:"batches"`  // batches landed
	Landed   int `json:"landed"`   // reviews landed
	Unlanded int `json:"unlanded"` // reviews still spooled when the capture stopped (a flush failed)
}

// Capturer polls the API into the landing zone.
type Capturer struct {
	api   API
	zones *objstore.Store
	opts  Options
	log   *slog.Logger
	clock source.Clock
	lock  *flock.Lock
	// unlock releases Options.Lock (nil when none was taken).
	unlock func() error
	state  State
	spool  *spool

	pending    map[int64]string // spooled, not landed: review id → version
	skipped    map[int64]string // refused in this version (404, malformed): not asked again by this process
	oldest     time.Time        // when the oldest spooled row was captured
	lastFlush  time.Time
	retryFlush time.Time // after a failed flush, not before this
	stats      Stats
	failStreak int
}

// Open opens the capture in opts.Dir: takes its lock (one capture per home),
// imports a state file of an older grpipe into opts.State, and discards a
// spool an earlier process left unflushed.
func Open(ctx context.Context, api API, zones *objstore.Store, opts Options) (*Capturer, error) {
	if opts.Dir == "" {
		return nil, fmt.Errorf("%w: capture: no folder", grpipe.ErrBadInput)
	}
	if opts.State == nil {
		return nil, fmt.Errorf("%w: capture: no state", grpipe.ErrBadInput)
	}
	if opts.FlushEvery <= 0 {
		opts.FlushEvery = 10 * time.Minute
	}
	if opts.FlushRows < 0 {
		return nil, fmt.Errorf("%w: capture: flush rows %d is negative", grpipe.ErrBadInput, opts.FlushRows)
	}
	if opts.Clock == nil {
		opts.Clock = source.RealClock{}
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("capture folder %s: %w", opts.Dir, err)
	}
	c := &Capturer{api: api, zones: zones, opts: opts, log: opts.Log, clock: opts.Clock,
		state: opts.State, pending: map[int64]string{}, skipped: map[int64]string{}}
	var err error
	if c.lock, err = flock.TryLock(filepath.Join(opts.Dir, "capture.lock")); err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	if opts.Lock != nil {
		if c.unlock, err = opts.Lock(ctx); err != nil {
			c.Close()
			return nil, fmt.Errorf("capture: another capture runs on the same metadata database: %w", err)
		}
	}
	if n, err := importStateFile(ctx, c.state, filepath.Join(opts.Dir, StateFile)); err != nil {
		c.Close()
		return nil, err
	} else if n > 0 {
		c.log.Info("imported the capture state file into the run store", "file", filepath.Join(opts.Dir, StateFile), "reviews", n,
			"renamed_to", StateFile+importedSuffix)
	}
	var left int
	if c.spool, left, err = openSpool(filepath.Join(opts.Dir, "spool")); err != nil {
		c.Close()
		return nil, err
	}
	if left > 0 {
		c.log.Warn("discarded the spool an earlier capture left unflushed; its reviews were not marked captured and will be fetched again",
			"reviews", left)
	}
	return c, nil
}

// Close releases the capture without flushing (Run flushes before it returns).
func (c *Capturer) Close() error {
	var errs []error
	if c.spool != nil {
		c.spool.close()
	}
	if c.unlock != nil {
		errs = append(errs, c.unlock())
	}
	if c.lock != nil {
		errs = append(errs, c.lock.Unlock())
	}
	return errors.Join(errs...)
}

// Stats returns the counts so far.
func (c *Capturer) Stats() Stats { return c.stats }

// Spooled returns how many reviews wait in the spool.
func (c *Capturer) Spooled() int { return len(c.pending) }

// Captured returns how many reviews the state holds as landed.
func (c *Capturer) Captured(ctx context.Context) (int64, error) { return c.state.CapturedCount(ctx) }

// flushRetry is the wait before landing again after a failed flush.
const flushRetry = time.Minute

// errAPIDown stops a poll after several reviews in a row failed for reasons
// other than 404 or a malformed answer.
var errAPIDown = errors.New("the API failed for several reviews in a row")

// Poll asks for the recent reviews once and spools each one not yet captured
// in its version. A 404 or a malformed answer for one review is logged and
// skipped; a 401 stops the poll with an error wrapping source.ErrUnauthorized.
func (c *Capturer) Poll(ctx context.Context) error {
	c.stats.Polls++
	recent, err := c.api.RecentReviews(ctx)
	if err != nil {
		return err
	}
	c.stats.Listed += len(recent)
	c.failStreak = 0
	fetched := 0
	for i := range recent {
		if err := ctx.Err(); err != nil {
			return err
		}
		r := &recent[i]
		id, err := strconv.ParseInt(r.ID, 10, 64)
		if err != nil || id < 0 {
			c.log.Warn("recent reviews listed an entry without a valid id; skipped", "id", r.ID)
			c.stats.Skipped++
			continue
		}
		version := r.Version()
		if v, ok := c.pending[id]; ok && v == version {
			continue
		}
		if v, ok := c.skipped[id]; ok && v == version {
			continue
		}
		if v, ok, err := c.state.CapturedVersion(ctx, id); err != nil {
			return err
		} else if ok && v == version {
			continue
		}
		spooled, err := c.fetch(ctx, id, version)
		if err != nil {
			return err
		}
		if spooled {
			fetched++
			if c.opts.FlushRows > 0 && c.spool.rows >= c.opts.FlushRows {
				c.flushIfDue(ctx) // by age only between polls, so a poll's rows stay together
			}
		}
	}
	c.log.Info("polled recent reviews", "listed", len(recent), "new", fetched, "spooled", len(c.pending))
	return nil
}

// fetch gets one review and spools it (version is the one the recent list
// gave, which the next poll compares with). Only errors that should stop the
// poll are returned.
func (c *Capturer) fetch(ctx context.Context, id int64, version string) (spooled bool, err error) {
	r, err := c.api.Review(ctx, id)
	var rec *source.Record
	if err == nil {
		rec, err = r.Map(c.clock.Now())
		if err == nil && rec.ReviewID != id {
			err = fmt.Errorf("%w: asked for review %d, the answer holds review %d", source.ErrMalformed, id, rec.ReviewID)
		}
	}
	switch {
	case err == nil:
	case errors.Is(err, source.ErrUnauthorized):
		return false, err
	case ctx.Err() != nil:
		return false, ctx.Err()
	case errors.Is(err, grpipe.ErrNotFound):
		c.log.Warn("review not found (404); skipped", "review_id", id)
		c.skipped[id] = version
		c.stats.Skipped++
		return false, nil
	case errors.Is(err, source.ErrMalformed):
		c.log.Warn("malformed answer for a review; skipped", "review_id", id, "error", err.Error())
		c.skipped[id] = version
		c.stats.Skipped++
		return false, nil
	default:
		c.log.Error("fetch review; it will be tried again on the next poll", "review_id", id, "error", err.Error())
		c.stats.Failed++
		c.failStreak++
		if c.failStreak >= 3 {
			return false, fmt.Errorf("%w: %w", errAPIDown, err)
		}
		return false, nil
	}
	c.failStreak = 0
	if err := c.spool.add(rec); err != nil {
		return false, err
	}
	if len(c.pending) == 0 {
		c.oldest = c.clock.Now()
	}
	c.pending[id] = version
	c.stats.Fetched++
	return true, nil
}

// Flush lands the spooled rows as one batch (reviews-<stamp>.csv,
// user-<stamp>.csv, author-<stamp>.csv, book-<stamp>.csv; each file lands
// whole or not at all), then marks the batch's reviews captured and empties
// the spool. An empty spool lands nothing.
func (c *Capturer) Flush(ctx context.Context) error {
	if len(c.pending) == 0 {
		return nil
	}
	paths, err := c.spool.sync()
	if err != nil {
		return err
	}
	now := c.clock.Now().UTC().Truncate(time.Microsecond)
	if !now.After(c.lastFlush) {
		now = c.lastFlush.Add(time.Microsecond) // batch names stay unique and ordered
	}
	stamp, err := c.freeStamp(ctx, now)
	if err != nil {
		return err
	}
	// The reviews file lands last, so a run that claims a partial batch
	// still sees the users, books and authors before the reviews naming them.
	for _, e := range []grpipe.Entity{grpipe.Users, grpipe.Authors, grpipe.Books, grpipe.Reviews} {
		name := e.FilePrefix + "-" + stamp + ".csv"
		if err := landing.Put(ctx, c.zones, name, paths[e.Name]); err != nil {
			return fmt.Errorf("land %s: %w (the spool is kept and lands on the next flush)", name, err)
		}
	}
	if err := c.state.MarkCaptured(ctx, stamp, now, c.pending); err != nil {
		return err
	}
	n := len(c.pending)
	c.log.Info("landed a capture batch", "batch", stamp, "reviews", n)
	c.stats.Batches++
	c.stats.Landed += n
	c.lastFlush, _ = time.Parse("20060102T150405.000000Z", stamp)
	c.pending = map[int64]string{}
	return c.spool.reset()
}

// freeStamp returns the batch stamp for a flush at now: now's, or a
// microsecond later while a batch of that name already waits in landing.
func (c *Capturer) freeStamp(ctx context.Context, now time.Time) (string, error) {
	for {
		stamp := now.Format("20060102T150405.000000Z")
		taken := false
		for _, e := range grpipe.Entities() {
			waiting, err := landing.Waiting(ctx, c.zones, e.FilePrefix+"-"+stamp+".csv")
			if err != nil {
				return "", err
			}
			if waiting {
				taken = true
				break
			}
		}
		if !taken {
			return stamp, nil
		}
		now = now.Add(time.Microsecond)
	}
}

// flushIfDue flushes when due; after a failure the spool is kept and
// landing is tried again flushRetry later.
func (c *Capturer) flushIfDue(ctx context.Context) {
	if !c.due() {
		return
	}
	if err := c.Flush(ctx); err != nil {
		c.retryFlush = c.clock.Now().Add(flushRetry)
		c.log.Error("flush failed; the spool is kept and landing is tried again", "error", err.Error(), "in", flushRetry.String())
	}
}

// due reports whether the spool should be flushed now.
func (c *Capturer) due() bool {
	if len(c.pending) == 0 || c.clock.Now().Before(c.retryFlush) {
		return false
	}
	if c.opts.FlushRows > 0 && c.spool.rows >= c.opts.FlushRows {
		return true
	}
	return !c.clock.Now().Before(c.oldest.Add(c.opts.FlushEvery))
}

// Run polls every opts.Every until ctx is done (SIGTERM) or opts.Until
// passes, flushing when due, and always flushes before it returns. With
// Every 0 it polls once. A poll that fails is logged and retried at the next
// tick; a refused key (401) stops at once. With Every 0 a failed poll is
// returned as the error, after the flush.
func (c *Capturer) Run(ctx context.Context) error {
	var pollErr error
	nextPoll := c.clock.Now()
	for {
		now := c.clock.Now()
		if !c.opts.Until.IsZero() && !now.Before(c.opts.Until) {
			break
		}
		if !now.Before(nextPoll) {
			err := c.Poll(ctx)
			if ctx.Err() != nil {
				break
			}
			if err != nil {
				if errors.Is(err, source.ErrUnauthorized) {
					return errors.Join(err, c.finalFlush(ctx))
				}
				c.log.Error("poll failed; trying again at the next one", "error", err.Error())
				pollErr = err
			}
			nextPoll = now.Add(c.opts.Every)
		}
		c.flushIfDue(ctx)
		if c.opts.Every <= 0 {
			break
		}
		// Sleep until the next poll, the next flush, or the end.
		wake := nextPoll
		if len(c.pending) > 0 {
			wake = minTime(wake, maxTime(c.oldest.Add(c.opts.FlushEvery), c.retryFlush))
		}
		if !c.opts.Until.IsZero() {
			wake = minTime(wake, c.opts.Until)
		}
		if err := c.clock.Sleep(ctx, wake.Sub(c.clock.Now())); err != nil {
			break
		}
	}
	err := c.finalFlush(ctx)
	if c.opts.Every <= 0 && pollErr != nil {
		return errors.Join(pollErr, err)
	}
	return err
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// finalFlush flushes even when ctx was cancelled (SIGTERM), within a minute.
func (c *Capturer) finalFlush(ctx context.Context) error {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if err := c.Flush(fctx); err != nil {
		c.stats.Unlanded = len(c.pending)
		return fmt.Errorf("final flush: %w; %d spooled reviews were not landed and will be fetched again by the next capture", err, len(c.pending))
	}
	return nil
}
