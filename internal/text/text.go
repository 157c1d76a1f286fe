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
		in = []byte(StripHTML(in))
	} else if plain(in) {
		return append(dst, in...)
	}
	return collapse(dst, in)
}

// AppendCleanValid is AppendClean for input that must be valid UTF-8: it
// reports false, appending nothing, when in is not. The check shares
// AppendClean's one pass over the bytes.
func AppendCleanValid(dst, in []byte, htmlText bool) ([]byte, bool) {
	if htmlText && hasMarkup(in) {
		if !utf8.Valid(in) {
			return dst, false
		}
		return collapse(dst, []byte(StripHTML(in))), true
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
// Eight bytes are tested at a time.
func scan(in []byte) (clean, ascii bool) {
	n := len(in)
	if n == 0 || in[0] == ' ' || in[n-1] == ' ' {
		return false, allASCII(in)
	}
	var high uint64
	prevSpace := uint64(0)
	i := 0
	for ; i+8 <= n; i += 8 {
		w := binary.LittleEndian.Uint64(in[i:])
		notHigh := ^w & msb
		high |= w & msb
		// An ASCII byte below 0x20: its low seven bits plus 0x60 stay below 0x80.
		ctrl := ^((w & low) + 0x6060606060606060) & notHigh
		// DEL: its low seven bits plus 1 reach 0x80.
		del := ((w & low) + lsb) & notHigh & msb
		// Spaces: the bytes of w ^ 0x20... that are zero.
		x := w ^ 0x2020202020202020
		spaces := ^(((x & low) + low) | x) & msb
		pairs := spaces&(spaces<<8) | spaces&prevSpace
		if ctrl|del|pairs != 0 {
			return false, high == 0 && allASCII(in[i:])
		}
		prevSpace = spaces >> 56 & 0x80
	}
	for ; i < n; i++ {
		c := in[i]
		if c >= 0x80 {
			high = 1
			continue
		}
		if c < ' ' || c == 0x7f || (c == ' ' && (prevSpace != 0 || (i+1 < n && in[i+1] == ' '))) {
			return false, high == 0 && allASCII(in[i:])
		}
		prevSpace = 0
	}
	return true, high == 0
}

func allASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// collapse appends in with runs of white space and control characters
// collapsed to one space, trimmed at both ends.
func collapse(dst, in []byte) []byte {
	pending := false
	wrote := false
	for _, c := range in {
		if isSpace(c) {
			pending = wrote
			continue
		}
		if pending {
			dst = append(dst, ' ')
			pending = false
		}
		dst = append(dst, c)
		wrote = true
	}
	return dst
}

// blockTags become a space when removed, so words on both sides stay apart.
var blockTags = map[string]bool{"br": true, "p": true, "div": true, "li": true, "ul": true, "ol": true,
	"tr": true, "td": true, "h1": true, "h2": true, "h3": true, "h4": true, "h5": true, "h6": true, "blockquote": true, "hr": true}

// StripHTML removes tags (<b>, </i>, <br />, <!-- -->) and decodes entities
// (&amp;, &#8217;, &#x1f;). A '<' that does not open a tag is kept.
func StripHTML(in []byte) string {
	var out bytes.Buffer
	out.Grow(len(in))
	for i := 0; i < len(in); {
		c := in[i]
		if c == '<' && i+1 < len(in) && isTagStart(in[i+1]) {
			end := bytes.IndexByte(in[i:], '>')
			if end > 0 {
				name := tagName(in[i+1 : i+end])
				if blockTags[name] {
					out.WriteByte(' ')
				}
				i += end + 1
				continue
			}
		}
		out.WriteByte(c)
		i++
	}
	s := out.String()
	if bytes.IndexByte(in, '&') >= 0 {
		s = html.UnescapeString(s)
		// A no-break space is white space like any other.
		s = string(bytes.ReplaceAll([]byte(s), []byte("\u00a0"), []byte(" ")))
	}
	return s
}

func isTagStart(c byte) bool {
	return c == '/' || c == '!' || c == '?' || (c|0x20 >= 'a' && c|0x20 <= 'z')
}

func tagName(t []byte) string {
	t = bytes.TrimLeft(t, "/!?")
	n := 0
	for n < len(t) && (t[n]|0x20 >= 'a' && t[n]|0x20 <= 'z' || t[n] >= '0' && t[n] <= '9') {
		n++
	}
	return string(bytes.ToLower(t[:n]))
}
