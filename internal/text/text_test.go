package text

import (
	"bytes"
	"html"
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
	for n := 0; n < 30000; n++ {
		in := make([]byte, r.IntN(70))
		for i := range in {
			in[i] = alphabet[r.IntN(len(alphabet))]
		}
		switch r.IntN(4) {
		case 0: // mostly clean text
			in = []byte(strings.Repeat("ab é ", r.IntN(6)) + "z")
		case 1: // words longer than the eight-byte words, any byte among them
			var b []byte
			for range r.IntN(6) {
				b = append(b, strings.Repeat("wxyzé", r.IntN(6))...)
				b = append(b, alphabet[r.IntN(len(alphabet))])
			}
			in = b
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

// stripHTMLRef is StripHTML as it was written first, byte by byte: the
// oracle for the run-copying version.
func stripHTMLRef(in []byte) string {
	blockTags := map[string]bool{"br": true, "p": true, "div": true, "li": true, "ul": true, "ol": true,
		"tr": true, "td": true, "h1": true, "h2": true, "h3": true, "h4": true, "h5": true, "h6": true, "blockquote": true, "hr": true}
	tagName := func(t []byte) string {
		t = bytes.TrimLeft(t, "/!?")
		n := 0
		for n < len(t) && (t[n]|0x20 >= 'a' && t[n]|0x20 <= 'z' || t[n] >= '0' && t[n] <= '9') {
			n++
		}
		return string(bytes.ToLower(t[:n]))
	}
	var out bytes.Buffer
	for i := 0; i < len(in); {
		c := in[i]
		if c == '<' && i+1 < len(in) && isTagStart(in[i+1]) {
			end := bytes.IndexByte(in[i:], '>')
			if end > 0 {
				if blockTags[tagName(in[i+1:i+end])] {
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
		s = string(bytes.ReplaceAll([]byte(s), []byte("\u00a0"), []byte(" ")))
	}
	return s
}

// TestStripHTMLMatchesReference compares StripHTML and the HTML cleaning
// (tags removed into the output, then collapsed in place) with the
// byte-by-byte reference on random markup: tags of every case and length,
// block tags, unclosed '<', entities, white space.
func TestStripHTMLMatchesReference(t *testing.T) {
	pieces := []string{"<", ">", "/", "!", "?", "<br />", "<BR>", "</p>", "<P class=x>", "<blockquote>", "<blockquotes>",
		"<h1>", "<H7>", "<i>", "</I>", "<!-- c -->", "<?x?>", "&amp;", "&nbsp;", "&#8217;", "&", ";", " ", "  ", "\n", "\t",
		"a", "word", "é", "雪", "3<4", "<1>", "<abcdefghijkl>", "<div", "br>", "<hr/>", "<LI>", "<td x>", "<Div>", "<ul>", "<h6>"}
	r := rand.New(rand.NewPCG(12, 14))
	for n := 0; n < 20000; n++ {
		var b strings.Builder
		for range r.IntN(12) {
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
		in := []byte(b.String())
		if got, want := StripHTML(in), stripHTMLRef(in); got != want {
			t.Fatalf("StripHTML(%q) = %q, want %q", in, got, want)
		}
		want := collapseRef([]byte(stripHTMLRef(in)))
		if !hasMarkup(in) {
			want = collapseRef(in)
		}
		if got := AppendClean([]byte("x"), in, true); string(got) != "x"+want {
			t.Fatalf("AppendClean(%q, html) = %q, want %q", in, got[1:], want)
		}
		if got, ok := AppendCleanValid([]byte("x"), in, true); !ok || string(got) != "x"+want {
			t.Fatalf("AppendCleanValid(%q, html) = %q, %v, want %q", in, got[1:], ok, want)
		}
	}
}

// TestScanEveryPosition puts each kind of byte that scan looks for at every
// position of clean text of every length up to 70 (all the word and tail
// positions of its sixteen- and eight-byte steps), alone and as a pair.
func TestScanEveryPosition(t *testing.T) {
	for i := 1; i <= 140; i++ {
		// Words and single spaces, or letters alone (a pair across a step's
		// boundary then has no other space beside it).
		n, base := i, []byte(strings.Repeat("ab c", 20)[:min(i, 70)])
		if i > 70 {
			n, base = i-70, []byte(strings.Repeat("abcdefg", 10)[:i-70])
		}
		if base[n-1] == ' ' {
			base[n-1] = 'd'
		}
		if clean, ascii := scan(base); !clean || !ascii {
			t.Fatalf("scan(%q) = %v, %v, want clean ASCII", base, clean, ascii)
		}
		for k := 0; k < n; k++ {
			for _, c := range []byte{0x00, '\t', '\n', 0x1f, 0x7f, ' ', 0xc3} {
				in := bytes.Clone(base)
				in[k] = c
				pair := bytes.Clone(base)
				pair[k] = c
				if k+1 < n {
					pair[k+1] = c
				}
				for _, b := range [][]byte{in, pair} {
					want := collapseRef(b) == string(b)
					clean, ascii := scan(b)
					if clean != want && !(c == 0xc3) {
						t.Fatalf("scan(%q) clean = %v, want %v", b, clean, want)
					}
					if c == 0xc3 && (ascii || !clean && want) {
						t.Fatalf("scan(%q) = %v, %v: a byte above 0x7f is neither white space nor ASCII", b, clean, ascii)
					}
				}
			}
		}
	}
}
