package transform

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"unsafe"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/text"
)

// appendValue validates one input field for col and appends its clean form to
// dst, in the format the staging reader expects (tab-free text, ISO
// timestamps in UTC, canonical numbers). An empty field appends nothing
// (NULL). A field that does not parse returns a reason.
func appendValue(dst []byte, col grpipe.Column, in []byte) ([]byte, string) {
	if col.Type != grpipe.Text && len(in) > 0 && (untrimmed(in[0]) || untrimmed(in[len(in)-1])) {
		in = bytes.TrimSpace(in)
	}
	if len(in) == 0 {
		if col.Required {
			return dst, fmt.Sprintf("%s is empty", col.Name)
		}
		return dst, ""
	}
	switch col.Type {
	case grpipe.Text:
		out, ok := text.AppendCleanValid(dst, in, col.HTML)
		if !ok {
			return dst, fmt.Sprintf("%s is not valid UTF-8", col.Name)
		}
		return out, ""
	case grpipe.BigInt, grpipe.Int, grpipe.SmallInt:
		if v, ok := smallInt(in); ok && v <= maxOf(col.Type) {
			// Plain digits, no sign, no leading zero: already canonical.
			return append(dst, in...), ""
		}
		v, err := strconv.ParseInt(bstr(in), 10, bitSize(col.Type))
		if err != nil {
			if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
				return dst, fmt.Sprintf("%s %q out of range for %s", col.Name, clip(in), col.Type.SQL())
			}
			return dst, fmt.Sprintf("%s %q is not an integer", col.Name, clip(in))
		}
		if col.Required && v < 0 && col.Type == grpipe.BigInt {
			return dst, fmt.Sprintf("%s %d out of range: ids are not negative", col.Name, v)
		}
		if col.NonNegative && v < 0 {
			return dst, fmt.Sprintf("%s %d is negative: it is a count", col.Name, v)
		}
		return strconv.AppendInt(dst, v, 10), ""
	case grpipe.Double:
		if plainDecimal(in) {
			// Digits with an optional fraction: the staging reader parses
			// them to the same double as strconv does, so they stay as given.
			if col.Name == "review_rating" {
				if v, err := strconv.ParseFloat(bstr(in), 64); err != nil || v > 5 {
					return dst, fmt.Sprintf("review_rating %v out of range [0, 5]", v)
				}
			}
			return append(dst, in...), ""
		}
		v, err := strconv.ParseFloat(bstr(in), 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || bytes.ContainsAny(in, "xXpP_") {
			return dst, fmt.Sprintf("%s %q is not a number", col.Name, clip(in))
		}
		if col.Name == "review_rating" && (v < 0 || v > 5) {
			return dst, fmt.Sprintf("review_rating %v out of range [0, 5]", v)
		}
		return strconv.AppendFloat(dst, v, 'g', -1, 64), ""
	case grpipe.Boolean:
		switch string(in) {
		case "true", "True", "TRUE", "t", "T", "1", "yes":
			return append(dst, "true"...), ""
		case "false", "False", "FALSE", "f", "F", "0", "no":
			return append(dst, "false"...), ""
		}
		return dst, fmt.Sprintf("%s %q is not a boolean", col.Name, clip(in))
	case grpipe.Timestamp:
		out, ok := appendISOTimestamp(dst, in)
		if !ok {
			return dst, fmt.Sprintf("%s %q is not a timestamp like 2020-02-19 21:38:16.690535", col.Name, clip(in))
		}
		return checkYear(dst, out, col, in)
	case grpipe.GoodreadsTS:
		out, ok := appendGoodreadsTime(dst, in)
		if !ok {
			return dst, fmt.Sprintf("%s %q is not a date like Wed Feb 19 18:36:17 -0800 2020", col.Name, clip(in))
		}
		return checkYear(dst, out, col, in)
	}
	return dst, fmt.Sprintf("%s has an unknown type", col.Name)
}

// untrimmed reports whether bytes.TrimSpace may drop c at an end of a
// value: ASCII white space, or a byte of a multi-byte character (Unicode
// has white space beyond ASCII).
func untrimmed(c byte) bool { return c <= ' ' || c >= 0x80 }

// checkYear refuses a timestamp (appended to dst as out, "YYYY-...") whose
// UTC year lies outside [grpipe.MinTimestampYear, grpipe.MaxTimestampYear].
func checkYear(dst, out []byte, col grpipe.Column, in []byte) ([]byte, string) {
	y, _ := digits(out, len(dst), 4)
	if y < grpipe.MinTimestampYear || y > grpipe.MaxTimestampYear {
		return dst, fmt.Sprintf("%s %q lies outside the years %d to %d", col.Name, clip(in), grpipe.MinTimestampYear, grpipe.MaxTimestampYear)
	}
	return out, ""
}

// smallInt parses in when it is 1 to 18 ASCII digits without a sign and
// without a leading zero (or is "0"): the canonical form of a non-negative
// integer, which needs no rewriting.
func smallInt(in []byte) (int64, bool) {
	if len(in) == 0 || len(in) > 18 || (in[0] == '0' && len(in) > 1) {
		return 0, false
	}
	var v int64
	for _, c := range in {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	return v, true
}

// maxOf is the largest value of an integer column type.
func maxOf(t grpipe.ColumnType) int64 {
	switch t {
	case grpipe.Int:
		return math.MaxInt32
	case grpipe.SmallInt:
		return math.MaxInt16
	}
	return math.MaxInt64
}

// plainDecimal reports whether in is digits with an optional fraction
// ("4", "4.12", "0.5"): no sign, exponent, or other spelling.
func plainDecimal(in []byte) bool {
	dot := -1
	for i, c := range in {
		if c == '.' && dot < 0 && i > 0 {
			dot = i
			continue
		}
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(in) > 0 && dot != len(in)-1
}

func bitSize(t grpipe.ColumnType) int {
	switch t {
	case grpipe.Int:
		return 32
	case grpipe.SmallInt:
		return 16
	}
	return 64
}

// bstr views b as a string without copying; the string must not outlive b's use.
func bstr(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// clip shortens a value for an error message.
func clip(b []byte) string {
	const max = 40
	if len(b) > max {
		return string(bytes.ToValidUTF8(b[:max], []byte("?"))) + "…"
	}
	return string(bytes.ToValidUTF8(b, []byte("?")))
}

// two parses the two ASCII digits at b[i:] (which must hold two bytes),
// without a loop: a Goodreads date has seven pairs, read for every review.
func two(b []byte, i int) (int, bool) {
	hi, lo := b[i]-'0', b[i+1]-'0' // a byte below '0' wraps around above 9
	return int(hi)*10 + int(lo), hi <= 9 && lo <= 9
}

// digits parses exactly n ASCII digits at b[i:].
func digits(b []byte, i, n int) (int, bool) {
	if i+n > len(b) {
		return 0, false
	}
	v := 0
	for _, c := range b[i : i+n] {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

// appendISOTimestamp parses "YYYY-MM-DD HH:MM:SS[.ffffff][Z|±HH:MM]" (a 'T'
// may separate date and time) and appends it in UTC as "YYYY-MM-DD HH:MM:SS.ffffff".
func appendISOTimestamp(dst, in []byte) ([]byte, bool) {
	y, ok1 := digits(in, 0, 4)
	mo, ok2 := digits(in, 5, 2)
	d, ok3 := digits(in, 8, 2)
	h, ok4 := digits(in, 11, 2)
	mi, ok5 := digits(in, 14, 2)
	s, ok6 := digits(in, 17, 2)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || len(in) < 19 || in[4] != '-' || in[7] != '-' ||
		(in[10] != ' ' && in[10] != 'T') || in[13] != ':' || in[16] != ':' {
		return dst, false
	}
	i := 19
	micros := 0
	if i < len(in) && in[i] == '.' {
		i++
		n := 0
		for i < len(in) && in[i] >= '0' && in[i] <= '9' {
			if n < 6 {
				micros = micros*10 + int(in[i]-'0')
			}
			n++
			i++
		}
		if n == 0 {
			return dst, false
		}
		for ; n < 6; n++ {
			micros *= 10
		}
	}
	offset := 0
	if i < len(in) {
		switch in[i] {
		case 'Z':
			i++
		case '+', '-':
			oh, ok := digits(in, i+1, 2)
			if !ok {
				return dst, false
			}
			j := i + 3
			if j < len(in) && in[j] == ':' {
				j++
			}
			om, ok := digits(in, j, 2)
			if !ok {
				return dst, false
			}
			if !validOffset(oh, om) {
				return dst, false
			}
			offset = oh*3600 + om*60
			if in[i] == '-' {
				offset = -offset
			}
			i = j + 2
		}
	}
	if i != len(in) || !validDate(y, mo, d) || h > 23 || mi > 59 || s > 59 {
		return dst, false
	}
	if offset == 0 && len(in) == 26 && in[10] == ' ' && in[19] == '.' && allDigits(in[20:26]) {
		return append(dst, in...), true // already "YYYY-MM-DD HH:MM:SS.ffffff" in UTC
	}
	return appendUTC(dst, y, mo, d, h, mi, s, micros, offset, true)
}

// name3 packs three bytes (a day or month name) into an integer to switch on.
func name3(b []byte) uint32 { return uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2]) }

// monthNumber returns the month (1-12) of an English three-letter month name, 0 for none.
func monthNumber(b []byte) int {
	switch name3(b) {
	case 'J'<<16 | 'a'<<8 | 'n':
		return 1
	case 'F'<<16 | 'e'<<8 | 'b':
		return 2
	case 'M'<<16 | 'a'<<8 | 'r':
		return 3
	case 'A'<<16 | 'p'<<8 | 'r':
		return 4
	case 'M'<<16 | 'a'<<8 | 'y':
		return 5
	case 'J'<<16 | 'u'<<8 | 'n':
		return 6
	case 'J'<<16 | 'u'<<8 | 'l':
		return 7
	case 'A'<<16 | 'u'<<8 | 'g':
		return 8
	case 'S'<<16 | 'e'<<8 | 'p':
		return 9
	case 'O'<<16 | 'c'<<8 | 't':
		return 10
	case 'N'<<16 | 'o'<<8 | 'v':
		return 11
	case 'D'<<16 | 'e'<<8 | 'c':
		return 12
	}
	return 0
}

// dayName reports whether b is an English three-letter day name ("Mon").
func dayName(b []byte) bool {
	switch name3(b) {
	case 'M'<<16 | 'o'<<8 | 'n', 'T'<<16 | 'u'<<8 | 'e', 'W'<<16 | 'e'<<8 | 'd', 'T'<<16 | 'h'<<8 | 'u',
		'F'<<16 | 'r'<<8 | 'i', 'S'<<16 | 'a'<<8 | 't', 'S'<<16 | 'u'<<8 | 'n':
		return true
	}
	return false
}

// appendGoodreadsTime parses "Wed Feb 19 18:36:17 -0800 2020" and appends it
// in UTC as "YYYY-MM-DD HH:MM:SS".
func appendGoodreadsTime(dst, in []byte) ([]byte, bool) {
	// Mon Jan 02 15:04:05 -0700 2006
	// 29 bytes with a one-digit day ("Mon Feb 3 ..."), 30 otherwise.
	if len(in) < 29 || in[3] != ' ' || in[7] != ' ' || !dayName(in[0:3]) {
		return dst, false
	}
	mo := monthNumber(in[4:7])
	if mo == 0 {
		return dst, false
	}
	i := 8
	dlen := 2
	if in[i+1] == ' ' {
		dlen = 1
	} else if in[i] == ' ' {
		i++
		dlen = 1
	}
	d, ok := digits(in, i, dlen)
	if !ok {
		return dst, false
	}
	rest := in[i+dlen:]
	// " 15:04:05 -0700 2006"
	if len(rest) != 20 || rest[0] != ' ' || rest[3] != ':' || rest[6] != ':' || rest[9] != ' ' || rest[15] != ' ' ||
		(rest[10] != '+' && rest[10] != '-') {
		return dst, false
	}
	h, ok1 := two(rest, 1)
	mi, ok2 := two(rest, 4)
	s, ok3 := two(rest, 7)
	oh, ok4 := two(rest, 11)
	om, ok5 := two(rest, 13)
	yh, ok6 := two(rest, 16)
	yl, ok7 := two(rest, 18)
	y := yh*100 + yl
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7) || !validDate(y, mo, d) || h > 23 || mi > 59 || s > 59 || !validOffset(oh, om) {
		return dst, false
	}
	offset := oh*3600 + om*60
	if rest[10] == '-' {
		offset = -offset
	}
	return appendUTC(dst, y, mo, d, h, mi, s, 0, offset, false)
}

func validDate(y, m, d int) bool {
	if m < 1 || m > 12 || d < 1 || y < 1 {
		return false
	}
	return d <= daysIn(y, m)
}

func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// allDigits reports whether b is all ASCII digits ("0.5+0000" is 26 bytes
// too: six fraction digits, not an offset, make the clean form).
func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// validOffset reports whether a UTC offset of oh hours and om minutes exists
// somewhere: at most 14 hours (Kiribati, UTC+14), minutes below 60.
func validOffset(oh, om int) bool { return om < 60 && oh*60+om <= 14*60 }

// appendUTC converts a local wall time with a UTC offset in seconds to UTC
// and appends it; false when the UTC time falls outside the years 1 to 9999.
func appendUTC(dst []byte, y, mo, d, h, mi, s, micros, offset int, withMicros bool) ([]byte, bool) {
	if offset != 0 {
		// Shift by whole minutes, carrying through days, months and years.
		total := h*3600 + mi*60 + s - offset
		dayShift := 0
		for total < 0 {
			total += 86400
			dayShift--
		}
		for total >= 86400 {
			total -= 86400
			dayShift++
		}
		h, mi, s = total/3600, total/60%60, total%60
		for ; dayShift > 0; dayShift-- {
			d++
			if d > daysIn(y, mo) {
				d = 1
				mo++
				if mo > 12 {
					mo = 1
					y++
				}
			}
		}
		for ; dayShift < 0; dayShift++ {
			d--
			if d < 1 {
				mo--
				if mo < 1 {
					mo = 12
					y--
				}
				d = daysIn(y, mo)
			}
		}
	}
	if y < 1 || y > 9999 {
		return dst, false
	}
	n := len(dst)
	if withMicros {
		dst = append(dst, "0000-00-00 00:00:00.000000"...)
	} else {
		dst = append(dst, "0000-00-00 00:00:00"...)
	}
	b := dst[n:]
	put2(b[0:], y/100)
	put2(b[2:], y%100)
	put2(b[5:], mo)
	put2(b[8:], d)
	put2(b[11:], h)
	put2(b[14:], mi)
	put2(b[17:], s)
	if withMicros {
		put2(b[20:], micros/10000)
		put2(b[22:], micros/100%100)
		put2(b[24:], micros%100)
	}
	return dst, true
}

// put2 writes v (0-99) as two digits at b.
func put2(b []byte, v int) {
	_ = b[1]
	b[0] = byte('0' + v/10)
	b[1] = byte('0' + v%10)
}
