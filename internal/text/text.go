// Package text cleans free text the way the pipeline stores it: HTML tags
// removed and entities decoded (for columns that hold HTML), and runs of
// white space and control characters collapsed to one space, trimmed. The
// transform step and the API capture share it, so text is cleaned the same
// way wherever it enters.
package text

import (
	"bytes"
	"html"
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
	if htmlText && (bytes.IndexByte(in, '<') >= 0 || bytes.IndexByte(in, '&') >= 0) {
		in = []byte(StripHTML(in))
	}
	// Fast path: nothing to collapse.
	clean := len(in) > 0 && in[0] != ' ' && in[len(in)-1] != ' '
	if clean {
		for i, c := range in {
			if isSpace(c) && (c != ' ' || in[i+1] == ' ') {
				clean = false
				break
			}
		}
	}
	if clean {
		return append(dst, in...)
	}
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
