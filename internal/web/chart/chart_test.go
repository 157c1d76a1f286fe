package chart

import (
	"encoding/xml"
	"flag"
	"fmt"
	"html/template"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden SVG files in testdata/")

// golden compares got with testdata/name.svg (rewritten with -update).
func golden(t *testing.T, name string, got template.HTML) {
	t.Helper()
	path := filepath.Join("testdata", name+".svg")
	if *update {
		if err := os.WriteFile(path, []byte(got+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update ./internal/web/chart to create it)", err)
	}
	if string(got)+"\n" != string(want) {
		t.Errorf("%s differs from %s (run with -update after checking the picture):\n%s", name, path, got)
	}
}

// parse checks that s is well-formed XML and returns its elements by name,
// with their attributes, and the character data of each element in order.
type element struct {
	name  string
	attrs map[string]string
	text  string
}

func parse(t *testing.T, s template.HTML) []element {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(string(s)))
	var out []element
	var stack []int
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed SVG: %v\n%s", err, s)
		}
		switch x := tok.(type) {
		case xml.StartElement:
			e := element{name: x.Name.Local, attrs: map[string]string{}}
			for _, a := range x.Attr {
				e.attrs[a.Name.Local] = a.Value
			}
			out = append(out, e)
			stack = append(stack, len(out)-1)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				out[stack[len(stack)-1]].text += string(x)
			}
		}
	}
	if len(out) == 0 || out[0].name != "svg" {
		t.Fatalf("no svg root:\n%s", s)
	}
	return out
}

func find(es []element, name, class string) []element {
	var out []element
	for _, e := range es {
		if e.name == name && (class == "" || strings.Contains(" "+e.attrs["class"]+" ", " "+class+" ")) {
			out = append(out, e)
		}
	}
	return out
}

func TestHBar(t *testing.T) {
	c := HBar{ID: "top", Title: "Top books", Desc: "Books by number of reviews", Bars: []Bar{
		{Label: "Cannery Row", Value: 120, Href: "https://www.goodreads.com/book/show/4799", Data: map[string]string{"id": "4799"}},
		{Label: "A title much too long to fit in the room left of the bars, surely", Value: 60, Text: "60 reviews"},
		{Label: "Zero", Value: 0},
	}}
	svg := c.SVG()
	golden(t, "hbar", svg)
	es := parse(t, svg)
	bars := find(es, "rect", "bar")
	if len(bars) != 3 {
		t.Fatalf("%d bars, want 3", len(bars))
	}
	w0, w1 := bars[0].attrs["width"], bars[1].attrs["width"]
	if w0 != "376" || w1 != "188" || bars[2].attrs["width"] != "0" {
		t.Errorf("bar widths %s %s %s, want 376 (the plot), 188 (half), 0", w0, w1, bars[2].attrs["width"])
	}
	if bars[0].attrs["data-value"] != "120" || bars[0].attrs["data-id"] != "4799" {
		t.Errorf("bar attributes %v", bars[0].attrs)
	}
	if es[1].name != "title" || es[1].text != "Top books" || es[2].name != "desc" {
		t.Errorf("the chart's first children are %s %q, %s: want its title and desc", es[1].name, es[1].text, es[2].name)
	}
	labels := find(es, "text", "label")
	if !strings.HasSuffix(labels[1].text, "…") || len(labels[1].text) > 40 {
		t.Errorf("long label not shortened: %q", labels[1].text)
	}
	if find(es, "title", "")[2].text != "A title much too long to fit in the room left of the bars, surely: 60 reviews" {
		t.Errorf("the hover text does not keep the whole label")
	}
	if len(find(es, "a", "")) != 1 {
		t.Errorf("want one link (the bar with an Href)")
	}
}

func TestHBarEmpty(t *testing.T) {
	es := parse(t, HBar{Title: "nothing"}.SVG())
	if len(find(es, "text", "empty")) != 1 {
		t.Errorf("an empty chart should say there is no data")
	}
}

// TestEscaping feeds hostile text (as it may come from a CSV file) into
// every text and attribute a chart writes.
func TestEscaping(t *testing.T) {
	evil := `</title><script>alert(1)</script>"' onmouseover="x" &amp;`
	charts := map[string]template.HTML{
		"hbar": HBar{Title: evil, Desc: evil, Bars: []Bar{{Label: evil, Value: 1, Text: evil, Title: evil, Href: "javascript:alert(1)",
			Color: `red" onclick="x`, Data: map[string]string{"ok": evil, `bad" onclick="x`: "1"}}}}.SVG(),
		"columns": Columns{XY: XY{Title: evil, Categories: []Category{{Label: evil, Title: evil, Href: "//evil.example/x"}},
			Series: []Series{{Name: evil, Values: []float64{1}}, {Name: "b", Values: []float64{2}}}}}.SVG(),
		"lines": Lines{XY: XY{Title: evil, YLabel: evil, Categories: []Category{{Label: evil, Href: "data:text/html,x"}},
			Series: []Series{{Name: evil, Values: []float64{1}}}}}.SVG(),
		"timeline": Timeline{Title: evil, Rows: []Row{{Label: evil, Href: evil, Spans: []Span{{Start: time.Unix(0, 0), End: time.Unix(5, 0), Title: evil, Href: "/ok?a=1&b=<2>"}}}}}.SVG(),
		"meter":    Meter{Value: 1, Max: 2, Label: evil}.SVG(),
	}
	for name, svg := range charts {
		t.Run(name, func(t *testing.T) {
			s := string(svg)
			for _, bad := range []string{"<script", "javascript:", "data:text", "//evil", ` onclick="`, ` onmouseover="`} {
				if strings.Contains(s, bad) {
					t.Errorf("output holds %q:\n%s", bad, s)
				}
			}
			es := parse(t, svg)
			found := false
			for _, e := range es {
				for k, v := range e.attrs {
					if strings.HasPrefix(k, "on") {
						t.Errorf("attribute %s=%q on <%s>", k, v, e.name)
					}
				}
				found = found || strings.Contains(e.text, "<script>alert(1)</script>")
			}
			if !found {
				t.Errorf("the hostile text is not shown as text anywhere:\n%s", s)
			}
		})
	}
	if !strings.Contains(string(charts["timeline"]), `href="/ok?a=1&amp;b=&lt;2&gt;"`) {
		t.Errorf("a site link is not kept, escaped: %s", charts["timeline"])
	}
}

func TestSafeHref(t *testing.T) {
	for in, want := range map[string]string{
		"/dags/x":                        "/dags/x",
		"https://www.goodreads.com/b/1":  "https://www.goodreads.com/b/1",
		"http://example.org":             "http://example.org",
		" https://a.example/ ":           "https://a.example/",
		"javascript:alert(1)":            "",
		"JAVASCRIPT:alert(1)":            "",
		"data:image/png;base64,AA":       "",
		"//evil.example":                 "",
		`/\evil.example`:                 "",
		"relative/path":                  "",
		"https://":                       "",
		"vbscript:x":                     "",
		"":                               "",
		"https://exa mple.org/\x7f":      "",
		"ftp://files.example.org/a.csv":  "",
		"https://images.gr-assets.com/x": "https://images.gr-assets.com/x",
	} {
		if got := SafeHref(in); got != want {
			t.Errorf("SafeHref(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestColumns(t *testing.T) {
	c := Columns{XY: XY{ID: "ratings", Title: "Ratings", Categories: []Category{{Label: "0"}, {Label: "1"}, {Label: "2"}, {Label: "3"}, {Label: "4"}, {Label: "5"}},
		Series: []Series{{Name: "reviews", Values: []float64{2, 0, 5, 10, 40, 43}}}, YLabel: "reviews"}}
	svg := c.SVG()
	golden(t, "columns", svg)
	es := parse(t, svg)
	bars := find(es, "rect", "bar")
	if len(bars) != 6 || bars[5].attrs["data-value"] != "43" || bars[5].attrs["data-category"] != "5" {
		t.Fatalf("bars: %v", bars)
	}
	// The axis ends at a round value at or above the largest, 43 -> 50.
	ticks := find(es, "text", "")
	var labels []string
	for _, tk := range ticks {
		labels = append(labels, tk.text)
	}
	if !strings.Contains(strings.Join(labels, " "), "0 10 20 30 40 50") {
		t.Errorf("axis labels %v, want 0 10 20 30 40 50", labels)
	}
}

func TestColumnsStacked(t *testing.T) {
	c := Columns{Stacked: true, XY: XY{Title: "Rows per run",
		Categories: []Category{{Label: "run 1", Href: "/dags/d/runs/1"}, {Label: "run 2", Href: "/dags/d/runs/2"}},
		Series: []Series{{Name: "rejected", Values: []float64{1, 3}}, {Name: "superseded", Values: []float64{440, 0}},
			{Name: "staged", Values: []float64{60, math.NaN()}}}}}
	svg := c.SVG()
	golden(t, "columns_stacked", svg)
	es := parse(t, svg)
	if n := len(find(es, "rect", "bar")); n != 5 {
		t.Errorf("%d segments, want 5 (a NaN draws nothing)", n)
	}
	if n := len(find(es, "g", "legend-item")); n != 3 {
		t.Errorf("%d legend items, want 3", n)
	}
	if n := len(find(es, "a", "")); n != 2 {
		t.Errorf("%d links, want one per category", n)
	}
	// Stacked: the run-1 segments meet; each segment sits on the one below.
	segs := find(es, "rect", "bar")
	y := func(e element, k string) float64 {
		var f float64
		_, _ = fmt.Sscan(e.attrs[k], &f)
		return f
	}
	// (A 1-row segment is drawn 1 px high, so it may overlap the next by less than a pixel.)
	if math.Abs(y(segs[0], "y")+y(segs[0], "height")-y(segs[1], "y")-y(segs[1], "height")-y(segs[0], "height")) > 1 {
		t.Errorf("stacked segments do not meet: %v %v", segs[0].attrs, segs[1].attrs)
	}
}

func TestCountAxis(t *testing.T) {
	axis := func(c Columns) string {
		var out []string
		for _, e := range find(parse(t, c.SVG()), "text", "") {
			out = append(out, e.text)
		}
		return strings.Join(out, " ")
	}
	zeros := Columns{XY: XY{Counts: true, Categories: []Category{{Label: "r1"}, {Label: "r2"}}, Series: []Series{{Values: []float64{0, 0}}}}}
	if got := axis(zeros); !strings.HasPrefix(got, "0 1 ") {
		t.Errorf("an all-zero count axis: %q, want 0 1", got)
	}
	three := Columns{XY: XY{Counts: true, Categories: []Category{{Label: "r1"}}, Series: []Series{{Values: []float64{3}}}}}
	if got := axis(three); !strings.HasPrefix(got, "0 1 2 3 ") {
		t.Errorf("a count axis up to 3: %q", got)
	}
}

func TestSubLabels(t *testing.T) {
	cats := func(n int) []Category {
		var out []Category
		for i := 0; i < n; i++ {
			out = append(out, Category{Label: fmt.Sprintf("12-03 13:%02d:00", i), Sub: "scheduled"})
		}
		return out
	}
	subs := func(c Columns) []string {
		var out []string
		for _, e := range find(parse(t, c.SVG()), "text", "sub") {
			out = append(out, e.text)
		}
		return out
	}
	few := Columns{XY: XY{Width: 720, Categories: cats(3), Series: []Series{{Values: []float64{1, 2, 3}}}}}
	if got := subs(few); strings.Join(got, ",") != "scheduled,scheduled,scheduled" {
		t.Errorf("three runs: second lines %q, want one per run", got)
	}
	// 40 runs on 720 px: labels are thinned, and a second line only goes
	// with a written first line.
	many := Columns{XY: XY{Width: 720, Categories: cats(40), Series: []Series{{Values: make([]float64, 40)}}}}
	es := parse(t, many.SVG())
	var firsts int
	for _, e := range find(es, "text", "") {
		if strings.HasPrefix(e.text, "12-03 ") {
			firsts++
		}
	}
	if n := len(subs(many)); n == 0 || n == 40 || n != firsts {
		t.Errorf("40 runs: %d second lines for %d first lines, want as many, thinned", n, firsts)
	}
}

func TestLines(t *testing.T) {
	c := Lines{XY: XY{Title: "Durations", Categories: []Category{{Label: "a"}, {Label: "b"}, {Label: "c"}, {Label: "d"}},
		Series: []Series{{Name: "ETL", Values: []float64{10, 12, math.NaN(), 9}}, {Name: "checks", Values: []float64{1, 1, 2, 1}}},
		Format: func(v float64) string { return Duration(time.Duration(v * float64(time.Second))) }}}
	svg := c.SVG()
	golden(t, "lines", svg)
	es := parse(t, svg)
	if n := len(find(es, "polyline", "")); n != 3 {
		t.Errorf("%d polylines, want 3 (ETL broken by its gap, checks whole)", n)
	}
	pts := find(es, "circle", "point")
	if len(pts) != 7 {
		t.Fatalf("%d points, want 7", len(pts))
	}
	if title := find(es, "title", ""); !strings.Contains(title[len(title)-1].text, "d · checks: 1s") {
		t.Errorf("hover text of the last point: %q", title[len(title)-1].text)
	}
}

func TestTimeline(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	c := Timeline{ID: "gantt", Title: "Gantt", Rows: []Row{
		{Label: "Begin_execution", Href: "/t/1", Spans: []Span{{Start: t0, End: t0.Add(100 * time.Millisecond), Color: "#008000", Title: "try 1"}}},
		{Label: "GoodReadsETLJob", Data: map[string]string{"task": "GoodReadsETLJob"}, Spans: []Span{
			{Start: t0.Add(time.Second), End: t0.Add(40 * time.Second), Color: "#ffd700", Data: map[string]string{"try": "1", "state": "up_for_retry"}},
			{Start: t0.Add(50 * time.Second), End: t0.Add(90 * time.Second), Color: "#ff0000", Href: "/t/2", Data: map[string]string{"try": "2", "state": "failed"}}}},
		{Label: "Stop_execution"},
	}}
	svg := c.SVG()
	golden(t, "timeline", svg)
	es := parse(t, svg)
	bars := find(es, "rect", "bar")
	if len(bars) != 3 || bars[2].attrs["data-state"] != "failed" || bars[2].attrs["data-try"] != "2" {
		t.Fatalf("bars %v", bars)
	}
	var ticks []string
	for _, e := range find(es, "text", "tick") {
		ticks = append(ticks, e.text)
	}
	if want := []string{"0s", "10s", "20s", "30s", "40s", "50s", "1m", "1m10s", "1m20s", "1m30s"}; !reflect.DeepEqual(ticks, want) {
		t.Errorf("ticks %v, want %v", ticks, want)
	}
	if s := find(es, "text", "start"); len(s) != 1 || s[0].text != "start 2026-11-27 10:00:00.000 UTC" {
		t.Errorf("start label %v", s)
	}
	if e := find(es, "text", "end"); len(e) != 1 || e[0].text != "end 10:01:30.000 UTC (+1m30s)" {
		t.Errorf("end label %v", e)
	}
	// The 100 ms bar is still visible: at least 2 px.
	if w := bars[0].attrs["width"]; w != "2" {
		t.Errorf("a short bar is %s px wide, want 2", w)
	}
}

func TestMeter(t *testing.T) {
	es := parse(t, Meter{Value: 30, Max: 120, Width: 200, Label: "30 reviews"}.SVG())
	if b := find(es, "rect", "bar"); len(b) != 1 || b[0].attrs["width"] != "50" || b[0].attrs["data-value"] != "30" {
		t.Errorf("meter bar %v", b)
	}
	if es[0].attrs["aria-label"] != "30 reviews" {
		t.Errorf("meter has no accessible name")
	}
}

func TestNiceTicks(t *testing.T) {
	for _, tc := range []struct {
		min, max float64
		n        int
		want     []float64
	}{
		{0, 43, 5, []float64{0, 10, 20, 30, 40, 50}},
		{0, 5, 6, []float64{0, 1, 2, 3, 4, 5}},
		{0, 0, 5, []float64{0, 0.2, 0.4, 0.6, 0.8, 1}},
		{0, 6049074, 5, []float64{0, 2e6, 4e6, 6e6, 8e6}},
		{0, 0.9, 4, []float64{0, 0.5, 1}},
		{-3, 3, 4, []float64{-4, -2, 0, 2, 4}},
		{0, 3, 5, []float64{0, 1, 2, 3}},
	} {
		if got := NiceTicks(tc.min, tc.max, tc.n); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("NiceTicks(%v, %v, %d) = %v, want %v", tc.min, tc.max, tc.n, got, tc.want)
		}
	}
}

func TestTimeStepAndDuration(t *testing.T) {
	for _, tc := range []struct {
		span time.Duration
		n    int
		want time.Duration
	}{
		{90 * time.Second, 10, 10 * time.Second},
		{800 * time.Millisecond, 10, 100 * time.Millisecond},
		{2 * time.Hour, 8, 15 * time.Minute},
		{30 * 24 * time.Hour, 10, 72 * time.Hour},
	} {
		if got := TimeStep(tc.span, tc.n); got != tc.want {
			t.Errorf("TimeStep(%v, %d) = %v, want %v", tc.span, tc.n, got, tc.want)
		}
	}
	for d, want := range map[time.Duration]string{
		0: "0s", 250 * time.Millisecond: "250ms", 1500 * time.Millisecond: "1.5s", 42 * time.Second: "42s",
		2 * time.Minute: "2m", 150 * time.Second: "2m30s", 65 * time.Minute: "1h5m", 3 * time.Hour: "3h", -2 * time.Second: "-2s",
	} {
		if got := Duration(d); got != want {
			t.Errorf("Duration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestNumber(t *testing.T) {
	for v, want := range map[float64]string{
		0: "0", 999: "999", 1000: "1,000", 6049074: "6,049,074", -1234567: "-1,234,567", 4.666666: "4.67", 1234.5: "1,234.5", math.NaN(): "–",
	} {
		if got := Number(v); got != want {
			t.Errorf("Number(%v) = %q, want %q", v, got, want)
		}
	}
	for v, want := range map[float64]string{950: "950", 12000: "12k", 1.25e6: "1.2M", 6e6: "6M", 3.4e9: "3.4G"} {
		if got := Compact(v); got != want {
			t.Errorf("Compact(%v) = %q, want %q", v, got, want)
		}
	}
	if got := Fit("Cannery Row", 200); got != "Cannery Row" {
		t.Errorf("Fit shortened a label that fits: %q", got)
	}
	if got := Fit("日本語のとても長い本のタイトルです", 60); got != "日本語のとても長…" {
		t.Errorf("Fit(60px) = %q", got)
	}
}
