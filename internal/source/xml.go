// Package source talks to the Goodreads XML API, or to any server that speaks
// it: a client for the two calls the capture step uses (recent reviews, one
// review's detail), the mapping of an answer to the four entities' CSV rows,
// and a replay server that serves the API's shape from CSV files, for demos
// and tests now that the public API is retired.
package source

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/text"
)

// ErrMalformed reports an answer that is not the API's XML, or a review
// without the ids the entities need.
var ErrMalformed = errors.New("malformed answer")

// TimestampLayout is record_create_timestamp's format: UTC with microseconds.
const TimestampLayout = "2006-01-02 15:04:05.000000"

// Review is one review as the API returns it, with its user, book and the
// book's authors. Every field holds the element's text, trimmed; empty
// elements (<x/>, <x></x>, <x>  </x>) are "".
type Review struct {
	ID            string `xml:"id"`
	User          User   `xml:"user"`
	Book          Book   `xml:"book"`
	Rating        string `xml:"rating"`
	Votes         string `xml:"votes"`
	SpoilerFlag   string `xml:"spoiler_flag"`
	SpoilersState string `xml:"spoilers_state"`
	DateAdded     string `xml:"date_added"`
	DateUpdated   string `xml:"date_updated"`
	ReadCount     string `xml:"read_count"`
	Body          string `xml:"body"`
	CommentsCount string `xml:"comments_count"`
	URL           string `xml:"url"`
	Link          string `xml:"link"`
}

// User is a review's author (the reader).
type User struct {
	ID            string `xml:"id"`
	Name          string `xml:"name"`
	DisplayName   string `xml:"display_name"`
	Location      string `xml:"location"`
	Link          string `xml:"link"`
	URI           string `xml:"uri"`
	ImageURL      string `xml:"image_url"`
	SmallImageURL string `xml:"small_image_url"`
	HasImage      string `xml:"has_image"`
}

// Book is the reviewed book.
type Book struct {
	ID                 string   `xml:"id"`
	Title              string   `xml:"title"`
	TitleWithoutSeries string   `xml:"title_without_series"`
	ImageURL           string   `xml:"image_url"`
	Link               string   `xml:"link"`
	NumPages           string   `xml:"num_pages"`
	Format             string   `xml:"format"`
	EditionInformation string   `xml:"edition_information"`
	Publisher          string   `xml:"publisher"`
	PublicationDay     string   `xml:"publication_day"`
	PublicationYear    string   `xml:"publication_year"`
	PublicationMonth   string   `xml:"publication_month"`
	AverageRating      string   `xml:"average_rating"`
	RatingsCount       string   `xml:"ratings_count"`
	Description        string   `xml:"description"`
	Authors            []Author `xml:"authors>author"`
	Published          string   `xml:"published"`
}

// Author is one of a book's authors; the first is the primary one.
type Author struct {
	ID               string `xml:"id"`
	Name             string `xml:"name"`
	Role             string `xml:"role"`
	Link             string `xml:"link"`
	AverageRating    string `xml:"average_rating"`
	RatingsCount     string `xml:"ratings_count"`
	TextReviewsCount string `xml:"text_reviews_count"`
}

// response is the <GoodreadsResponse> envelope of both calls; <Request> is ignored.
type response struct {
	XMLName xml.Name `xml:"GoodreadsResponse"`
	Review  *Review  `xml:"review"`
	Reviews []Review `xml:"reviews>review"`
}

// decode reads one <GoodreadsResponse>.
func decode(data []byte) (*response, error) {
	var r response
	d := xml.NewDecoder(bytes.NewReader(data))
	d.CharsetReader = func(label string, in io.Reader) (io.Reader, error) {
		switch strings.ToLower(label) {
		case "utf-8", "utf8", "us-ascii", "ascii":
			return in, nil
		}
		return nil, fmt.Errorf("encoding %q is not supported (the API answers UTF-8)", label)
	}
	if err := d.Decode(&r); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return &r, nil
}

// ParseReview parses a review/show.xml answer.
func ParseReview(data []byte) (*Review, error) {
	r, err := decode(data)
	if err != nil {
		return nil, err
	}
	if r.Review == nil {
		return nil, fmt.Errorf("%w: no <review> element in <GoodreadsResponse>", ErrMalformed)
	}
	r.Review.trim()
	return r.Review, nil
}

// ParseRecent parses a review/recent_reviews.xml answer.
func ParseRecent(data []byte) ([]Review, error) {
	r, err := decode(data)
	if err != nil {
		return nil, err
	}
	for i := range r.Reviews {
		r.Reviews[i].trim()
	}
	return r.Reviews, nil
}

// trim removes the white space around every value (text may come as CDATA
// surrounded by newlines and indentation).
func (r *Review) trim() {
	for _, p := range []*string{&r.ID, &r.Rating, &r.Votes, &r.SpoilerFlag, &r.SpoilersState, &r.DateAdded,
		&r.DateUpdated, &r.ReadCount, &r.Body, &r.CommentsCount, &r.URL, &r.Link} {
		*p = strings.TrimSpace(*p)
	}
	u := &r.User
	for _, p := range []*string{&u.ID, &u.Name, &u.DisplayName, &u.Location, &u.Link, &u.URI, &u.ImageURL, &u.SmallImageURL, &u.HasImage} {
		*p = strings.TrimSpace(*p)
	}
	b := &r.Book
	for _, p := range []*string{&b.ID, &b.Title, &b.TitleWithoutSeries, &b.ImageURL, &b.Link, &b.NumPages, &b.Format,
		&b.EditionInformation, &b.Publisher, &b.PublicationDay, &b.PublicationYear, &b.PublicationMonth,
		&b.AverageRating, &b.RatingsCount, &b.Description, &b.Published} {
		*p = strings.TrimSpace(*p)
	}
	for i := range b.Authors {
		a := &b.Authors[i]
		for _, p := range []*string{&a.ID, &a.Name, &a.Role, &a.Link, &a.AverageRating, &a.RatingsCount, &a.TextReviewsCount} {
			*p = strings.TrimSpace(*p)
		}
	}
}

// Version identifies a version of a review: its date_updated (a review is
// captured again when it changes).
func (r *Review) Version() string { return r.DateUpdated }

// Record is one captured review mapped to the four entities: one row each,
// values in the entity's column order (grpipe.Reviews.Columns, ...).
type Record struct {
	ReviewID int64
	Version  string
	Review   []string
	User     []string
	Author   []string
	Book     []string
}

// Rows returns the record's row for entity e.
func (r *Record) Rows(e grpipe.Entity) []string {
	switch e.Name {
	case grpipe.Reviews.Name:
		return r.Review
	case grpipe.Users.Name:
		return r.User
	case grpipe.Authors.Name:
		return r.Author
	case grpipe.Books.Name:
		return r.Book
	}
	return nil
}

// parseID checks that an id is a non-negative 64-bit integer.
func parseID(what, s string) (int64, error) {
	if s == "" {
		return 0, fmt.Errorf("%w: %s is missing", ErrMalformed, what)
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("%w: %s %q is not an id", ErrMalformed, what, clip(s))
	}
	return v, nil
}

func clip(s string) string {
	if len(s) > 40 {
		return strings.ToValidUTF8(s[:40], "?") + "…"
	}
	return s
}

// Map maps a review to the four entities as the original capture did:
// the first author is the primary one (review.author_id, book.authors and
// the one author row); body and description have HTML removed and entities
// decoded; every text has its white space collapsed; record_create_timestamp
// is capturedAt in UTC with microseconds. A review without a review, user,
// book or author id is malformed.
func (r *Review) Map(capturedAt time.Time) (*Record, error) {
	rid, err := parseID("review id", r.ID)
	if err != nil {
		return nil, err
	}
	uid, err := parseID("user id", r.User.ID)
	if err != nil {
		return nil, fmt.Errorf("review %d: %w", rid, err)
	}
	bid, err := parseID("book id", r.Book.ID)
	if err != nil {
		return nil, fmt.Errorf("review %d: %w", rid, err)
	}
	if len(r.Book.Authors) == 0 {
		return nil, fmt.Errorf("review %d: %w: book %d has no <authors><author>", rid, ErrMalformed, bid)
	}
	a := r.Book.Authors[0]
	aid, err := parseID("author id", a.ID)
	if err != nil {
		return nil, fmt.Errorf("review %d: %w", rid, err)
	}
	id := func(v int64) string { return strconv.FormatInt(v, 10) }
	rs, us, bs, as := id(rid), id(uid), id(bid), id(aid)
	ts := capturedAt.UTC().Format(TimestampLayout)
	c := func(s string) string { return text.Clean(s, false) }
	h := func(s string) string { return text.Clean(s, true) }
	b, u := &r.Book, &r.User
	rec := &Record{
		ReviewID: rid,
		Version:  r.Version(),
		Review: []string{rs, us, bs, as, h(r.Body), c(r.Rating), c(r.Votes), c(r.SpoilerFlag),
			c(r.SpoilersState), c(r.DateAdded), c(r.DateUpdated), c(r.ReadCount), c(r.CommentsCount), c(r.URL), ts},
		User: []string{us, c(u.Name), c(u.DisplayName), c(u.Location), c(u.Link), c(u.URI), c(u.ImageURL),
			c(u.SmallImageURL), c(u.HasImage), ts},
		Author: []string{as, c(a.Name), c(a.Role), c(a.Link), c(a.AverageRating), c(a.RatingsCount), c(a.TextReviewsCount), ts},
		Book: []string{bs, c(b.Title), c(b.TitleWithoutSeries), c(b.ImageURL), c(b.Link), c(b.NumPages), c(b.Format),
			c(b.EditionInformation), c(b.Publisher), c(b.PublicationDay), c(b.PublicationYear), c(b.PublicationMonth),
			c(b.AverageRating), c(b.RatingsCount), h(b.Description), as, c(b.Published), ts},
	}
	return rec, nil
}

// MapReview parses a review/show.xml answer and maps it (ParseReview, then Map).
func MapReview(data []byte, capturedAt time.Time) (*Record, error) {
	r, err := ParseReview(data)
	if err != nil {
		return nil, err
	}
	return r.Map(capturedAt)
}
