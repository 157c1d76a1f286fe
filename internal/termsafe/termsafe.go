// Package termsafe makes text from data safe to print on a terminal: a value
// read from the warehouse (a review, a name) may hold escape sequences that
// would clear the screen, move the cursor, retitle the window or hide what
// follows, and control characters that break a table's layout.
package termsafe

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Unsafe reports whether r must not reach a terminal as it is: C0 and C1
// control characters (ESC and CSI among them), DEL, and the Unicode
// formatting characters that reorder or hide text (bidirectional overrides
// and isolates, the line and paragraph separators).
func Unsafe(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f, r == 0x061c:
		return true
	case r == 0x2028 || r == 0x2029:
		return true
	}
	return false
}

// Escape returns s with every unsafe character written as a visible escape:
// \t, \n and \r for those three, \x1b for other bytes below 0x80, \u202e
// for others, and \xff for each byte that is not UTF-8; a back slash that
// would read as the start of an escape is doubled. Text without such
// characters is returned as it is.
func Escape(s string) string {
	if !needs(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case Unsafe(r) && r < 0x80:
			fmt.Fprintf(&b, `\x%02x`, r)
		case Unsafe(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// needs reports whether s holds an unsafe character, a back slash or a byte
// that is not UTF-8 (only then does Escape change it).
func needs(s string) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f || c == '\\' {
				return true
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && n == 1) || Unsafe(r) {
			return true
		}
		i += n
	}
	return false
}

// JSON rewrites the unsafe characters of encoded JSON (from encoding/json,
// which escapes those below 0x20 inside strings but not DEL, C1 controls or
// bidirectional overrides) as \uXXXX escapes: the JSON still decodes to the
// same values. Such characters only occur inside strings, where the escape
// means the same character; white space between values is kept.
func JSON(b []byte) []byte {
	if !needsJSON(b) {
		return b
	}
	out := make([]byte, 0, len(b)+16)
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r >= 0x7f && Unsafe(r) {
			out = fmt.Appendf(out, `\u%04x`, r)
		} else {
			out = append(out, b[i:i+n]...)
		}
		i += n
	}
	return out
}

func needsJSON(b []byte) bool {
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			if b[i] == 0x7f {
				return true
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(b[i:])
		if Unsafe(r) {
			return true
		}
		i += n
	}
	return false
}
