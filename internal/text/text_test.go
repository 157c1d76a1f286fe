package text

import "testing"

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
