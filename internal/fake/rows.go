package fake

import (
	"strconv"
	"strings"
)

// Kinds of broken rows, named as in a Manifest.
const (
	kindNone = iota
	kindFieldCount
	kindEmptyID
	kindIDNotInteger
	kindIDOutOfRange
	kindBadTimestamp
	kindBadNumber
	kindBadBoolean
	kindBadDate
	kindRatingRange
	kindUnterminatedQuote
	kindInvalidUTF8
	numKinds
)

// Kind names, as they appear in a Manifest.
const (
	KindFieldCount        = "field_count"
	KindEmptyID           = "empty_id"
	KindIDNotInteger      = "id_not_integer"
	KindIDOutOfRange      = "id_out_of_range"
	KindBadTimestamp      = "bad_timestamp"
	KindBadNumber         = "bad_number"
	KindBadBoolean        = "bad_boolean"
	KindBadDate           = "bad_date"
	KindRatingRange       = "rating_out_of_range"
	KindUnterminatedQuote = "unterminated_quote"
	KindInvalidUTF8       = "invalid_utf8"
)

var kindNames = [numKinds]string{"", KindFieldCount, KindEmptyID, KindIDNotInteger, KindIDOutOfRange,
	KindBadTimestamp, KindBadNumber, KindBadBoolean, KindBadDate, KindRatingRange, KindUnterminatedQuote, KindInvalidUTF8}

var common = []int{kindFieldCount, kindEmptyID, kindIDNotInteger, kindIDOutOfRange, kindBadTimestamp, kindUnterminatedQuote, kindInvalidUTF8}

// kindsFor lists the kinds of broken rows each file can hold (by entity index).
var kindsFor = [4][]int{
	append(append([]int{}, common...), kindBadNumber, kindBadBoolean, kindBadDate, kindRatingRange), // reviews
	append(append([]int{}, common...), kindBadBoolean),                                              // users
	append(append([]int{}, common...), kindBadNumber),                                               // authors
	append(append([]int{}, common...), kindBadNumber),                                               // books
}

// KindOf classifies the reason the pipeline gives for a rejected row into a
// Manifest kind; "" when the reason is none of them.
func KindOf(reason string) string {
	switch {
	case strings.HasPrefix(reason, "expected ") && strings.Contains(reason, " fields as in the header"):
		return KindFieldCount
	case strings.HasSuffix(reason, " is empty"):
		return KindEmptyID
	case strings.HasSuffix(reason, " is not an integer"):
		return KindIDNotInteger
	case strings.Contains(reason, "ids are not negative") || strings.Contains(reason, " out of range for "):
		return KindIDOutOfRange
	case strings.Contains(reason, " is not a timestamp like "):
		return KindBadTimestamp
	case strings.HasSuffix(reason, " is not a number"):
		return KindBadNumber
	case strings.HasSuffix(reason, " is not a boolean"):
		return KindBadBoolean
	case strings.Contains(reason, " is not a date like "):
		return KindBadDate
	case strings.HasPrefix(reason, "review_rating ") && strings.HasSuffix(reason, " out of range [0, 5]"):
		return KindRatingRange
	case reason == "unterminated quoted field" || strings.HasSuffix(reason, " after a closing quote"):
		return KindUnterminatedQuote
	case strings.HasSuffix(reason, " is not valid UTF-8"):
		return KindInvalidUTF8
	}
	return ""
}

// id appends the row's key; a broken key when kind asks for one.
func (g *gen) id(v int64, kind int) {
	switch kind {
	case kindEmptyID:
	case kindIDNotInteger:
		g.buf = strconv.AppendInt(g.buf, v, 10)
		g.buf = append(g.buf, "x7"...)
	case kindIDOutOfRange:
		g.buf = append(g.buf, '-')
		g.buf = strconv.AppendInt(g.buf, v+1, 10)
	default:
		g.buf = strconv.AppendInt(g.buf, v, 10)
	}
}

// unterminated appends the rest of a row whose quoted field never closes.
func (g *gen) unterminated() {
	g.buf = append(g.buf, `,"this row lost its closing quote, and the rest of it`...)
	g.buf = append(g.buf, '\n')
}

// end appends the record's timestamp, the end of the row, and the defects
// that live there.
func (g *gen) end(kind int) {
	g.buf = append(g.buf, ',')
	at := len(g.buf)
	g.timestamp(g.ts)
	if kind == kindBadTimestamp {
		g.buf[at+5], g.buf[at+6] = '1', '3' // month 13
	}
	if kind == kindFieldCount {
		g.buf = append(g.buf, ",extra"...)
	}
	g.buf = append(g.buf, '\n')
}

func (g *gen) comma()          { g.buf = append(g.buf, ',') }
func (g *gen) str(s string)    { g.buf = append(g.buf, s...) }
func (g *gen) int(v int64)     { g.buf = strconv.AppendInt(g.buf, v, 10) }
func (g *gen) quoted(s string) { g.buf = append(append(append(g.buf, '"'), s...), '"') }
func (g *gen) bool(b bool) {
	if b {
		g.str("true")
	} else {
		g.str("false")
	}
}

// text appends s as a CSV field, quoted when it holds a comma or a quote.
func (g *gen) text(s string) {
	if strings.ContainsAny(s, ",\"\n") {
		g.buf = append(g.buf, '"')
		for i := 0; i < len(s); i++ {
			if s[i] == '"' {
				g.buf = append(g.buf, '"')
			}
			g.buf = append(g.buf, s[i])
		}
		g.buf = append(g.buf, '"')
		return
	}
	g.str(s)
}

// badUTF8 appends the CSV field s with invalid bytes in its middle.
func (g *gen) badUTF8(s string) {
	h := len(s) / 2
	for h > 1 && (s[h]&0xc0 == 0x80 || s[h] == '"' || s[h-1] == '"') {
		h--
	}
	g.str(s[:h])
	g.str("\xff\xfe")
	g.str(s[h:])
}

// decimal appends v/100 with two decimals (4.05).
func (g *gen) decimal(v int64) {
	g.int(v / 100)
	g.buf = append(g.buf, '.', byte('0'+v/10%10), byte('0'+v%10))
}

func (g *gen) review(kind int) {
	g.id(g.reviewID, kind)
	if kind == kindUnterminatedQuote {
		g.unterminated()
		return
	}
	g.comma()
	g.int(g.userID)
	g.comma()
	g.int(g.bookID)
	g.comma()
	g.int(g.authorID)
	g.comma()
	g.reviewText(kind == kindInvalidUTF8)
	g.comma()
	rating := int64(g.intn(6))
	if kind == kindRatingRange {
		rating = 6 + int64(g.intn(4))
	}
	if kind == kindBadNumber {
		g.str("4.x")
	} else {
		g.int(rating)
	}
	g.comma()
	g.int(int64(g.byte()&g.byte()&g.byte()) >> 3)
	g.comma()
	spoiler := g.byte() < 8
	if kind == kindBadBoolean {
		g.str("maybe")
	} else {
		g.bool(spoiler)
	}
	g.comma()
	if spoiler {
		g.str("hidden")
	} else {
		g.str(spoilerStates[g.intn(len(spoilerStates))])
	}
	g.comma()
	added := g.ts/1_000_000 - 60 - g.upto(3*86400)
	if kind == kindBadDate {
		g.str("Sun Feb 30 18:36:17 -0800 2020")
	} else {
		g.goodreadsDate(added, g.loc.offset)
	}
	g.comma()
	g.goodreadsDate(added+int64(g.intn(200)), g.loc.offset)
	g.comma()
	g.int(int64(g.byte()&3) + 1)
	g.comma()
	g.int(int64(g.byte()&g.byte()) >> 5)
	g.comma()
	g.str("https://www.goodreads.com/review/show/")
	g.int(g.reviewID)
	g.end(kind)
}

// reviewText appends a quoted review in the record's locale: sentences
// from the pool, sometimes apart on separate lines or with HTML line breaks.
func (g *gen) reviewText(broken bool) {
	pool := g.t.sentences[g.loc.index]
	g.buf = append(g.buf, '"')
	if broken {
		g.buf = append(g.buf, "bro\xffken "...)
	}
	sentences := 1 + g.intn(5)
	if g.byte() < 16 {
		sentences = 1 // a one-liner
	}
	for s := 0; s < sentences; s++ {
		if s > 0 {
			switch b := g.byte(); {
			case b < 6:
				g.buf = append(g.buf, '\n') // a line break inside the quoted field
			case b < 9:
				g.buf = append(g.buf, "<br /><br />"...)
			default:
				g.buf = append(g.buf, g.loc.space...)
			}
		}
		g.buf = append(g.buf, pool[g.upto(int64(len(pool)))]...)
	}
	g.buf = append(g.buf, '"')
}

// personOf returns the locale and the name of the person with id.
func personOf(id int64) (*locale, *name) {
	h := mix(uint64(id))
	loc := &locales[localeWeights[h&15]]
	names := fixed.names[loc.index]
	return loc, &names[below(mix(h), int64(len(names)))]
}

func (g *gen) user(kind int) {
	g.id(g.userID, kind)
	if kind == kindUnterminatedQuote {
		g.unterminated()
		return
	}
	loc, nm := personOf(g.userID)
	g.comma()
	g.str(nm.first)
	g.comma()
	if kind == kindInvalidUTF8 {
		g.badUTF8(nm.full)
	} else {
		g.str(nm.full)
	}
	g.comma()
	g.quoted(pick(loc.places, mix(uint64(g.userID)+7)))
	g.comma()
	g.str("https://www.goodreads.com/user/show/")
	g.int(g.userID)
	g.buf = append(g.buf, '-')
	g.str(nm.userSlug)
	g.comma()
	g.str("kca://profile:goodreads/A")
	h := mix(uint64(g.userID) + 3)
	for i := 0; i < 13; i++ {
		g.buf = append(g.buf, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"[h%36])
		h /= 36
		if h == 0 {
			h = mix(uint64(g.userID) + uint64(i))
		}
	}
	g.comma()
	hasImage := g.byte() < 160
	if hasImage {
		stamp := 1400000000 + int64(mix(uint64(g.userID))%180000000)
		g.str("https://images.gr-assets.com/users/")
		g.int(stamp)
		g.str("p3/")
		g.int(g.userID)
		g.str(".jpg,https://images.gr-assets.com/users/")
		g.int(stamp)
		g.str("p2/")
		g.int(g.userID)
		g.str(".jpg")
	} else {
		g.str("https://s.gr-assets.com/assets/nophoto/user/u_111x148-9394ebedbb3c6c218f64be9549657029.png,https://s.gr-assets.com/assets/nophoto/user/u_50x66-632230dc9882b4352d753eedf9396530.png")
	}
	g.comma()
	if kind == kindBadBoolean {
		g.str("perhaps")
	} else {
		g.bool(hasImage)
	}
	g.end(kind)
}

func (g *gen) author(kind int) {
	g.id(g.authorID, kind)
	if kind == kindUnterminatedQuote {
		g.unterminated()
		return
	}
	_, nm := personOf(g.authorID + 1_000_003)
	g.comma()
	if kind == kindInvalidUTF8 {
		g.badUTF8(nm.full)
	} else {
		g.str(nm.full)
	}
	g.comma()
	g.str(roles[g.intn(len(roles))])
	g.comma()
	g.str("https://www.goodreads.com/author/show/")
	g.int(g.authorID)
	g.buf = append(g.buf, '.')
	g.str(nm.authorSlug)
	g.comma()
	if kind == kindBadNumber {
		g.str("4.x1")
	} else {
		g.decimal(300 + int64(g.intn(200)))
	}
	g.comma()
	count := g.upto(1_000_000)
	g.int(count)
	g.comma()
	g.int(count / int64(8+g.intn(20)))
	g.end(kind)
}

func (g *gen) book(kind int) {
	g.id(g.bookID, kind)
	if kind == kindUnterminatedQuote {
		g.unterminated()
		return
	}
	h := mix(uint64(g.bookID) + 11)
	ti := below(h, int64(len(titles)))
	t := &fixed.titles[ti]
	g.comma()
	full := t.plain
	if h>>60 < 6 { // part of a series
		full = t.series[(h>>20)%uint64(len(series))][(h>>40)%9]
	}
	if kind == kindInvalidUTF8 {
		g.badUTF8(full)
	} else {
		g.str(full)
	}
	g.comma()
	g.str(t.plain)
	g.comma()
	g.str("https://images.gr-assets.com/books/")
	g.int(1500000000 + int64(h%60000000))
	g.str("m/")
	g.int(g.bookID)
	g.str(".jpg,https://www.goodreads.com/book/show/")
	g.int(g.bookID)
	g.buf = append(g.buf, '.')
	g.str(t.slug)
	g.comma()
	g.int(80 + int64(h>>8%900))
	g.comma()
	g.str(formats[(h>>16)%uint64(len(formats))])
	g.comma()
	g.str(editions[g.intn(len(editions))])
	g.comma()
	g.str(fixed.publishers[(h>>24)%uint64(len(publishers))])
	g.comma()
	g.int(int64(h>>32%28) + 1)
	g.comma()
	year := 1950 + int64(h>>36%70)
	g.int(year)
	g.comma()
	g.int(int64(h>>44%12) + 1)
	g.comma()
	if kind == kindBadNumber {
		g.str("3.x9")
	} else {
		g.decimal(300 + int64(g.intn(200)))
	}
	g.comma()
	g.int(g.upto(500_000))
	g.comma()
	g.buf = append(g.buf, '"')
	g.str(fixed.blurbs[(h>>48)%uint64(len(blurbs))])
	if g.byte() < 64 {
		g.buf = append(g.buf, ' ')
		g.str(fixed.blurbs[g.intn(len(blurbs))])
	}
	g.buf = append(g.buf, '"')
	g.comma()
	g.int(g.authorID)
	g.comma()
	g.int(year)
	g.end(kind)
}

// timestamp appends micros since the epoch, UTC, as 2020-02-19 21:38:16.690535.
func (g *gen) timestamp(micros int64) {
	sec, us := micros/1_000_000, micros%1_000_000
	if sec != g.lastSec {
		g.lastSec = sec
		y, mo, d := civil(sec / 86400)
		s := sec % 86400
		b := g.secText[:0]
		b = pad(b, y, 4)
		b = append(b, '-')
		b = pad(b, mo, 2)
		b = append(b, '-')
		b = pad(b, d, 2)
		b = append(b, ' ')
		b = pad(b, s/3600, 2)
		b = append(b, ':')
		b = pad(b, s/60%60, 2)
		b = append(b, ':')
		pad(b, s%60, 2)
	}
	g.buf = append(g.buf, g.secText[:]...)
	g.buf = append(g.buf, '.')
	g.buf = pad(g.buf, us, 6)
}

var dayAbbr = [7]string{"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"} // 1970-01-01 was a Thursday
var monthAbbr = [13]string{"", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

// goodreadsDate appends the UTC second sec, shown at offset minutes east of
// UTC, as "Wed Feb 19 18:36:17 -0800 2020".
func (g *gen) goodreadsDate(sec int64, offset int) {
	local := sec + int64(offset)*60
	days := local / 86400
	s := local % 86400
	y, mo, d := civil(days)
	g.str(dayAbbr[days%7])
	g.buf = append(g.buf, ' ')
	g.str(monthAbbr[mo])
	g.buf = append(g.buf, ' ')
	g.buf = pad(g.buf, d, 2)
	g.buf = append(g.buf, ' ')
	g.buf = pad(g.buf, s/3600, 2)
	g.buf = append(g.buf, ':')
	g.buf = pad(g.buf, s/60%60, 2)
	g.buf = append(g.buf, ':')
	g.buf = pad(g.buf, s%60, 2)
	g.buf = append(g.buf, ' ')
	if offset < 0 {
		g.buf = append(g.buf, '-')
		offset = -offset
	} else {
		g.buf = append(g.buf, '+')
	}
	g.buf = pad(g.buf, int64(offset/60), 2)
	g.buf = pad(g.buf, int64(offset%60), 2)
	g.buf = append(g.buf, ' ')
	g.buf = pad(g.buf, y, 4)
}

// civil converts days since 1970-01-01 (not before it) to a date.
func civil(days int64) (y, m, d int64) {
	z := days + 719468
	era := z / 146097
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	if mp < 10 {
		m = mp + 3
	} else {
		m = mp - 9
	}
	if m <= 2 {
		y++
	}
	return
}

func pad(dst []byte, v int64, width int) []byte {
	var b [8]byte
	for i := width - 1; i >= 0; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return append(dst, b[:width]...)
}
