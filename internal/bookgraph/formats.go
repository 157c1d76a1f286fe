package bookgraph

import (
	"bytes"
	"fmt"

	grpipe "github.com/grpipe/grpipe"
)

// col returns the index of column name in e; it panics on a name the
// entity lacks (a programming error caught by every test).
func col(e grpipe.Entity, name string) int {
	for i, c := range e.Columns {
		if c.Name == name {
			return i
		}
	}
	panic(fmt.Sprintf("bookgraph: entity %s has no column %s", e.Name, name))
}

// Column indices of the four entities.
var (
	rvID, rvUser, rvBook, rvAuthor = col(grpipe.Reviews, "review_id"), col(grpipe.Reviews, "user_id"), col(grpipe.Reviews, "book_id"), col(grpipe.Reviews, "author_id")
	rvText, rvRating, rvVotes      = col(grpipe.Reviews, "review_text"), col(grpipe.Reviews, "review_rating"), col(grpipe.Reviews, "review_votes")
	rvSpoiler, rvAdded, rvUpdated  = col(grpipe.Reviews, "spoiler_flag"), col(grpipe.Reviews, "review_added_date"), col(grpipe.Reviews, "review_updated_date")
	rvComments, rvTS               = col(grpipe.Reviews, "comments_count"), col(grpipe.Reviews, grpipe.TimestampColumn)
	usID, usTS                     = col(grpipe.Users, "user_id"), col(grpipe.Users, grpipe.TimestampColumn)
	auID, auName, auAvg            = col(grpipe.Authors, "author_id"), col(grpipe.Authors, "name"), col(grpipe.Authors, "average_rating")
	auRatings, auTexts, auTS       = col(grpipe.Authors, "rating_count"), col(grpipe.Authors, "text_review_count"), col(grpipe.Authors, grpipe.TimestampColumn)
	bkID, bkAuthors, bkPublished   = col(grpipe.Books, "book_id"), col(grpipe.Books, "authors"), col(grpipe.Books, "published")
	bkURL, bkYear, bkTS            = col(grpipe.Books, "book_url"), col(grpipe.Books, "publication_year"), col(grpipe.Books, grpipe.TimestampColumn)
)

// The keys of each dump read into columns, in slot order.
var (
	reviewKeys  = []string{"review_id", "user_id", "book_id", "rating", "review_text", "date_added", "date_updated", "n_votes", "n_comments"}
	spoilerKeys = []string{"review_id", "user_id", "book_id", "rating", "review_sentences", "has_spoiler", "timestamp"}
	authorKeys  = []string{"author_id", "name", "average_rating", "ratings_count", "text_reviews_count"}
	// bookKeys: the first ones have a Books column of the same name (bookSame).
	bookKeys = []string{"book_id", "title", "title_without_series", "image_url", "num_pages", "format", "edition_information",
		"publisher", "publication_day", "publication_year", "publication_month", "average_rating", "ratings_count", "description",
		"link", "url", "authors"}
	bookSame = 14
)

func slotter(keys []string) func([]byte) int {
	m := make(map[string]int, len(keys))
	for i, k := range keys {
		m[k] = i
	}
	return func(k []byte) int {
		if i, ok := m[string(k)]; ok {
			return i
		}
		return -1
	}
}

var (
	reviewSlot  = slotter(reviewKeys)
	spoilerSlot = slotter(spoilerKeys)
	authorSlot  = slotter(authorKeys)
	bookSlot    = slotter(bookKeys)
	bookCols    = func() []int {
		c := make([]int, bookSame)
		for i := range c {
			c[i] = col(grpipe.Books, bookKeys[i])
		}
		return c
	}()
)

var (
	spoilerMark = []byte("(view spoiler)[")
	litTrue     = []byte("true")
	litFalse    = []byte("false")
)

// reviewIDs maps the three ids shared by both review formats and fills the
// id columns of r.review and r.user; false when rec was rejected.
func (r *Decoder) reviewIDs(rec *grpipe.InputRecord, rid, uid, bid value) bool {
	clearFields(r.review[:])
	clearFields(r.user[:])
	reviewID, ok := r.hashedKey(rec, "review_id", "review_id", rid, grpipe.Reviews.Name)
	if !ok {
		return false
	}
	userID, ok := r.hashedKey(rec, "user_id", "user_id", uid, grpipe.Users.Name)
	if !ok {
		return false
	}
	bookID, ok := requiredID(rec, "book_id", "book_id", bid)
	if !ok {
		return false
	}
	r.review[rvID], r.review[rvUser], r.review[rvBook] = reviewID, userID, bookID
	r.user[usID], r.user[usTS] = userID, r.snapshot
	return true
}

// emitReview appends the review and user rows to rec.
func (r *Decoder) emitReview(rec *grpipe.InputRecord) {
	rec.Rows = append(rec.Rows, grpipe.InputRow{Entity: grpipe.Reviews, Fields: r.review[:]}, grpipe.InputRow{Entity: grpipe.Users, Fields: r.user[:]})
}

// mapReview maps a goodreads_reviews_dedup line (11 keys).
func (r *Decoder) mapReview(rec *grpipe.InputRecord) {
	v := r.vals
	if !r.reviewIDs(rec, v[0], v[1], v[2]) {
		return
	}
	f := r.review[:]
	ok := scalar(rec, &f[rvRating], "rating", "review_rating", v[3]) &&
		scalar(rec, &f[rvText], "review_text", "review_text", v[4]) &&
		scalar(rec, &f[rvAdded], "date_added", "review_added_date", v[5]) &&
		scalar(rec, &f[rvUpdated], "date_updated", "review_updated_date", v[6]) &&
		scalar(rec, &f[rvVotes], "n_votes", "review_votes", v[7]) &&
		scalar(rec, &f[rvComments], "n_comments", "comments_count", v[8])
	if !ok {
		return
	}
	if bytes.Contains(f[rvText], spoilerMark) {
		f[rvSpoiler] = litTrue
	} else {
		f[rvSpoiler] = litFalse
	}
	// The version time: date_updated, else date_added, else the snapshot.
	f[rvTS] = r.snapshot
	for _, d := range []struct {
		key, column string
		b           []byte
	}{{"date_updated", "review_updated_date", f[rvUpdated]}, {"date_added", "review_added_date", f[rvAdded]}} {
		if len(bytes.TrimSpace(d.b)) == 0 {
			continue
		}
		t, ok := goodreadsTime(bytes.TrimSpace(d.b))
		if !ok {
			rec.Reject(d.column, fmt.Sprintf("%s %q is not a date like Sun Jul 30 07:44:10 -0700 2017", d.key, clip(d.b)))
			return
		}
		at := len(r.out)
		r.out = AppendTimestamp(r.out, t)
		f[rvTS] = r.out[at:len(r.out):len(r.out)]
		break
	}
	r.emitReview(rec)
}

// mapSpoiler maps a goodreads_reviews_spoiler line (7 keys): the sentences
// joined by spaces are the text, has_spoiler the flag, the date "timestamp"
// at midnight UTC the version time.
func (r *Decoder) mapSpoiler(rec *grpipe.InputRecord) {
	v := r.vals
	if !r.reviewIDs(rec, v[0], v[1], v[2]) {
		return
	}
	f := r.review[:]
	if !scalar(rec, &f[rvRating], "rating", "review_rating", v[3]) || !scalar(rec, &f[rvSpoiler], "has_spoiler", "spoiler_flag", v[5]) {
		return
	}
	switch v[4].kind {
	case absent, jNull:
	case jArray:
		at := len(r.out)
		if reason := r.sentences(v[4].b); reason != "" {
			rec.Reject("review_text", reason)
			return
		}
		f[rvText] = r.out[at:len(r.out):len(r.out)]
	default:
		rec.Reject("review_text", wrongType("review_sentences", v[4], "a list of [flag, sentence] pairs"))
		return
	}
	f[rvTS] = r.snapshot
	ts, ok := text(v[6])
	if !ok {
		rec.Reject(grpipe.TimestampColumn, wrongType("timestamp", v[6], "a date like 2017-08-30"))
		return
	}
	if ts = bytes.TrimSpace(ts); len(ts) > 0 {
		t, ok := ParseDate(ts, '-')
		if !ok {
			rec.Reject(grpipe.TimestampColumn, fmt.Sprintf("timestamp %q is not a date like 2017-08-30", clip(ts)))
			return
		}
		at := len(r.out)
		r.out = AppendTimestamp(r.out, t)
		f[rvTS] = r.out[at:len(r.out):len(r.out)]
	}
	r.emitReview(rec)
}

// sentences appends the sentences of review_sentences ([[0, "a"], [1, "b"]])
// to r.out, joined by spaces; it returns a reason when the shape differs.
func (r *Decoder) sentences(raw []byte) string {
	const bad = "review_sentences is not a list of [flag, sentence] pairs"
	p := &r.sub
	p.in, p.i, p.err = raw, 1, "" // raw is a checked array: '[' ...
	p.buf = p.buf[:0]
	for n := 0; ; n++ {
		p.ws()
		if n == 0 && p.in[p.i] == ']' {
			return ""
		}
		if p.in[p.i] != '[' {
			return bad
		}
		p.i++
		p.ws()
		flag, ok := p.value(1)
		if !ok || flag.kind != jNumber {
			return bad
		}
		p.ws()
		if p.in[p.i] != ',' {
			return bad
		}
		p.i++
		p.ws()
		s, ok := p.value(1)
		if !ok || s.kind != jString {
			return bad
		}
		p.ws()
		if p.in[p.i] != ']' {
			return bad
		}
		p.i++
		if n > 0 {
			r.out = append(r.out, ' ')
		}
		r.out = append(r.out, s.b...)
		p.ws()
		if p.in[p.i] == ']' {
			return ""
		}
		p.i++ // ','
	}
}

// mapAuthor maps a goodreads_book_authors line.
func (r *Decoder) mapAuthor(rec *grpipe.InputRecord) {
	v := r.vals
	f := r.author[:]
	clearFields(f)
	id, ok := requiredID(rec, "author_id", "author_id", v[0])
	if !ok {
		return
	}
	f[auID] = id
	if !scalar(rec, &f[auName], "name", "name", v[1]) || !scalar(rec, &f[auAvg], "average_rating", "average_rating", v[2]) ||
		!scalar(rec, &f[auRatings], "ratings_count", "rating_count", v[3]) || !scalar(rec, &f[auTexts], "text_reviews_count", "text_review_count", v[4]) {
		return
	}
	f[auTS] = r.snapshot
	rec.Rows = append(rec.Rows, grpipe.InputRow{Entity: grpipe.Authors, Fields: f})
}

// mapBook maps a goodreads_books line: book_url is link (else url), authors
// the first author's id (NULL for an empty list), published the publication year.
func (r *Decoder) mapBook(rec *grpipe.InputRecord) {
	v := r.vals
	f := r.book[:]
	clearFields(f)
	id, ok := requiredID(rec, "book_id", "book_id", v[0])
	if !ok {
		return
	}
	for i := 1; i < bookSame; i++ {
		if !scalar(rec, &f[bookCols[i]], bookKeys[i], bookKeys[i], v[i]) {
			return
		}
	}
	f[bkID] = id
	var link, url []byte
	if !scalar(rec, &link, "link", "book_url", v[bookSame]) || !scalar(rec, &url, "url", "book_url", v[bookSame+1]) {
		return
	}
	f[bkURL] = link
	if len(bytes.TrimSpace(link)) == 0 {
		f[bkURL] = url
	}
	switch a := v[bookSame+2]; a.kind {
	case absent, jNull:
	case jArray:
		author, reason := r.firstAuthor(a.b)
		if reason != "" {
			rec.Reject("authors", reason)
			return
		}
		f[bkAuthors] = author
	default:
		rec.Reject("authors", wrongType("authors", a, `a list of {"author_id": ..., "role": ...}`))
		return
	}
	f[bkPublished] = f[bkYear]
	f[bkTS] = r.snapshot
	rec.Rows = append(rec.Rows, grpipe.InputRow{Entity: grpipe.Books, Fields: f})
}

var authorIDSlot = func(k []byte) int {
	if string(k) == "author_id" {
		return 0
	}
	return -1
}

// firstAuthor returns the author_id of the first element of an authors list
// (raw, a checked array), nil when the list is empty or the first element
// has none.
func (r *Decoder) firstAuthor(raw []byte) ([]byte, string) {
	p := &r.sub
	p.in, p.i, p.err = raw, 1, ""
	p.ws()
	if p.in[p.i] == ']' {
		return nil, ""
	}
	first, ok := p.value(1)
	if !ok || first.kind != jObject {
		return nil, `authors is not a list of {"author_id": ..., "role": ...}`
	}
	var q parser
	if !q.object(first.b, r.subv, authorIDSlot) {
		return nil, "authors: " + q.err
	}
	b, ok := text(r.subv[0])
	if !ok {
		return nil, wrongType("authors[0].author_id", r.subv[0], "a string of digits")
	}
	return b, ""
}
