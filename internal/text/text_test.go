package text

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestClean(t *testing.T) {
	cases := []struct {
		name, in string
		html     bool
		want     string
	}{
		{"plain", "hello world", false, "hello world"},
		{"collapse", "  a \n\t b\r\n c  ", false, "a b c"},
		{"control characters", "a\x00\x1fb\x7fc", false, "a b c"},
		{"html kept when not html", "a <b>c</b> &amp;", false, "a <b>c</b> &amp;"},
		{"tags removed", "THIS <b>book</b> &amp; that", true, "THIS book & that"},
		{"block tags separate words", "one<br />two<p>three</p>", true, "one two three"},
		{"numeric entities", "it&#8217;s &#x41; &nbsp;x", true, "it\u2019s A x"},
		{"lone less-than kept", "a < b and 3<4", true, "a < b and 3<4"},
		{"comment removed", "a<!-- hidden -->b", true, "ab"},
		{"empty", " \n ", true, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Clean(c.in, c.html); got != c.want {
				t.Errorf("Clean(%q, %v) = %q, want %q", c.in, c.html, got, c.want)
			}
		})
	}
}

// collapseRef is the rule AppendClean implements, written byte by byte.
func collapseRef(in []byte) string {
	var out []byte
	pending, wrote := false, false
	for _, c := range in {
		if c <= ' ' || c == 0x7f {
			pending = wrote
			continue
		}
		if pending {
			out = append(out, ' ')
			pending = false
		}
		out = append(out, c)
		wrote = true
	}
	return string(out)
}

// TestAppendCleanValidMatchesRule compares the word-at-a-time pass with the
// byte-by-byte rule on inputs built from the bytes that matter (spaces,
// controls, DEL, UTF-8 lead and continuation bytes, letters) at every
// length around the eight-byte words.
func TestAppendCleanValidMatchesRule(t *testing.T) {
	alphabet := []byte{' ', ' ', 'a', 'b', '\t', '\n', 0x00, 0x1f, 0x7f, 0x80, 0x9f, 0xc3, 0xa9, 0xe3, 0x81, 0x82, 0xff, '~', '!'}
	r := rand.New(rand.NewPCG(7, 11))
	for n := 0; n < 3000; n++ {
		in := make([]byte, r.IntN(40))
		for i := range in {
			in[i] = alphabet[r.IntN(len(alphabet))]
		}
		if r.IntN(3) == 0 { // mostly clean text
			in = []byte(strings.Repeat("ab é ", r.IntN(6)) + "z")
		}
		got, ok := AppendCleanValid([]byte("x"), in, false)
		if ok != utf8.Valid(in) {
			t.Fatalf("AppendCleanValid(%q) valid = %v, want %v", in, ok, !ok)
		}
		if ok && string(got) != "x"+collapseRef(in) {
			t.Fatalf("AppendCleanValid(%q) = %q, want %q", in, got[1:], collapseRef(in))
		}
		if got := AppendClean(nil, in, false); string(got) != collapseRef(in) {
			t.Fatalf("AppendClean(%q) = %q, want %q", in, got, collapseRef(in))
		}
	}
}

func TestAppendCleanValidHTML(t *testing.T) {
	if _, ok := AppendCleanValid(nil, []byte("<b>a\xff</b>"), true); ok {
		t.Fatal("invalid UTF-8 inside HTML accepted")
	}
	got, ok := AppendCleanValid(nil, []byte("  one<br />two &amp; three "), true)
	if !ok || string(got) != "one two & three" {
		t.Fatalf("got %q, %v", got, ok)
	}
}
