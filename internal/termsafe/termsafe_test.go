package termsafe_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/grpipe/grpipe/internal/termsafe"
)

func TestEscape(t *testing.T) {
	cases := []struct{ name, in, want string }{
		{"plain", "Cannery Row", "Cannery Row"},
		{"unicode", "レビュー — नमस्ते", "レビュー — नमस्ते"},
		{"clear screen", "\x1b[2J\x1b[Hhi", `\x1b[2J\x1b[Hhi`},
		{"window title", "\x1b]0;pwned\x07", `\x1b]0;pwned\x07`},
		{"csi c1", "a\u009b2Jb", `a\u009b2Jb`},
		{"layout", "a\tb\r\nc", `a\tb\r\nc`},
		{"back slash", `C:\x1b`, `C:\\x1b`},
		{"bidi override", "abc\u202edcba", `abc\u202edcba`},
		{"del", "a\x7fb", `a\x7fb`},
		{"invalid utf-8", "a\xffb", `a\xffb`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := termsafe.Escape(tc.in); got != tc.want {
				t.Fatalf("Escape(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestJSON(t *testing.T) {
	v := map[string]string{"text": "a\x1b[2J\u009b\u202e\x7fz", "ok": "plain"}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	out := termsafe.JSON(buf.Bytes())
	for _, r := range string(out) {
		if termsafe.Unsafe(r) && r != '\n' {
			t.Fatalf("JSON output holds %U: %q", r, out)
		}
	}
	var back map[string]string
	if err := json.Unmarshal(out, &back); err != nil || back["text"] != v["text"] || back["ok"] != "plain" {
		t.Fatalf("JSON output %q decodes to %v (%v), want %v", out, back, err, v)
	}
}

// FuzzEscape checks that nothing unsafe survives Escape, that safe text is
// left alone, and that the escaped text decodes back to the input.
func FuzzEscape(f *testing.F) {
	for _, s := range []string{"plain", "\x1b[2J", "a\u009bb", "\\x1b", "\xff\xfe", "abc\u202e", "a\tb\nc\r", "\u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := termsafe.Escape(s)
		if !utf8.ValidString(got) {
			t.Fatalf("Escape(%q) = %q: not UTF-8", s, got)
		}
		for _, r := range got {
			if termsafe.Unsafe(r) {
				t.Fatalf("Escape(%q) = %q holds %U", s, got, r)
			}
		}
		if utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool { return termsafe.Unsafe(r) || r == '\\' }) && got != s {
			t.Fatalf("Escape(%q) = %q changed safe text", s, got)
		}
		if back := unescape(t, got); back != s {
			t.Fatalf("Escape(%q) = %q reads back as %q", s, got, back)
		}
	})
}

// unescape reverses Escape.
func unescape(t *testing.T, s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		i++
		switch s[i] {
		case '\\':
			b.WriteByte('\\')
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'x':
			var c byte
			for _, h := range s[i+1 : i+3] {
				c = c*16 + byte(strings.IndexRune("0123456789abcdef", h))
			}
			b.WriteByte(c)
			i += 2
		case 'u':
			var r rune
			for _, h := range s[i+1 : i+5] {
				r = r*16 + rune(strings.IndexRune("0123456789abcdef", h))
			}
			b.WriteRune(r)
			i += 4
		default:
			t.Fatalf("unknown escape in %q", s)
		}
	}
	return b.String()
}
