package source

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/xml"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/httpserver"
)

// ReplayOptions tune a Replay server; the zero value (or nil) means the defaults.
type ReplayOptions struct {
	// Key is the one key accepted; empty accepts any non-empty key.
	Key string
	// RateLimit is the most calls per second before answering 429 (0: no limit).
	RateLimit float64
	// Recent is how many reviews recent_reviews returns (default 20).
	Recent int
	// Step is how many new reviews "arrive" between two recent_reviews calls
	// (default Recent/4, at least 1).
	Step int
	// Now tells the time (default time.Now); the rate limit uses it.
	Now func() time.Time
	// Log receives one line per refused call (default: discarded).
	Log *slog.Logger
}

// Replay serves the two API calls in the Goodreads XML shape from CSV files
// (reviews.csv, user.csv, author.csv, book.csv, as the sample data or `grpipe
// fake` write them). Each review is joined to its user, book and author by
// id, the latest version of each (by record_create_timestamp).
//
// recent_reviews returns a window of Recent reviews, newest first, that moves
// Step reviews further on each call, so new reviews arrive over time. After
// the last review it starts again from the first, each lap presenting every
// review as updated (date_updated one minute later per lap): a new version to
// capture.
type Replay struct {
	opts    ReplayOptions
	reviews []map[string]string // by review_added_date, oldest first
	users   map[string]map[string]string
	books   map[string]map[string]string
	authors map[string]map[string]string
	byID    map[string]int

	mu     sync.Mutex
	pos    int            // total reviews arrived so far (across laps)
	lap    map[string]int // the lap a review was last listed in
	tokens float64
	last   time.Time
}

// NewReplay loads the four CSV files in dir.
func NewReplay(dir string, opts *ReplayOptions) (*Replay, error) {
	var o ReplayOptions
	if opts != nil {
		o = *opts
	}
	if o.Recent < 0 || o.Step < 0 {
		return nil, fmt.Errorf("%w: --recent must be positive and --step not negative", grpipe.ErrBadInput)
	}
	if o.Recent <= 0 {
		o.Recent = 20
	}
	if o.Step <= 0 {
		o.Step = max(1, o.Recent/4)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.RateLimit < 0 || math.IsNaN(o.RateLimit) || math.IsInf(o.RateLimit, 0) {
		return nil, fmt.Errorf("%w: rate limit %v: give a number of calls per second, 0 for none", grpipe.ErrBadInput, o.RateLimit)
	}
	r := &Replay{opts: o, lap: map[string]int{}, byID: map[string]int{}, tokens: max(1, o.RateLimit)}
	files, err := filepath.Glob(filepath.Join(dir, "*.csv"))
	if err != nil {
		return nil, fmt.Errorf("%w: replay data %s: %w", grpipe.ErrBadInput, dir, err)
	}
	byEntity := map[string][]string{}
	for _, f := range files {
		if e, err := grpipe.EntityForFile(f); err == nil {
			byEntity[e.Name] = append(byEntity[e.Name], f)
		}
	}
	maps := map[string]map[string]map[string]string{}
	for _, e := range grpipe.Entities() {
		if len(byEntity[e.Name]) == 0 {
			return nil, fmt.Errorf("%w: replay data %s has no %s.csv (the folder needs reviews.csv, user.csv, author.csv and book.csv, or their batch variants such as reviews-1.csv)",
				grpipe.ErrBadInput, dir, e.FilePrefix)
		}
		m := map[string]map[string]string{}
		for _, f := range byEntity[e.Name] {
			if err := loadLatest(f, e, m); err != nil {
				return nil, err
			}
		}
		maps[e.Name] = m
	}
	rv := maps[grpipe.Reviews.Name]
	r.users, r.books, r.authors = maps[grpipe.Users.Name], maps[grpipe.Books.Name], maps[grpipe.Authors.Name]
	if len(rv) == 0 {
		return nil, fmt.Errorf("%w: replay data %s holds no reviews", grpipe.ErrBadInput, dir)
	}
	for _, row := range rv {
		r.reviews = append(r.reviews, row)
	}
	sort.Slice(r.reviews, func(i, j int) bool {
		a, b := r.reviews[i], r.reviews[j]
		ta, tb := goodreadsTime(a["review_added_date"]), goodreadsTime(b["review_added_date"])
		if !ta.Equal(tb) {
			return ta.Before(tb)
		}
		return a["review_id"] < b["review_id"]
	})
	for i, row := range r.reviews {
		r.byID[row["review_id"]] = i
	}
	// A window never holds a review twice.
	r.opts.Recent = min(r.opts.Recent, len(r.reviews))
	r.opts.Step = min(r.opts.Step, len(r.reviews))
	return r, nil
}

// Len returns how many reviews the server holds.
func (r *Replay) Len() int { return len(r.reviews) }

// goodreadsTime parses "Wed Feb 19 18:36:17 -0800 2020"; zero if it does not.
func goodreadsTime(s string) time.Time {
	t, err := time.Parse("Mon Jan 02 15:04:05 -0700 2006", s)
	if err != nil {
		t, _ = time.Parse("Mon Jan _2 15:04:05 -0700 2006", s)
	}
	return t
}

// loadLatest reads an entity's CSV file into out, keeping the latest version of each id.
func loadLatest(path string, e grpipe.Entity, out map[string]map[string]string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("%w: replay data: %w", grpipe.ErrBadInput, err)
	}
	defer f.Close()
	cr := csv.NewReader(f)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = false
	header, err := cr.Read()
	if err != nil {
		return fmt.Errorf("%w: %s: read header: %w", grpipe.ErrBadInput, path, err)
	}
	for i := range header {
		header[i] = strings.TrimSpace(strings.TrimPrefix(header[i], "\ufeff"))
	}
	keyAt := -1
	for i, h := range header {
		if h == e.Key {
			keyAt = i
		}
	}
	if keyAt < 0 {
		return fmt.Errorf("%w: %s: the header has no %s column", grpipe.ErrBadInput, path, e.Key)
	}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return fmt.Errorf("%w: %s line %d: %w", grpipe.ErrBadInput, path, pe.Line, pe.Err)
			}
			return fmt.Errorf("%w: %s: %w", grpipe.ErrBadInput, path, err)
		}
		if keyAt >= len(rec) || strings.TrimSpace(rec[keyAt]) == "" {
			continue
		}
		row := make(map[string]string, len(header))
		for i, h := range header {
			if i < len(rec) {
				row[h] = rec[i]
			}
		}
		id := strings.TrimSpace(rec[keyAt])
		row[e.Key] = id
		if old, ok := out[id]; ok && old[grpipe.TimestampColumn] > row[grpipe.TimestampColumn] {
			continue
		}
		out[id] = row
	}
	return nil
}

// ServeHTTP answers review/recent_reviews.xml and review/show.xml.
func (r *Replay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	path := strings.TrimSuffix(req.URL.Path, "/")
	if path != "/review/recent_reviews.xml" && path != "/review/show.xml" {
		http.NotFound(w, req)
		return
	}
	if wait, ok := r.allow(); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		http.Error(w, "rate limit exceeded", http.StatusTooManyRequests)
		return
	}
	key := req.URL.Query().Get("key")
	if key == "" || (r.opts.Key != "" && key != r.opts.Key) {
		r.opts.Log.Info("refused a call: wrong or missing key", "path", path)
		http.Error(w, "Invalid API key.", http.StatusUnauthorized)
		return
	}
	var body []byte
	if path == "/review/recent_reviews.xml" {
		body = r.recent()
	} else {
		id := strings.TrimSpace(req.URL.Query().Get("id"))
		var ok bool
		body, ok = r.show(id)
		if !ok {
			http.Error(w, "review not found", http.StatusNotFound)
			return
		}
	}
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if req.Method == http.MethodGet {
		_, _ = w.Write(body)
	}
}

// allow takes a token from the rate limit's bucket, or says how long to wait for one.
func (r *Replay) allow() (time.Duration, bool) {
	if r.opts.RateLimit == 0 {
		return 0, true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.opts.Now()
	if !r.last.IsZero() {
		r.tokens = min(max(1, r.opts.RateLimit), r.tokens+now.Sub(r.last).Seconds()*r.opts.RateLimit)
	}
	r.last = now
	if r.tokens >= 1 {
		r.tokens--
		return 0, true
	}
	return time.Duration((1 - r.tokens) / r.opts.RateLimit * float64(time.Second)), false
}

// recent returns the current window, newest first, and moves it on.
func (r *Replay) recent() []byte {
	r.mu.Lock()
	n := len(r.reviews)
	if r.pos == 0 {
		r.pos = min(r.opts.Recent, n)
	} else {
		r.pos += r.opts.Step
	}
	type item struct {
		i, lap int
	}
	var items []item
	for p := r.pos - 1; p >= 0 && p >= r.pos-r.opts.Recent; p-- {
		it := item{p % n, p / n}
		items = append(items, it)
		r.lap[r.reviews[it.i]["review_id"]] = it.lap
	}
	r.mu.Unlock()
	var buf bytes.Buffer
	buf.WriteString(xml.Header + "<GoodreadsResponse>\n  <Request>\n    <authentication>true</authentication>\n      <key><![CDATA[replay]]></key>\n    <method><![CDATA[review_recent_reviews]]></method>\n  </Request>\n  <reviews>\n")
	for _, it := range items {
		r.writeReview(&buf, r.reviews[it.i], it.lap)
	}
	buf.WriteString("  </reviews>\n</GoodreadsResponse>\n")
	return buf.Bytes()
}

// show returns one review's answer, in the version last listed.
func (r *Replay) show(id string) ([]byte, bool) {
	i, ok := r.byID[id]
	if !ok {
		return nil, false
	}
	r.mu.Lock()
	lap := r.lap[id]
	r.mu.Unlock()
	var buf bytes.Buffer
	buf.WriteString(xml.Header + "<GoodreadsResponse>\n  <Request>\n    <authentication>true</authentication>\n      <key><![CDATA[replay]]></key>\n    <method><![CDATA[review_show]]></method>\n  </Request>\n")
	r.writeReview(&buf, r.reviews[i], lap)
	buf.WriteString("</GoodreadsResponse>\n")
	return buf.Bytes(), true
}

// writeReview writes one <review> element. Text that holds HTML in the real
// API (body, description) is HTML-escaped inside CDATA, so a client that
// strips HTML gets the stored text back.
func (r *Replay) writeReview(buf *bytes.Buffer, rv map[string]string, lap int) {
	updated := rv["review_updated_date"]
	if lap > 0 {
		if t := goodreadsTime(updated); !t.IsZero() {
			updated = t.Add(time.Duration(lap) * time.Minute).Format("Mon Jan 02 15:04:05 -0700 2006")
		}
	}
	u := r.users[rv["user_id"]]
	b := r.books[rv["book_id"]]
	a := r.authors[rv["author_id"]]
	if u == nil {
		u = map[string]string{"user_id": rv["user_id"]}
	}
	if b == nil {
		b = map[string]string{"book_id": rv["book_id"], "authors": rv["author_id"]}
	}
	if a == nil {
		a = map[string]string{"author_id": rv["author_id"]}
	}
	el := func(indent, name, v string) {
		buf.WriteString(indent)
		if v == "" {
			buf.WriteString("<" + name + "/>\n")
			return
		}
		buf.WriteString("<" + name + ">")
		_ = xml.EscapeText(buf, []byte(v))
		buf.WriteString("</" + name + ">\n")
	}
	cdata := func(indent, name, attrs, v string) {
		buf.WriteString(indent + "<" + name + attrs + ">")
		if v != "" {
			buf.WriteString(cdataText(v))
		}
		buf.WriteString("</" + name + ">\n")
	}
	const i2, i3, i4, i5 = "    ", "      ", "        ", "          "
	buf.WriteString("  <review>\n")
	el(i2, "id", rv["review_id"])
	buf.WriteString(i2 + "<user>\n")
	el(i3, "id", u["user_id"])
	el(i3, "name", u["user_name"])
	el(i3, "display_name", u["user_display_name"])
	el(i3, "location", u["location"])
	el(i3, "link", u["profile_link"])
	el(i3, "uri", u["uri"])
	el(i3, "image_url", u["user_image_url"])
	el(i3, "small_image_url", u["small_image_url"])
	el(i3, "has_image", u["has_image"])
	buf.WriteString(i2 + "</user>\n")
	buf.WriteString(i2 + "<book>\n")
	buf.WriteString(i3 + `<id type="integer">` + xmlText(b["book_id"]) + "</id>\n")
	buf.WriteString(i3 + "<isbn/>\n" + i3 + "<isbn13></isbn13>\n")
	el(i3, "title", b["title"])
	el(i3, "title_without_series", b["title_without_series"])
	el(i3, "image_url", b["image_url"])
	buf.WriteString(i3 + "<small_image_url/>\n" + i3 + "<large_image_url>\n" + i3 + "</large_image_url>\n")
	el(i3, "link", b["book_url"])
	el(i3, "num_pages", b["num_pages"])
	el(i3, "format", b["format"])
	el(i3, "edition_information", b["edition_information"])
	el(i3, "publisher", b["publisher"])
	el(i3, "publication_day", b["publication_day"])
	el(i3, "publication_year", b["publication_year"])
	el(i3, "publication_month", b["publication_month"])
	el(i3, "average_rating", b["average_rating"])
	el(i3, "ratings_count", b["ratings_count"])
	cdata(i3, "description", "", html.EscapeString(b["description"]))
	buf.WriteString(i3 + "<authors>\n" + i4 + "<author>\n")
	el(i5, "id", a["author_id"])
	el(i5, "name", a["name"])
	el(i5, "role", a["role"])
	cdata(i5, "image_url", ` nophoto="true"`, "")
	cdata(i5, "link", "", a["profile_url"])
	el(i5, "average_rating", a["average_rating"])
	el(i5, "ratings_count", a["rating_count"])
	el(i5, "text_reviews_count", a["text_review_count"])
	buf.WriteString(i4 + "</author>\n" + i3 + "</authors>\n")
	el(i3, "published", b["published"])
	buf.WriteString(i3 + "<work><id>0</id><uri/></work>\n")
	buf.WriteString(i2 + "</book>\n")
	el(i2, "rating", rv["review_rating"])
	el(i2, "votes", rv["review_votes"])
	el(i2, "spoiler_flag", rv["spoiler_flag"])
	el(i2, "spoilers_state", rv["spoiler_state"])
	buf.WriteString(i2 + `<shelves><shelf name="read" exclusive="true"/></shelves>` + "\n")
	buf.WriteString(i2 + "<recommended_for/>\n" + i2 + "<recommended_by></recommended_by>\n" + i2 + "<started_at/>\n" + i2 + "<read_at/>\n")
	el(i2, "date_added", rv["review_added_date"])
	el(i2, "date_updated", updated)
	el(i2, "read_count", rv["review_read_count"])
	// Body as the API sends it: CDATA between new lines.
	buf.WriteString(i2 + "<body>\n" + i3)
	if v := rv["review_text"]; v != "" {
		buf.WriteString(cdataText(html.EscapeString(v)))
	}
	buf.WriteString("\n" + i2 + "</body>\n")
	el(i2, "comments_count", rv["comments_count"])
	cdata(i2, "url", "", rv["review_url"])
	cdata(i2, "link", "", rv["review_url"])
	el(i2, "owned", "0")
	buf.WriteString("  </review>\n")
}

func xmlText(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// cdataText wraps s in CDATA; characters XML does not allow become spaces
// and a "]]>" inside s is split over two sections.
func cdataText(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' || (r >= 0x20 && r <= 0xD7FF) || (r >= 0xE000 && r <= 0xFFFD) || r >= 0x10000 && r <= 0x10FFFF {
			return r
		}
		return ' '
	}, strings.ToValidUTF8(s, " "))
	return "<![CDATA[" + strings.ReplaceAll(s, "]]>", "]]]]><![CDATA[>") + "]]>"
}

// ServeReplay serves the CSV files of dir as the API on addr with the
// limits of limits until ctx ends; started is told the address and the
// number of reviews once it listens. It warns (opts.Log) when the address
// reaches beyond this machine.
func ServeReplay(ctx context.Context, addr, dir string, opts *ReplayOptions, limits httpserver.Options, started func(net.Addr, int)) error {
	rp, err := NewReplay(dir, opts)
	if err != nil {
		return err
	}
	srv, err := httpserver.Start(addr, rp, limits)
	if err != nil {
		return fmt.Errorf("%w: --addr %s: %w", grpipe.ErrBadInput, addr, err)
	}
	if host, _, _ := net.SplitHostPort(srv.Addr().String()); !net.ParseIP(host).IsLoopback() && opts.Log != nil {
		opts.Log.Warn("the replay server listens beyond this machine", "addr", srv.Addr().String())
	}
	started(srv.Addr(), rp.Len())
	select {
	case <-ctx.Done():
	case err := <-srv.Done():
		return fmt.Errorf("api-replay: %w", err)
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("api-replay: %w", err)
	}
	return nil
}
