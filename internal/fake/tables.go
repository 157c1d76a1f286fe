package fake

import (
	"math/rand/v2"
	"strconv"
	"strings"
)

// name is a person's name in the forms rows need, ready to append.
type name struct {
	first      string // CSV field
	full       string // CSV field: "First Last", or family name first in Japanese
	userSlug   string // first-last, lower case ASCII
	authorSlug string // First_Last, ASCII
}

// title is a book title in the forms rows need.
type title struct {
	plain  string      // CSV field
	slug   string      // URL form
	series [][9]string // CSV field "Title (Series, #n)" by series and n-1
}

// fixedTables are the precomputed forms of the word lists (the same for every seed).
type fixedTables struct {
	names      [][]name // by locale
	titles     []title
	publishers []string
	blurbs     []string // escaped for use inside a quoted field
}

var fixed = buildFixed()

// csvField quotes s when it holds a comma, a quote or a line break.
func csvField(s string) string {
	if !strings.ContainsAny(s, ",\"\n\r") {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

func asciiSlug(s string, lower bool) string {
	b := []byte(s)
	for i, c := range b {
		if lower && c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
		if c == ' ' || c == '\'' || c >= 0x80 {
			b[i] = '_'
		}
	}
	return string(b)
}

func buildFixed() fixedTables {
	var t fixedTables
	for i := range locales {
		loc := &locales[i]
		loc.index = i
		var names []name
		for _, f := range loc.firsts {
			for _, l := range loc.lasts {
				full := f.first + " " + l.last
				if loc.space == "" {
					full = l.last + f.first
				}
				names = append(names, name{
					first:      csvField(f.first),
					full:       csvField(full),
					userSlug:   asciiSlug(f.slugFirst+"-"+l.slugLast, true),
					authorSlug: asciiSlug(f.slugFirst+"_"+l.slugLast, false),
				})
			}
		}
		t.names = append(t.names, names)
	}
	for _, ti := range titles {
		tt := title{plain: csvField(ti), slug: asciiSlug(ti, false)}
		for _, s := range series {
			var byN [9]string
			for n := range byN {
				byN[n] = csvField(ti + " (" + s + ", #" + strconv.Itoa(n+1) + ")")
			}
			tt.series = append(tt.series, byN)
		}
		t.titles = append(t.titles, tt)
	}
	for _, p := range publishers {
		t.publishers = append(t.publishers, csvField(p))
	}
	for _, b := range blurbs {
		t.blurbs = append(t.blurbs, strings.ReplaceAll(b, `"`, `""`))
	}
	return t
}

// seeded are the tables that depend on the seed: the sentences reviews are made of.
type seeded struct {
	sentences [][]string // by locale; escaped for use inside a quoted field
}

// sentencesPerLocale is the size of each locale's pool of review sentences.
const sentencesPerLocale = 4096

func buildSeeded(seed uint64) *seeded {
	r := rand.New(rand.NewPCG(seed, 0xdeadbeefcafe))
	t := &seeded{}
	var b []byte
	for _, loc := range locales {
		pool := make([]string, sentencesPerLocale)
		for i := range pool {
			b = b[:0]
			words := 4 + r.IntN(14)
			quoteAt := -1
			if r.IntN(10) == 0 {
				quoteAt = 1 + r.IntN(words)
			}
			for w := 0; w < words; w++ {
				if w > 0 {
					if r.IntN(10) == 0 {
						b = append(b, loc.comma...)
					} else {
						b = append(b, loc.space...)
					}
				}
				word := loc.words[r.IntN(len(loc.words))]
				if w == quoteAt {
					b = append(append(append(b, `""`...), word...), `""`...)
				} else {
					b = append(b, word...)
				}
			}
			if b[0] >= 'a' && b[0] <= 'z' {
				b[0] -= 'a' - 'A'
			}
			b = append(b, strings.TrimRight(loc.stop, " ")...)
			pool[i] = string(b)
		}
		t.sentences = append(t.sentences, pool)
	}
	return t
}
