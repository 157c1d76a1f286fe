// Package text cleans free text the way the pipeline stores it: HTML tags
// removed and entities decoded (for columns that hold HTML), and runs of
// white space and control characters collapsed to one space, trimmed. The
// transform step and the API capture share it, so text is cleaned the same
// way wherever it enters.
package text

import (
	"bytes"
	"encoding/binary"
	"html"
	"math/bits"
	"unicode/utf8"
)

// Clean returns s cleaned: HTML removed when htmlText is set, white space collapsed and trimmed.
func Clean(s string, htmlText bool) string {
	return string(AppendClean(make([]byte, 0, len(s)), []byte(s), htmlText))
}

// isSpace reports ASCII white space and other control characters, all of
// which collapse to one space in clean text.
func isSpace(c byte) bool { return c <= ' ' || c == 0x7f }

// AppendClean appends in with HTML removed (when html is set) and runs of white
// space collapsed to one space, trimmed at both ends.
func AppendClean(dst, in []byte, htmlText bool) []byte {
	if htmlText && hasMarkup(in) {
		return appendStrippedClean(dst, in)
	} else if plain(in) {
		return append(dst, in...)
	}
	return collapse(dst, in)
}

// appendStrippedClean appends in with HTML removed and white space
// collapsed. Text without entities has its tags removed into dst, then is
// collapsed in place (collapsing never lengthens text, and writes behind
// where it reads); entities take StripHTML's way.
func appendStrippedClean(dst, in []byte) []byte {
	if bytes.IndexByte(in, '&') >= 0 {
		return collapse(dst, []byte(StripHTML(in)))
	}
	start := len(dst)
	dst = appendTagsRemoved(dst, in)
	return collapse(dst[:start], dst[start:])
}

// AppendCleanValid is AppendClean for input that must be valid UTF-8: it
// reports false, appending nothing, when in is not. The check shares
// AppendClean's one pass over the bytes.
func AppendCleanValid(dst, in []byte, htmlText bool) ([]byte, bool) {
	if htmlText && hasMarkup(in) {
		if !utf8.Valid(in) {
			return dst, false
		}
		return appendStrippedClean(dst, in), true
	}
	clean, ascii := scan(in)
	if !ascii && !utf8.Valid(in) {
		return dst, false
	}
	if clean {
		return append(dst, in...), true
	}
	return collapse(dst, in), true
}

func hasMarkup(in []byte) bool {
	return bytes.IndexByte(in, '<') >= 0 || bytes.IndexByte(in, '&') >= 0
}

// plain reports whether in needs no cleaning: no control characters, no two
// spaces in a row, no space at either end.
func plain(in []byte) bool {
	clean, _ := scan(in)
	return clean
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
	low = 0x7f7f7f7f7f7f7f7f
)

// scan reports, in one pass, whether in is already clean (no ASCII control
// character or DEL, no two spaces in a row, no space at either end, not
// empty) and whether it is all ASCII. Bytes of 0x80 and above are never
// white space here: multi-byte UTF-8 sequences hold no byte below 0x80.
// Sixteen bytes are tested at a time, without a branch until the end.
func scan(in []byte) (clean, ascii bool) {
	n := len(in)
	if n == 0 || in[0] == ' ' || in[n-1] == ' ' {
		return false, allASCII(in)
	}
	// bad collects, in the high bit of each byte, a control character or
	// DEL, or a space after a space; prev is 0x80 when the byte before the
	// current word is a space.
	var high, bad, prev uint64
	i := 0
	for ; i+16 <= n; i += 16 {
		w := binary.LittleEndian.Uint64(in[i:])
		v := binary.LittleEndian.Uint64(in[i+8:])
		high |= w | v
		bad |= ctrlOrDel(w) | ctrlOrDel(v)
		sw, sv := spaces(w), spaces(v)
		bad |= sw&(sw<<8|prev) | sv&(sv<<8|sw>>56)
		prev = sv >> 56
	}
	if i+8 <= n {
		w := binary.LittleEndian.Uint64(in[i:])
		high |= w
		sw := spaces(w)
		bad |= ctrlOrDel(w) | sw&(sw<<8|prev)
		prev = sw >> 56
		i += 8
	}
	if i < n && n >= 8 {
		// The last bytes, as the eight that end the text: the bytes seen
		// twice change nothing (and the pair across i is inside the word).
		w := binary.LittleEndian.Uint64(in[n-8:])
		high |= w
		sw := spaces(w)
		bad |= ctrlOrDel(w) | sw&(sw<<8)
		i = n
	}
	if bad&msb != 0 {
		return false, high&msb == 0 && allASCII(in[i:])
	}
	for ; i < n; i++ {
		c := in[i]
		if c >= 0x80 {
			high = msb
			prev = 0
			continue
		}
		if c < ' ' || c == 0x7f || (c == ' ' && (prev != 0 || (i+1 < n && in[i+1] == ' '))) {
			return false, high&msb == 0 && allASCII(in[i:])
		}
		prev = 0
	}
	return true, high&msb == 0
}

// ctrlOrDel sets the high bit of each ASCII byte of w below 0x20 or equal to
// 0x7f (and maybe other bits): adding one to the low seven bits turns DEL
// into 0 and the controls into 1 to 0x20, the bytes below 0x21 then.
func ctrlOrDel(w uint64) uint64 {
	y := ((w & low) + lsb) & low
	return ^(y + lsb*(0x80-0x21)) &^ w & msb
}

// spaces sets the high bit of each byte of w that is a space (and no other bit).
func spaces(w uint64) uint64 {
	x := w ^ 0x2020202020202020
	return ^(((x & low) + low) | x) & msb
}

func allASCII(b []byte) bool {
	i := 0
	for ; i+8 <= len(b); i += 8 {
		if binary.LittleEndian.Uint64(b[i:])&msb != 0 {
			return false
		}
	}
	for ; i < len(b); i++ {
		if b[i] >= 0x80 {
			return false
		}
	}
	return true
}

// collapse appends in with runs of white space and control characters
// collapsed to one space, trimmed at both ends. Runs of other bytes are
// found eight bytes at a time and copied whole.
func collapse(dst, in []byte) []byte {
	i := 0
	for i < len(in) && isSpace(in[i]) {
		i++
	}
	for i < len(in) {
		n := i + wordRun(in[i:])
		dst = append(dst, in[i:n]...)
		i = n
		for i < len(in) && isSpace(in[i]) {
			i++
		}
		if i < len(in) {
			dst = append(dst, ' ')
		}
	}
	return dst
}

// wordRun returns the length of the run of bytes at the start of b that are
// not white space (isSpace). A byte below 0x21 makes (x - 0x21) &^ x set its
// high bit, DEL makes (x^0x7f - 1) &^ (x^0x7f) set it; both are exact for
// the lowest such byte of a word, the one looked for.
func wordRun(b []byte) int {
	i := 0
	for ; i+8 <= len(b); i += 8 {
		w := binary.LittleEndian.Uint64(b[i:])
		d := w ^ (lsb * 0x7f)
		m := ((w - lsb*0x21) &^ w) | ((d - lsb) &^ d)
		if m &= msb; m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for i < len(b) && !isSpace(b[i]) {
		i++
	}
	return i
}

// StripHTML removes tags (<b>, </i>, <br />, <!-- -->) and decodes entities
// (&amp;, &#8217;, &#x1f;). A '<' that does not open a tag is kept.
func StripHTML(in []byte) string {
	s := string(appendTagsRemoved(make([]byte, 0, len(in)), in))
	if bytes.IndexByte(in, '&') >= 0 {
		s = html.UnescapeString(s)
		// A no-break space is white space like any other.
		s = string(bytes.ReplaceAll([]byte(s), []byte("\u00a0"), []byte(" ")))
	}
	return s
}

// appendTagsRemoved appends in without its tags; a block tag becomes a
// space. The text between tags is copied in runs.
func appendTagsRemoved(dst, in []byte) []byte {
	for i := 0; i < len(in); {
		j := bytes.IndexByte(in[i:], '<')
		if j < 0 {
			return append(dst, in[i:]...)
		}
		dst = append(dst, in[i:i+j]...)
		i += j
		if i+1 < len(in) && isTagStart(in[i+1]) {
			end := bytes.IndexByte(in[i:], '>')
			if end > 0 {
				if isBlockTag(in[i+1 : i+end]) {
					dst = append(dst, ' ')
				}
				i += end + 1
				continue
			}
		}
		dst = append(dst, '<')
		i++
	}
	return dst
}

func isTagStart(c byte) bool {
	return c == '/' || c == '!' || c == '?' || (c|0x20 >= 'a' && c|0x20 <= 'z')
}

// isBlockTag reports whether the tag t (its text between '<' and '>') is one
// of the block tags, which become a space when removed so that words on
// both sides stay apart.
func isBlockTag(t []byte) bool {
	t = bytes.TrimLeft(t, "/!?")
	var name [len("blockquote")]byte
	n := 0
	for ; n < len(t) && (t[n]|0x20 >= 'a' && t[n]|0x20 <= 'z' || t[n] >= '0' && t[n] <= '9'); n++ {
		if n == len(name) {
			return false // longer than any block tag
		}
		c := t[n]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		name[n] = c
	}
	switch string(name[:n]) {
	case "br", "p", "div", "li", "ul", "ol", "tr", "td", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "hr":
		return true
	}
	return false
}
