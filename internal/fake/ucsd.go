package fake

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/klauspost/compress/gzip"

	grpipe "github.com/grpipe/grpipe"
)

// The record counts of the real UCSD Book Graph dumps.
const (
	RealUCSDReviews = 15_739_967 // goodreads_reviews_dedup.json.gz, 5,343,299,228 bytes
	RealUCSDBooks   = 2_360_655  // goodreads_books.json.gz, 2,043,729,443 bytes
	RealUCSDAuthors = 829_529    // goodreads_book_authors.json.gz, 17,877,585 bytes
	RealUCSDUsers   = 465_323    // distinct users of reviews_dedup
)

// The file names WriteUCSD writes, as published.
const (
	UCSDBooksFile   = "goodreads_books.json.gz"
	UCSDAuthorsFile = "goodreads_book_authors.json.gz"
	UCSDReviewsFile = "goodreads_reviews_dedup.json.gz"
)

// UCSDOptions configure a generated set of UCSD Book Graph dumps.
type UCSDOptions struct {
	// Reviews is the number of review lines; books, authors and users follow
	// the real dumps' proportions to it (at least one of each).
	Reviews int64
	// Seed selects the data; the same seed gives the same bytes.
	Seed uint64
	// Progress, when set, is called with the compressed bytes each block
	// adds, from the generating goroutines (it must be safe for concurrent use).
	Progress func(n int64)
}

// UCSDCounts returns the books, authors and users that go with reviews
// review lines, in the real dumps' proportions.
func UCSDCounts(reviews int64) (books, authors, users int64) {
	scale := func(real int64) int64 { return max(1, int64(float64(reviews)*float64(real)/RealUCSDReviews)) }
	return scale(RealUCSDBooks), scale(RealUCSDAuthors), scale(RealUCSDUsers)
}

// UCSDReviews returns the review lines of UCSD dumps of records reviews,
// or of about size compressed bytes ("7.4GB"); one of them must be given.
func UCSDReviews(records int64, size string) (int64, error) {
	switch {
	case size != "" && records != 0:
		return 0, fmt.Errorf("%w: give --records or --size, not both", grpipe.ErrBadInput)
	case size != "":
		n, err := ParseSize(size)
		if err != nil {
			return 0, err
		}
		return max(1, n/UCSDBytesPerReview), nil
	case records <= 0:
		return 0, fmt.Errorf("%w: give --records N (review lines, N > 0) or --size SIZE (e.g. 7.4GB, the real dumps)", grpipe.ErrBadInput)
	}
	return records, nil
}

// UCSDBytesPerReview is the compressed size of the three dumps per review
// line, measured on this generator (20,000 reviews, seed 7; the real dumps: 470): --size divides by it.
const UCSDBytesPerReview = 442

// WriteUCSD writes the three dumps (books, book_authors, reviews_dedup, gzip
// JSON Lines in the real key order and value conventions) into dir and
// returns their paths. Each file is written by its own goroutine.
func WriteUCSD(ctx context.Context, dir string, opts UCSDOptions) ([]string, error) {
	if opts.Reviews < 0 {
		return nil, fmt.Errorf("%w: reviews %d: give 0 or more", grpipe.ErrBadInput, opts.Reviews)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	books, authors, users := UCSDCounts(opts.Reviews)
	g := ucsdGen{opts: opts, books: books, authors: authors, users: users}
	jobs := []struct {
		name string
		fn   func(context.Context, *ucsdWriter) error
	}{
		{UCSDReviewsFile, g.reviews},
		{UCSDBooksFile, g.booksFile},
		{UCSDAuthorsFile, g.authorsFile},
	}
	paths := make([]string, len(jobs))
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		paths[i] = filepath.Join(dir, j.name)
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = writeGzip(ctx, paths[i], opts.Progress, j.fn)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return paths, nil
}

// GenerateUCSD writes the three dumps to w (reviews, books, authors), each
// a gzip stream: for tests and measurements without files.
func GenerateUCSD(ctx context.Context, opts UCSDOptions, w [3]io.Writer) error {
	books, authors, users := UCSDCounts(opts.Reviews)
	g := ucsdGen{opts: opts, books: books, authors: authors, users: users}
	for i, fn := range []func(context.Context, *ucsdWriter) error{g.reviews, g.booksFile, g.authorsFile} {
		if err := gzipTo(ctx, w[i], opts.Progress, fn); err != nil {
			return err
		}
	}
	return nil
}

// ucsdWriter formats lines into buf and writes them through gzip in large blocks.
type ucsdWriter struct {
	buf []byte
	w   io.Writer
}

func (u *ucsdWriter) flushIfFull(ctx context.Context) error {
	if len(u.buf) < 1<<20 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	_, err := u.w.Write(u.buf)
	u.buf = u.buf[:0]
	return err
}

// progressWriter reports the compressed bytes written.
type progressWriter struct {
	w  io.Writer
	fn func(int64)
}

func (p progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	if p.fn != nil {
		p.fn(int64(n))
	}
	return n, err
}

func gzipTo(ctx context.Context, w io.Writer, progress func(int64), fn func(context.Context, *ucsdWriter) error) error {
	bw := bufio.NewWriterSize(progressWriter{w: w, fn: progress}, 1<<20)
	zw, err := gzip.NewWriterLevel(bw, gzip.DefaultCompression)
	if err != nil {
		return err
	}
	u := &ucsdWriter{buf: make([]byte, 0, 1<<20+64<<10), w: zw}
	if err := fn(ctx, u); err != nil {
		return err
	}
	if _, err := zw.Write(u.buf); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return bw.Flush()
}

func writeGzip(ctx context.Context, path string, progress func(int64), fn func(context.Context, *ucsdWriter) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := gzipTo(ctx, f, progress, fn); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

type ucsdGen struct {
	opts                  UCSDOptions
	books, authors, users int64
}

func (g *ucsdGen) rng(stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(g.opts.Seed, stream))
}

// hexID appends the 32-hex anonymised id of entity kind number n.
func hexID(dst []byte, seed, kind uint64, n int64) []byte {
	const digits = "0123456789abcdef"
	a := mix(seed ^ kind<<56 ^ uint64(n))
	b := mix(a ^ 0x9e3779b97f4a7c15)
	for _, v := range [2]uint64{a, b} {
		for i := 60; i >= 0; i -= 4 {
			dst = append(dst, digits[v>>uint(i)&15])
		}
	}
	return dst
}

// appendJSONString appends s as a JSON string with non-ASCII escaped as
// \uXXXX, as the dumps are written.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			dst = append(dst, '\\', byte(r))
		case r == '\n':
			dst = append(dst, '\\', 'n')
		case r < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[r>>4], hex[r&15])
		case r < utf8.RuneSelf:
			dst = append(dst, byte(r))
		default:
			if r > 0xffff {
				r -= 0x10000
				hi, lo := 0xd800+(r>>10), 0xdc00+(r&0x3ff)
				dst = append(dst, '\\', 'u', hex[hi>>12], hex[hi>>8&15], hex[hi>>4&15], hex[hi&15])
				r = lo
			}
			dst = append(dst, '\\', 'u', hex[r>>12], hex[r>>8&15], hex[r>>4&15], hex[r&15])
		}
	}
	return append(dst, '"')
}

func appendKey(dst []byte, first bool, key string) []byte {
	if !first {
		dst = append(dst, ", "...)
	}
	dst = append(dst, '"')
	dst = append(dst, key...)
	return append(dst, "\": "...)
}

func appendStrNum(dst []byte, v int64) []byte {
	dst = append(dst, '"')
	dst = strconv.AppendInt(dst, v, 10)
	return append(dst, '"')
}

// words appends n words of a locale's vocabulary, with sentence ends.
func appendWords(dst []byte, r *rand.Rand, loc locale, n int) []byte {
	for i := 0; i < n; i++ {
		if i > 0 {
			if r.IntN(12) == 0 {
				dst = append(dst, loc.stop...)
				if r.IntN(4) == 0 {
					dst = append(dst, " \n "...)
				}
			} else {
				dst = append(dst, loc.space...)
			}
		}
		dst = append(dst, loc.words[r.IntN(len(loc.words))]...)
	}
	return append(dst, loc.stop...)
}

var (
	ucsdStart = time.Date(2007, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	ucsdEnd   = time.Date(2017, 11, 1, 0, 0, 0, 0, time.UTC).Unix()
	pacific   = time.FixedZone("", -7*3600)
)

func appendDate(dst []byte, unix int64) []byte {
	dst = append(dst, '"')
	dst = time.Unix(unix, 0).In(pacific).AppendFormat(dst, "Mon Jan 02 15:04:05 -0700 2006")
	return append(dst, '"')
}

// reviews writes goodreads_reviews_dedup: user_id, book_id, review_id,
// rating (int), review_text, date_added, date_updated, read_at, started_at,
// n_votes, n_comments (ints).
func (g *ucsdGen) reviews(ctx context.Context, u *ucsdWriter) error {
	r := g.rng(1)
	var text []byte
	for i := int64(0); i < g.opts.Reviews; i++ {
		user := r.Int64N(g.users)
		book := 1 + r.Int64N(g.books)
		loc := locales[localeWeights[r.IntN(len(localeWeights))]]
		if r.IntN(10) != 0 {
			loc = locales[0]
		}
		b := append(u.buf, '{')
		b = appendKey(b, true, "user_id")
		b = append(b, '"')
		b = hexID(b, g.opts.Seed, 1, user)
		b = append(b, '"')
		b = appendKey(b, false, "book_id")
		b = appendStrNum(b, book)
		b = appendKey(b, false, "review_id")
		b = append(b, '"')
		b = hexID(b, g.opts.Seed, 2, i)
		b = append(b, '"')
		b = appendKey(b, false, "rating")
		b = strconv.AppendInt(b, int64(r.IntN(6)), 10)
		b = appendKey(b, false, "review_text")
		text = appendWords(text[:0], r, loc, 10+r.IntN(220))
		if r.IntN(40) == 0 {
			text = append(text, " (view spoiler)[the keeper drew the map (hide spoiler)]"...)
		}
		b = appendJSONString(b, string(text))
		added := ucsdStart + r.Int64N(ucsdEnd-ucsdStart)
		updated := added + r.Int64N(max(1, min(ucsdEnd-added, 400*86400)))
		b = appendKey(b, false, "date_added")
		b = appendDate(b, added)
		b = appendKey(b, false, "date_updated")
		b = appendDate(b, updated)
		b = appendKey(b, false, "read_at")
		if r.IntN(3) == 0 {
			b = append(b, `""`...)
		} else {
			b = appendDate(b, updated-r.Int64N(86400))
		}
		b = appendKey(b, false, "started_at")
		b = append(b, `""`...)
		b = appendKey(b, false, "n_votes")
		b = strconv.AppendInt(b, int64(r.IntN(8)*r.IntN(3)), 10)
		b = appendKey(b, false, "n_comments")
		b = strconv.AppendInt(b, int64(r.IntN(3)*r.IntN(2)), 10)
		b = append(b, "}\n"...)
		u.buf = b
		if err := u.flushIfFull(ctx); err != nil {
			return err
		}
	}
	return nil
}

// booksFile writes goodreads_books: 29 keys, every scalar a string.
func (g *ucsdGen) booksFile(ctx context.Context, u *ucsdWriter) error {
	r := g.rng(2)
	var text []byte
	for id := int64(1); id <= g.books; id++ {
		loc := locales[0]
		title := titles[r.IntN(len(titles))]
		b := append(u.buf, '{')
		b = appendKey(b, true, "isbn")
		b = appendStrNum(b, 100000000+r.Int64N(900000000))
		b = appendKey(b, false, "text_reviews_count")
		b = appendStrNum(b, r.Int64N(300))
		b = appendKey(b, false, "series")
		if r.IntN(3) == 0 {
			b = append(b, '[')
			b = appendStrNum(b, 1+r.Int64N(400000))
			b = append(b, ']')
		} else {
			b = append(b, "[]"...)
		}
		b = appendKey(b, false, "country_code")
		b = append(b, `"US"`...)
		b = appendKey(b, false, "language_code")
		b = append(b, []string{`"eng"`, `"en-US"`, `""`, `"ita"`}[r.IntN(4)]...)
		b = appendKey(b, false, "popular_shelves")
		b = append(b, '[')
		n := 1 + r.IntN(100)
		count := 1 + r.Int64N(5000)
		for s := 0; s < n; s++ {
			if s > 0 {
				b = append(b, ", "...)
			}
			b = append(b, `{"count": `...)
			b = appendStrNum(b, count)
			count = count * int64(50+r.IntN(50)) / 100
			b = append(b, `, "name": `...)
			shelf := shelfNames[r.IntN(len(shelfNames))]
			if r.IntN(2) == 0 { // members' own shelf names vary widely
				shelf += "-" + strconv.Itoa(r.IntN(3000))
			}
			b = appendJSONString(b, shelf)
			b = append(b, '}')
		}
		b = append(b, ']')
		b = appendKey(b, false, "asin")
		b = append(b, `""`...)
		b = appendKey(b, false, "is_ebook")
		b = append(b, []string{`"false"`, `"true"`}[r.IntN(2)]...)
		b = appendKey(b, false, "average_rating")
		b = append(b, '"')
		b = strconv.AppendFloat(b, 2.5+float64(r.IntN(250))/100, 'f', 2, 64)
		b = append(b, '"')
		b = appendKey(b, false, "kindle_asin")
		b = append(b, `""`...)
		b = appendKey(b, false, "similar_books")
		b = append(b, '[')
		for s := 0; s < r.IntN(18); s++ {
			if s > 0 {
				b = append(b, ", "...)
			}
			b = appendStrNum(b, 1+r.Int64N(g.books))
		}
		b = append(b, ']')
		b = appendKey(b, false, "description")
		text = appendWords(text[:0], r, loc, r.IntN(300))
		b = appendJSONString(b, string(text))
		b = appendKey(b, false, "format")
		b = appendJSONString(b, formats[r.IntN(len(formats))])
		slug := asciiSlug(title, true)
		b = appendKey(b, false, "link")
		link := len(b)
		b = append(b, `"https://www.goodreads.com/book/show/`...)
		b = strconv.AppendInt(b, id, 10)
		b = append(b, '-')
		b = append(b, slug...)
		b = append(b, '"')
		linkText := string(b[link:])
		b = appendKey(b, false, "authors")
		b = append(b, '[')
		for a := 0; a < 1+r.IntN(2)*r.IntN(3); a++ {
			if a > 0 {
				b = append(b, ", "...)
			}
			b = append(b, `{"author_id": `...)
			b = appendStrNum(b, 1+r.Int64N(g.authors))
			b = append(b, `, "role": `...)
			b = appendJSONString(b, roles[r.IntN(len(roles))])
			b = append(b, '}')
		}
		b = append(b, ']')
		b = appendKey(b, false, "publisher")
		b = appendJSONString(b, publishers[r.IntN(len(publishers))])
		b = appendKey(b, false, "num_pages")
		b = appendStrNum(b, 40+r.Int64N(900))
		year, month, day := 1950+r.Int64N(68), 1+r.Int64N(12), 1+r.Int64N(28)
		b = appendKey(b, false, "publication_day")
		b = appendStrNum(b, day)
		b = appendKey(b, false, "isbn13")
		b = appendStrNum(b, 9780000000000+r.Int64N(10000000000))
		b = appendKey(b, false, "publication_month")
		b = appendStrNum(b, month)
		b = appendKey(b, false, "edition_information")
		b = appendJSONString(b, editions[r.IntN(len(editions))])
		b = appendKey(b, false, "publication_year")
		b = appendStrNum(b, year)
		b = appendKey(b, false, "url")
		b = append(b, linkText...)
		b = appendKey(b, false, "image_url")
		b = append(b, `"https://images.gr-assets.com/books/1300000000m/`...)
		b = strconv.AppendInt(b, id, 10)
		b = append(b, `.jpg"`...)
		b = appendKey(b, false, "book_id")
		b = appendStrNum(b, id)
		b = appendKey(b, false, "ratings_count")
		b = appendStrNum(b, r.Int64N(20000))
		b = appendKey(b, false, "work_id")
		b = appendStrNum(b, 1+r.Int64N(1_500_000))
		b = appendKey(b, false, "title")
		b = appendJSONString(b, title)
		b = appendKey(b, false, "title_without_series")
		b = appendJSONString(b, title)
		b = append(b, "}\n"...)
		u.buf = b
		if err := u.flushIfFull(ctx); err != nil {
			return err
		}
	}
	return nil
}

var shelfNames = []string{"to-read", "currently-reading", "fiction", "favorites", "fantasy", "owned", "books-i-own",
	"classics", "romance", "young-adult", "mystery", "history", "non-fiction", "kindle", "library", "audiobook",
	"science-fiction", "literary-fiction", "thriller", "book-club", "default", "series", "adult", "poetry", "did-not-finish"}

// authorsFile writes goodreads_book_authors: 5 keys, all strings.
func (g *ucsdGen) authorsFile(ctx context.Context, u *ucsdWriter) error {
	r := g.rng(3)
	for id := int64(1); id <= g.authors; id++ {
		loc := locales[localeWeights[r.IntN(len(localeWeights))]]
		b := append(u.buf, '{')
		b = appendKey(b, true, "average_rating")
		b = append(b, '"')
		b = strconv.AppendFloat(b, 2.5+float64(r.IntN(250))/100, 'f', 2, 64)
		b = append(b, '"')
		b = appendKey(b, false, "author_id")
		b = appendStrNum(b, id)
		b = appendKey(b, false, "text_reviews_count")
		b = appendStrNum(b, r.Int64N(2000))
		b = appendKey(b, false, "name")
		f, l := loc.firsts[r.IntN(len(loc.firsts))], loc.lasts[r.IntN(len(loc.lasts))]
		b = appendJSONString(b, f.first+" "+l.last)
		b = appendKey(b, false, "ratings_count")
		b = appendStrNum(b, r.Int64N(50000))
		b = append(b, "}\n"...)
		u.buf = b
		if err := u.flushIfFull(ctx); err != nil {
			return err
		}
	}
	return nil
}

// UCSDJob is one `grpipe fake --format ucsd`: the three dumps of Records
// reviews, or of about Size compressed bytes, into Out.
type UCSDJob struct {
	Out     string
	Records int64
	Size    string
	Seed    uint64
	// Progress, when set, is given the expected bytes and returns the
	// progress callback and a function that ends it.
	Progress func(total int64) (add func(int64), stop func())
}

// UCSDResult is what a UCSDJob wrote.
type UCSDResult struct {
	Reviews, Users, Books, Authors int64
	// Bytes is the compressed size of the dumps.
	Bytes int64
	Paths []string
	// Seconds is how long writing them took.
	Seconds float64
}

// Run writes the dumps.
func (j UCSDJob) Run(ctx context.Context) (UCSDResult, error) {
	start := time.Now()
	reviews, err := UCSDReviews(j.Records, j.Size)
	if err != nil {
		return UCSDResult{}, err
	}
	o := UCSDOptions{Reviews: reviews, Seed: j.Seed}
	stop := func() {}
	if j.Progress != nil {
		o.Progress, stop = j.Progress(reviews * UCSDBytesPerReview)
	}
	paths, err := WriteUCSD(ctx, j.Out, o)
	stop()
	r := UCSDResult{Reviews: reviews, Paths: paths, Seconds: time.Since(start).Seconds()}
	r.Books, r.Authors, r.Users = UCSDCounts(reviews)
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil {
			r.Bytes += fi.Size()
		}
	}
	return r, err
}
