package source

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	grpipe "github.com/grpipe/grpipe"
)

var capturedAt = time.Date(2020, 2, 20, 5, 38, 16, 690535123, time.FixedZone("PST", -8*3600))

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestMapReview(t *testing.T) {
	const ts = "2020-02-20 13:38:16.690535" // capturedAt in UTC, microseconds
	cases := []struct {
		file                       string
		review, user, author, book []string
	}{
		{
			file: "show_basic.xml",
			review: []string{"3198455651", "76206467", "13667", "874602", "THIS book & its RUUUUUULES", "5", "0", "false", "none",
				"Wed Feb 19 18:36:17 -0800 2020", "Wed Feb 19 18:36:52 -0800 2020", "1", "0", "https://www.goodreads.com/review/show/3198455651", ts},
			user: []string{"76206467", "Dan", "Dan Abromowitz", "Chicago, IL", "https://www.goodreads.com/user/show/76206467-dan-abromowitz",
				"kca://profile:goodreads/A2J1KMSGWO6DQI",
				"https://s.gr-assets.com/assets/nophoto/user/u_111x148-9394ebedbb3c6c218f64be9549657029.png",
				"https://s.gr-assets.com/assets/nophoto/user/u_50x66-632230dc9882b4352d753eedf9396530.png", "false", ts},
			author: []string{"874602", "Ursula K. Le Guin", "", "https://www.goodreads.com/author/show/874602.Ursula_K_Le_Guin", "4.05", "929234", "54339", ts},
			book: []string{"13667", "The Farthest Shore (Earthsea Cycle, #3)", "The Farthest Shore",
				"https://s.gr-assets.com/assets/nophoto/book/111x148-bcc042a9c91a29c1d680899eff700a03.png",
				"https://www.goodreads.com/book/show/13667.The_Farthest_Shore", "259", "Paperback", "", "Gallery Books", "1", "2004", "11",
				"4.12", "88271", "Book Three of Ursula K. Le Guin\u2019s Earthsea Cycle Darkness threatens to overtake Earthsea: the world and its wizards are losing their magic.",
				"874602", "2004", ts},
		},
		{
			// CDATA between new lines, the three forms of empty, attributes,
			// entities in plain text, escaped HTML outside CDATA, two authors.
			file: "show_variations.xml",
			review: []string{"3198454585", "90307732", "51057368", "19490084",
				"Ok, so I knew getting this book\u2026 it was going to have a \"fake boyfriend\" aspect & I loved it.",
				"4", "3", "true", "hidden", "Wed Feb 19 18:35:11 -0800 2020", "Thu Feb 20 09:01:02 -0800 2020", "", "",
				"https://www.goodreads.com/review/show/3198454585", ts},
			user: []string{"90307732", "Kim", "Kim the Reader", "Detroit, MI", "https://www.goodreads.com/user/show/90307732-kim",
				"kca://profile:goodreads/A1XV1LWJZ764GR", "", "", "false", ts},
			author: []string{"19490084", "Isla Olsen", "", "https://www.goodreads.com/author/show/19490084.Isla_Olsen", "4.17", "269", "96", ts},
			book: []string{"51057368", "Tom & Jerry\u2019s \"Fake\" Boyfriend", "Tom & Jerry's", "", "", "", "", "", "", "", "2020", "",
				"4.17", "269", "A story about love & lies", "19490084", "", ts},
		},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			rec, err := MapReview(readTestdata(t, c.file), capturedAt)
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range []struct {
				e         grpipe.Entity
				got, want []string
			}{{grpipe.Reviews, rec.Review, c.review}, {grpipe.Users, rec.User, c.user}, {grpipe.Authors, rec.Author, c.author}, {grpipe.Books, rec.Book, c.book}} {
				if len(x.got) != len(x.e.Columns) {
					t.Errorf("%s: %d values for %d columns", x.e.Name, len(x.got), len(x.e.Columns))
				}
				if !reflect.DeepEqual(x.got, x.want) {
					for i := range max(len(x.got), len(x.want)) {
						var g, w string
						if i < len(x.got) {
							g = x.got[i]
						}
						if i < len(x.want) {
							w = x.want[i]
						}
						if g != w {
							t.Errorf("%s.%s = %q, want %q", x.e.Name, x.e.Columns[min(i, len(x.e.Columns)-1)].Name, g, w)
						}
					}
				}
				if !reflect.DeepEqual(rec.Rows(x.e), x.got) {
					t.Errorf("Rows(%s) is not the %s row", x.e.Name, x.e.Name)
				}
			}
			if rec.Version != c.review[10] {
				t.Errorf("version %q, want date_updated %q", rec.Version, c.review[10])
			}
		})
	}
}

func TestParseRecent(t *testing.T) {
	rs, err := ParseRecent(readTestdata(t, "recent.xml"))
	if err != nil {
		t.Fatal(err)
	}
	var got [][2]string
	for _, r := range rs {
		got = append(got, [2]string{r.ID, r.Version()})
	}
	want := [][2]string{
		{"3198455651", "Wed Feb 19 18:36:52 -0800 2020"},
		{"3198455543", "Wed Feb 19 18:36:43 -0800 2020"},
		{"3198454784", ""},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("recent = %q, want %q", got, want)
	}
	if rs[0].Book.Authors[0].Name != "Ursula K. Le Guin" {
		t.Errorf("nested fields not read: %+v", rs[0].Book)
	}
}

func TestMapReviewMalformed(t *testing.T) {
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"no authors", readTestdata(t, "show_no_authors.xml"), "review 42: malformed answer: book 9 has no <authors><author>"},
		{"truncated", readTestdata(t, "show_truncated.xml"), "malformed answer: XML syntax error"},
		{"an HTML page", readTestdata(t, "show_html_page.xml"), "malformed answer: expected element type <GoodreadsResponse> but have <html>"},
		{"empty", nil, "malformed answer: EOF"},
		{"no review", []byte("<GoodreadsResponse><Request/></GoodreadsResponse>"), "no <review> element"},
		{"review id not a number", []byte("<GoodreadsResponse><review><id>abc</id></review></GoodreadsResponse>"), `review id "abc" is not an id`},
		{"negative user id", []byte("<GoodreadsResponse><review><id>1</id><user><id>-5</id></user></review></GoodreadsResponse>"), `review 1: malformed answer: user id "-5" is not an id`},
		{"missing book id", []byte("<GoodreadsResponse><review><id>1</id><user><id>5</id></user><book><id/></book></review></GoodreadsResponse>"), "review 1: malformed answer: book id is missing"},
		{"other encoding", []byte(`<?xml version="1.0" encoding="ISO-8859-1"?><GoodreadsResponse/>`), `encoding "ISO-8859-1" is not supported`},
		{"invalid UTF-8", []byte("<GoodreadsResponse><review><id>1</id><body>\xff</body></review></GoodreadsResponse>"), "invalid UTF-8"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := MapReview(c.data, capturedAt)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %q, want it to say %q", err, c.want)
			}
		})
	}
}

// FuzzMapReview checks that no answer crashes the mapping, and that a mapped
// answer always gives four rows of the right widths, integer ids, the
// capture timestamp and clean text. Plain `go test` runs the seeds only; run
// `go test -run '^$' -fuzz FuzzMapReview ./internal/source` for longer.
func FuzzMapReview(f *testing.F) {
	for _, name := range []string{"show_basic.xml", "show_variations.xml", "show_no_authors.xml", "show_truncated.xml", "show_html_page.xml", "recent.xml"} {
		f.Add(readTestdata(f, name))
	}
	f.Add([]byte("<GoodreadsResponse><review><id>1</id><user><id>2</id></user><book><id>3</id><authors><author><id>4</id></author></authors></book><body>a<b>b</b>&amp;c</body></review></GoodreadsResponse>"))
	const ts = "2020-02-20 13:38:16.690535"
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, err := MapReview(data, capturedAt)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error does not wrap ErrMalformed: %v", err)
			}
			return
		}
		for _, e := range grpipe.Entities() {
			row := rec.Rows(e)
			if len(row) != len(e.Columns) {
				t.Fatalf("%s: %d values for %d columns", e.Name, len(row), len(e.Columns))
			}
			for i, col := range e.Columns {
				v := row[i]
				if col.Required && col.Type == grpipe.BigInt && (v == "" || strings.TrimLeft(v, "0123456789") != "") {
					t.Fatalf("%s.%s = %q is not an id", e.Name, col.Name, v)
				}
				if col.Name == grpipe.TimestampColumn && v != ts {
					t.Fatalf("%s.%s = %q, want %q", e.Name, col.Name, v, ts)
				}
				if strings.ContainsAny(v, "\n\r\t") || strings.TrimSpace(v) != v || strings.Contains(v, "  ") {
					t.Fatalf("%s.%s = %q is not collapsed", e.Name, col.Name, v)
				}
			}
		}
		if rec.Review[3] != rec.Book[15] {
			t.Fatalf("review.author_id %q and book.authors %q differ", rec.Review[3], rec.Book[15])
		}
	})
}
