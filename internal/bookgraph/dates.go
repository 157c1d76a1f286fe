package bookgraph

import (
	"time"
)

// DefaultSnapshot is the record_create_timestamp given to the books, authors
// and users of a UCSD dump (setting ucsd_snapshot): the crawl ended in late
// 2017, its exact date is unknown. A dump's rows then never replace a row of
// the same id captured later (the warehouse keeps the newer version).
var DefaultSnapshot = time.Date(2017, time.December, 1, 0, 0, 0, 0, time.UTC)

var months = [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

func monthOf(b []byte) int {
	for i, m := range months {
		if string(b) == m {
			return i + 1
		}
	}
	return 0
}

func isWeekday(b []byte) bool {
	switch string(b) {
	case "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun":
		return true
	}
	return false
}

// num parses exactly len(b) ASCII digits.
func num(b []byte) (int, bool) {
	if len(b) == 0 {
		return 0, false
	}
	v := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

// goodreadsTime parses "Sun Jul 30 07:44:10 -0700 2017" (strftime
// "%a %b %d %H:%M:%S %z %Y"; a one-digit day, padded with a space or not, is
// accepted) and returns it in UTC.
func goodreadsTime(b []byte) (time.Time, bool) {
	if len(b) < 29 || b[3] != ' ' || b[7] != ' ' || !isWeekday(b[0:3]) {
		return time.Time{}, false
	}
	mo := monthOf(b[4:7])
	if mo == 0 {
		return time.Time{}, false
	}
	rest := b[8:]
	if rest[0] == ' ' {
		rest = rest[1:]
	}
	dlen := 2
	if len(rest) > 1 && rest[1] == ' ' {
		dlen = 1
	}
	d, ok := num(rest[:dlen])
	rest = rest[dlen:]
	// " 07:44:10 -0700 2017"
	if !ok || len(rest) != 20 || rest[0] != ' ' || rest[3] != ':' || rest[6] != ':' || rest[9] != ' ' ||
		rest[15] != ' ' || (rest[10] != '+' && rest[10] != '-') {
		return time.Time{}, false
	}
	h, ok1 := num(rest[1:3])
	mi, ok2 := num(rest[4:6])
	s, ok3 := num(rest[7:9])
	oh, ok4 := num(rest[11:13])
	om, ok5 := num(rest[13:15])
	y, ok6 := num(rest[16:20])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || !validDate(y, mo, d) || h > 23 || mi > 59 || s > 59 || om > 59 {
		return time.Time{}, false
	}
	off := oh*3600 + om*60
	if rest[10] == '-' {
		off = -off
	}
	return time.Date(y, time.Month(mo), d, h, mi, s, 0, time.UTC).Add(-time.Duration(off) * time.Second), true
}

// ParseDate parses "YYYY-MM-DD" (sep '-') or "YYYY/MM/DD" (sep '/') as midnight UTC.
func ParseDate(b []byte, sep byte) (time.Time, bool) {
	if len(b) != 10 || b[4] != sep || b[7] != sep {
		return time.Time{}, false
	}
	y, ok1 := num(b[0:4])
	m, ok2 := num(b[5:7])
	d, ok3 := num(b[8:10])
	if !(ok1 && ok2 && ok3) || !validDate(y, m, d) {
		return time.Time{}, false
	}
	return time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC), true
}

func validDate(y, m, d int) bool {
	if y < 1 || m < 1 || m > 12 || d < 1 {
		return false
	}
	return d <= time.Date(y, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// AppendTimestamp appends t as the ISO form record_create_timestamp takes in
// input files: "2017-08-30 07:00:26".
func AppendTimestamp(dst []byte, t time.Time) []byte {
	t = t.UTC()
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	dst = appendPad(dst, y, 4)
	dst = append(dst, '-')
	dst = appendPad(dst, int(mo), 2)
	dst = append(dst, '-')
	dst = appendPad(dst, d, 2)
	dst = append(dst, ' ')
	dst = appendPad(dst, h, 2)
	dst = append(dst, ':')
	dst = appendPad(dst, mi, 2)
	dst = append(dst, ':')
	return appendPad(dst, s, 2)
}

func appendPad(dst []byte, v, width int) []byte {
	var buf [8]byte
	for i := width - 1; i >= 0; i-- {
		buf[i] = byte('0' + v%10)
		v /= 10
	}
	return append(dst, buf[:width]...)
}

// AppendGoodreadsTime appends t in UTC in the Goodreads form
// "Fri Nov 30 00:00:00 +0000 2018".
func AppendGoodreadsTime(dst []byte, t time.Time) []byte {
	return t.UTC().AppendFormat(dst, "Mon Jan 02 15:04:05 -0700 2006")
}
