// Package fake generates seed-shaped Goodreads data: the four CSV files of
// the original goodreadsfaker (reviews, user, author, book), one row in each
// file per review record, deterministically from a seed.
//
// The same options give byte-identical files. review_id is uniform in
// [0, ReviewIDs), user, book and author ids in [0, UserIDs) etc.; a row's
// names, titles and URLs follow from its id, its counts and texts vary from
// row to row; record_create_timestamp increases through a batch, and later
// batches have later timestamps. With a dirty rate, broken rows of the kinds
// the pipeline quarantines are mixed in and counted in a Manifest.
//
// The four files are written by four goroutines; each formats rows into a
// large buffer by hand (no fmt) and writes it in big blocks.
package fake

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/landing"
	"github.com/grpipe/grpipe/internal/objstore"
)

// Defaults of the id ranges, as in the original generator.
const (
	DefaultReviewIDs = 10_000_000
	DefaultEntityIDs = 100_000
)

// Options configure one batch.
type Options struct {
	// Records is the number of review records: each yields one row in each file.
	Records int64
	// Seed selects the data; the same seed gives the same bytes.
	Seed uint64
	// Batch is the batch's index (0 for the first): batch k's timestamps
	// follow batch k-1's, and its ids overlap the earlier batches'.
	Batch int
	// ReviewIDs, UserIDs, BookIDs and AuthorIDs bound the ids: [0, n). Zero means the default.
	ReviewIDs, UserIDs, BookIDs, AuthorIDs int64
	// DirtyRate is the share of rows, in each file, replaced by a broken row.
	DirtyRate float64
	// Progress, when set, is called with the number of bytes each block adds,
	// from the generating goroutines (it must be safe for concurrent use).
	Progress func(n int64)
}

func (o *Options) defaults() {
	if o.ReviewIDs == 0 {
		o.ReviewIDs = DefaultReviewIDs
	}
	for _, p := range []*int64{&o.UserIDs, &o.BookIDs, &o.AuthorIDs} {
		if *p == 0 {
			*p = DefaultEntityIDs
		}
	}
}

// Validate reports an option out of range.
func (o Options) Validate() error {
	if o.Records < 0 {
		return fmt.Errorf("%w: records %d: give a number of records of 0 or more", grpipe.ErrBadInput, o.Records)
	}
	if o.Batch < 0 {
		return fmt.Errorf("%w: batch %d is negative", grpipe.ErrBadInput, o.Batch)
	}
	for name, v := range map[string]int64{"review ids": o.ReviewIDs, "user ids": o.UserIDs, "book ids": o.BookIDs, "author ids": o.AuthorIDs} {
		if v < 0 {
			return fmt.Errorf("%w: the range of %s must be positive, not %d", grpipe.ErrBadInput, name, v)
		}
	}
	if math.IsNaN(o.DirtyRate) || o.DirtyRate < 0 || o.DirtyRate > 1 {
		return fmt.Errorf("%w: dirty rate %v: give a share between 0 and 1 (e.g. 0.001)", grpipe.ErrBadInput, o.DirtyRate)
	}
	return nil
}

// Sized returns the options of a batch of size bytes ("1.2GB", "500MB";
// "" keeps o.Records), refusing both a size and a number of records, or
// neither, and negative id ranges (0 takes the default range); the errors
// name the flags of grpipe fake and grpipe bench.
func (o Options) Sized(ctx context.Context, size string) (Options, error) {
	for name, v := range map[string]int64{"--review-ids": o.ReviewIDs, "--user-ids": o.UserIDs, "--book-ids": o.BookIDs, "--author-ids": o.AuthorIDs} {
		if v < 0 {
			return o, fmt.Errorf("%w: %s %d: give a positive number", grpipe.ErrBadInput, name, v)
		}
	}
	switch {
	case size != "" && o.Records != 0:
		return o, fmt.Errorf("%w: give --records or --size, not both", grpipe.ErrBadInput)
	case size != "":
		n, err := ParseSize(size)
		if err != nil {
			return o, err
		}
		if o.Records, err = RecordsForSize(ctx, n, o); err != nil {
			return o, err
		}
	case o.Records <= 0:
		return o, fmt.Errorf("%w: give --records N (N > 0) or --size SIZE (e.g. 1.2GB)", grpipe.ErrBadInput)
	}
	return o, o.Validate()
}

// FileReport is what was written to one file.
type FileReport struct {
	// Name is the file's base name (reviews-1.csv).
	Name string `json:"name"`
	// Entity is the entity's table name (reviews, users, authors, books).
	Entity string `json:"entity"`
	// Rows counts data rows, broken ones included; Bytes the file's size.
	Rows  int64 `json:"rows"`
	Bytes int64 `json:"bytes"`
	// Dirty counts the broken rows by kind.
	Dirty map[string]int64 `json:"dirty"`
}

// Manifest describes a generated batch.
type Manifest struct {
	Seed      uint64       `json:"seed"`
	Batch     int          `json:"batch"`
	Records   int64        `json:"records"`
	DirtyRate float64      `json:"dirty_rate"`
	ReviewIDs int64        `json:"review_ids"`
	UserIDs   int64        `json:"user_ids"`
	BookIDs   int64        `json:"book_ids"`
	AuthorIDs int64        `json:"author_ids"`
	Bytes     int64        `json:"bytes"`
	Files     []FileReport `json:"files"`
}

// Matches reports whether m describes the batch opts would generate.
func (m *Manifest) Matches(opts Options) bool {
	opts.defaults()
	return m.Seed == opts.Seed && m.Batch == opts.Batch && m.Records == opts.Records && m.DirtyRate == opts.DirtyRate &&
		m.ReviewIDs == opts.ReviewIDs && m.UserIDs == opts.UserIDs && m.BookIDs == opts.BookIDs && m.AuthorIDs == opts.AuthorIDs
}

// Dirty returns the broken rows of entity (a table name) by kind.
func (m *Manifest) Dirty(entity string) map[string]int64 {
	out := map[string]int64{}
	for _, f := range m.Files {
		if f.Entity == entity {
			for k, v := range f.Dirty {
				out[k] += v
			}
		}
	}
	return out
}

// blockSize is how much a generator formats before it writes.
const blockSize = 4 << 20

// Generate writes one batch: w[i] receives the CSV file of grpipe.Entities()[i]
// (reviews, users, authors, books), header first. The files are generated
// concurrently. File names in the manifest are left empty.
func Generate(ctx context.Context, opts Options, w [4]io.Writer) (*Manifest, error) {
	opts.defaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	m := &Manifest{Seed: opts.Seed, Batch: opts.Batch, Records: opts.Records, DirtyRate: opts.DirtyRate,
		ReviewIDs: opts.ReviewIDs, UserIDs: opts.UserIDs, BookIDs: opts.BookIDs, AuthorIDs: opts.AuthorIDs}
	ents := grpipe.Entities()
	m.Files = make([]FileReport, len(ents))
	errs := make([]error, len(ents))
	t := buildSeeded(opts.Seed)
	var wg sync.WaitGroup
	for i, e := range ents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			g := newGen(opts, i, t)
			errs[i] = g.run(ctx, e, w[i])
			m.Files[i] = FileReport{Entity: e.Name, Rows: g.rows, Bytes: g.written, Dirty: g.dirtyCounts()}
		}()
	}
	wg.Wait()
	for _, f := range m.Files {
		m.Bytes += f.Bytes
	}
	return m, errors.Join(errs...)
}

// BatchNumbers returns the numbers of count batches numbered from first;
// first 0 numbers several batches from 1, and leaves a single batch 0 (its
// files are the plain reviews.csv, ...).
func BatchNumbers(first, count int) []int {
	if first == 0 && count > 1 {
		first = 1
	}
	nums := make([]int, count)
	for i := range nums {
		nums[i] = first + i
	}
	return nums
}

// FileName returns the landing file name of entity e in a batch named name
// ("" for the plain reviews.csv).
func FileName(e grpipe.Entity, name string) string {
	if name == "" {
		return e.FilePrefix + ".csv"
	}
	return e.FilePrefix + "-" + name + ".csv"
}

// WriteBatch writes one batch into dir as the four files FileName(e, name),
// each written to a temporary name and renamed when complete, and returns
// their paths and the manifest (with file names).
func WriteBatch(ctx context.Context, dir, name string, opts Options) ([]string, *Manifest, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, fmt.Errorf("fake: %w", err)
	}
	ents := grpipe.Entities()
	var ws [4]io.Writer
	files := make([]*os.File, len(ents))
	paths := make([]string, len(ents))
	cleanup := func() {
		for _, f := range files {
			if f != nil {
				f.Close()
				os.Remove(f.Name())
			}
		}
	}
	for i, e := range ents {
		paths[i] = filepath.Join(dir, FileName(e, name))
		f, err := os.CreateTemp(dir, "."+FileName(e, name)+".*.tmp")
		if err != nil {
			cleanup()
			return nil, nil, fmt.Errorf("fake: %w", err)
		}
		if err := f.Chmod(0o644); err != nil {
			f.Close()
			os.Remove(f.Name())
			cleanup()
			return nil, nil, fmt.Errorf("fake: %w", err)
		}
		files[i], ws[i] = f, f
	}
	m, err := Generate(ctx, opts, ws)
	if err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("fake: %w", err)
	}
	for i, f := range files {
		if err := f.Close(); err != nil {
			cleanup()
			return nil, nil, fmt.Errorf("fake: write %s: %w", paths[i], err)
		}
	}
	for i, f := range files {
		if err := os.Rename(f.Name(), paths[i]); err != nil {
			cleanup()
			return nil, nil, fmt.Errorf("fake: %w", err)
		}
		files[i] = nil
		m.Files[i].Name = filepath.Base(paths[i])
	}
	return paths, m, nil
}

// Land writes one batch straight into the landing zone as the four files
// FileName(e, name), each published whole when complete, and returns the
// manifest. A name already waiting there is refused (landing.ErrWaiting).
func Land(ctx context.Context, zones *objstore.Store, name string, opts Options) (*Manifest, error) {
	ents := grpipe.Entities()
	names := make([]string, len(ents))
	for i, e := range ents {
		names[i] = FileName(e, name)
	}
	b, err := landing.Create(ctx, zones, names)
	if err != nil {
		return nil, err
	}
	var ws [4]io.Writer
	for i := range ents {
		ws[i] = b.Writer(i)
	}
	m, err := Generate(ctx, opts, ws)
	if err != nil {
		b.Abort()
		return nil, err
	}
	for i := range m.Files {
		m.Files[i].Name = names[i]
	}
	return m, b.Commit()
}

// counter counts bytes written.
type counter struct{ n int64 }

func (c *counter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// RecordsForSize returns the number of records whose batch is about size
// bytes, measured on a sample of the batch that opts describes.
func RecordsForSize(ctx context.Context, size int64, opts Options) (int64, error) {
	if size <= 0 {
		return 0, fmt.Errorf("%w: size %d: give a size such as 1.2GB", grpipe.ErrBadInput, size)
	}
	header, per, err := measure(ctx, opts)
	if err != nil {
		return 0, err
	}
	return max(int64(math.Round(float64(size-header)/per)), 1), nil
}

// EstimateBytes returns about how many bytes the batch opts describes holds.
func EstimateBytes(ctx context.Context, opts Options) (int64, error) {
	header, per, err := measure(ctx, opts)
	if err != nil {
		return 0, err
	}
	return header + int64(per*float64(opts.Records)), nil
}

// measure generates a sample of the batch and returns the size of the
// headers and the mean bytes per record.
func measure(ctx context.Context, opts Options) (int64, float64, error) {
	const sample = 20_000
	o := opts
	o.Records, o.Progress = sample, nil
	var cs [4]counter
	m, err := Generate(ctx, o, [4]io.Writer{&cs[0], &cs[1], &cs[2], &cs[3]})
	if err != nil {
		return 0, 0, err
	}
	var header int64
	for _, e := range grpipe.Entities() {
		header += int64(len(csvHeader(e)))
	}
	return header, float64(m.Bytes-header) / sample, nil
}

// ParseSize parses a size such as 11.4GB, 500MB, 2GiB or 1000000 (bytes).
// KB, MB, GB, TB are powers of 1000; KiB, MiB, GiB, TiB powers of 1024.
func ParseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   float64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {"B", 1}}
	num, mult := s, 1.0
	for _, u := range units {
		if len(s) > len(u.suffix) && equalFold(s[len(s)-len(u.suffix):], u.suffix) {
			num, mult = s[:len(s)-len(u.suffix)], u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v <= 0 || math.IsInf(v, 0) || v*mult > math.MaxInt64/2 {
		return 0, fmt.Errorf("%w: size %q: give a positive size such as 11.4GB, 500MB or 2GiB", grpipe.ErrBadInput, s)
	}
	return int64(v * mult), nil
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i]|0x20, b[i]|0x20
		if x != y {
			return false
		}
	}
	return true
}

// The first record_create_timestamp of batch 0, as in the seed's sample:
// 2020-02-19 21:38:16.690535 UTC, in microseconds since the epoch.
var baseMicros = time.Date(2020, 2, 19, 21, 38, 16, 690535000, time.UTC).UnixMicro()

// batchSpan is the time a batch covers (the original made one batch every 10 minutes).
const batchSpan = int64(10 * time.Minute / time.Microsecond)

// gen generates one file.
type gen struct {
	opts Options
	file int // index in grpipe.Entities()
	t    *seeded
	keys *rand.PCG
	rnd  *rand.PCG
	pool uint64 // random bits not yet used
	left int    // bytes of randomness left in pool
	buf  []byte

	rows, written int64
	dirty         [numKinds]int64
	dirtyCut      uint64 // a row is broken when a draw is below this

	start, step int64 // timestamps: start + i*step + jitter
	lastSec     int64
	secText     [19]byte // "YYYY-MM-DD HH:MM:SS" of lastSec

	// earlier is, in batches after the first, review ids of the first batch:
	// a quarter of a later batch's reviews are new versions of them.
	earlier []int64

	// per-record keys
	reviewID, userID, bookID, authorID int64
	ts                                 int64
	loc                                *locale
	aux                                uint64
}

func newGen(opts Options, file int, t *seeded) *gen {
	batch := uint64(opts.Batch)
	g := &gen{
		opts: opts,
		file: file,
		t:    t,
		// Every file draws the same key sequence, so row i of each file
		// belongs to record i; each file has its own stream for the rest.
		keys:    rand.NewPCG(opts.Seed, 0x9e3779b97f4a7c15^batch),
		rnd:     rand.NewPCG(opts.Seed^0x5851f42d4c957f2d, uint64(file)+1+batch<<8),
		buf:     make([]byte, 0, blockSize+64<<10),
		lastSec: math.MinInt64,
	}
	if opts.DirtyRate > 0 {
		g.dirtyCut = uint64(math.Min(opts.DirtyRate*(1<<64), math.MaxUint64))
		if opts.DirtyRate >= 1 {
			g.dirtyCut = math.MaxUint64
		}
	}
	if opts.Batch >= 1 {
		g.earlier = firstBatchReviewIDs(opts)
	}
	n := max(opts.Records, 1)
	g.step = max(batchSpan/n, 1)
	span := max(batchSpan, g.step*n)
	g.start = baseMicros + int64(opts.Batch)*span
	return g
}

func (g *gen) run(ctx context.Context, e grpipe.Entity, w io.Writer) error {
	g.buf = append(g.buf, csvHeader(e)...)
	for i := int64(0); i < g.opts.Records; i++ {
		g.nextKeys(i)
		kind := kindNone
		if g.dirtyCut > 0 && g.rnd.Uint64() < g.dirtyCut {
			ks := kindsFor[g.file]
			kind = ks[g.intn(len(ks))]
			g.dirty[kind]++
		}
		switch g.file {
		case 0:
			g.review(kind)
		case 1:
			g.user(kind)
		case 2:
			g.author(kind)
		case 3:
			g.book(kind)
		}
		g.rows++
		if len(g.buf) >= blockSize {
			if err := g.flush(w); err != nil {
				return err
			}
			if err := ctx.Err(); err != nil {
				return err
			}
		}
	}
	return g.flush(w)
}

func (g *gen) flush(w io.Writer) error {
	if len(g.buf) == 0 {
		return nil
	}
	n, err := w.Write(g.buf)
	g.written += int64(n)
	if g.opts.Progress != nil {
		g.opts.Progress(int64(n))
	}
	g.buf = g.buf[:0]
	return err
}

func csvHeader(e grpipe.Entity) string {
	var b []byte
	for i, c := range e.Columns {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, c.Name...)
	}
	return string(append(b, '\n'))
}

func (g *gen) dirtyCounts() map[string]int64 {
	out := map[string]int64{}
	for k, n := range g.dirty {
		if n > 0 {
			out[kindNames[k]] = n
		}
	}
	return out
}

// nextKeys draws record i's shared values from the key stream.
func (g *gen) nextKeys(i int64) {
	k := g.keys
	g.reviewID = below(k.Uint64(), g.opts.ReviewIDs)
	g.userID = below(k.Uint64(), g.opts.UserIDs)
	g.bookID = below(k.Uint64(), g.opts.BookIDs)
	g.authorID = below(k.Uint64(), g.opts.AuthorIDs)
	a := k.Uint64()
	g.ts = g.start + i*g.step + int64(below(a, g.step))
	g.aux = k.Uint64()
	g.loc = &locales[localeWeights[g.aux&15]]
	if len(g.earlier) > 0 && (g.aux>>4)&3 == 0 {
		g.reviewID = g.earlier[below(g.aux*0x9e3779b97f4a7c15, int64(len(g.earlier)))]
	}
}

// firstBatchReviewIDs replays the first batch's key stream (the draws of
// nextKeys) and returns the review ids of its first records (at most 1 M).
func firstBatchReviewIDs(opts Options) []int64 {
	n := min(opts.Records, 1_000_000)
	k := rand.NewPCG(opts.Seed, 0x9e3779b97f4a7c15)
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = below(k.Uint64(), opts.ReviewIDs)
		for range 5 { // user, book, author, timestamp jitter, aux
			k.Uint64()
		}
	}
	return ids
}

// below maps a uniform 64-bit value to [0, n).
func below(v uint64, n int64) int64 {
	hi, _ := bits.Mul64(v, uint64(n))
	return int64(hi)
}

// byte returns 8 random bits from the file's own stream.
func (g *gen) byte() uint64 {
	if g.left == 0 {
		g.pool, g.left = g.rnd.Uint64(), 8
	}
	b := g.pool & 0xff
	g.pool >>= 8
	g.left--
	return b
}

// intn returns a random int in [0, n) for n <= 256.
func (g *gen) intn(n int) int { return int(g.byte() * uint64(n) >> 8) }

// upto returns a random int in [0, n) for any n > 0.
func (g *gen) upto(n int64) int64 { return below(g.rnd.Uint64(), n) }

// mix is a stable hash of an id, for the attributes that follow from it.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

func pick[T any](list []T, h uint64) T { return list[below(h, int64(len(list)))] }
