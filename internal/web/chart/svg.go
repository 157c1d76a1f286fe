// Package chart draws the web UI's charts as SVG, on the server: horizontal
// bars (rankings, counts by reason), columns (a distribution, counts per day,
// stacked rows per run), lines over categories (task durations per run) and a
// timeline with a time axis (the Gantt chart).
//
// A chart is a plain value; its SVG method returns the markup, ready to be
// placed in an html/template page. Every text and attribute value is escaped
// here, links are limited to site paths and http(s) URLs, and no script or
// style attribute is ever written, so a page keeps its strict
// Content-Security-Policy. Each chart carries an accessible name (<title>), a
// description (<desc>), a hover text on every mark, and data-* attributes
// with the plotted values, so tests (and scripts) can read what was drawn.
package chart

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// Palette is the default sequence of series colours (Tableau 10 followed by
// its lighter companions): distinguishable, and readable on white.
var Palette = []string{
	"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
	"#1f77b4", "#aec7e8", "#ffbb78", "#98df8a", "#c5b0d5", "#c49c94", "#f7b6d2", "#dbdb8d", "#9edae5", "#17becf",
}

// Color returns the palette's i-th colour, cycling.
func Color(i int) string { return Palette[((i%len(Palette))+len(Palette))%len(Palette)] }

// writer builds SVG text with every value escaped.
type writer struct {
	b strings.Builder
}

// open writes a start tag; attrs are name, value pairs. Empty values are
// left out, except for attributes whose names end in "=" (written even empty).
func (w *writer) open(tag string, attrs ...string) {
	w.tag(tag, false, attrs)
}

// leaf writes a self-closing element.
func (w *writer) leaf(tag string, attrs ...string) {
	w.tag(tag, true, attrs)
}

func (w *writer) tag(tag string, self bool, attrs []string) {
	w.b.WriteByte('<')
	w.b.WriteString(tag)
	for i := 0; i+1 < len(attrs); i += 2 {
		name, v := attrs[i], attrs[i+1]
		if v == "" {
			continue
		}
		w.b.WriteByte(' ')
		w.b.WriteString(name)
		w.b.WriteString(`="`)
		w.b.WriteString(html.EscapeString(v))
		w.b.WriteByte('"')
	}
	if self {
		w.b.WriteString("/>")
	} else {
		w.b.WriteByte('>')
	}
}

func (w *writer) close(tag string) {
	w.b.WriteString("</")
	w.b.WriteString(tag)
	w.b.WriteByte('>')
}

// text writes escaped character data.
func (w *writer) text(s string) { w.b.WriteString(html.EscapeString(s)) }

// elem writes <tag attrs>text</tag>.
func (w *writer) elem(tag, text string, attrs ...string) {
	w.open(tag, attrs...)
	w.text(text)
	w.close(tag)
}

// title writes a <title> child: the hover text of its parent.
func (w *writer) title(s string) {
	if s != "" {
		w.elem("title", s)
	}
}

// dataAttrs returns data-* attribute pairs, sorted by name; names that are
// not lower-case letters, digits and dashes are dropped.
func dataAttrs(m map[string]string) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		if validDataName(k) {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	out := make([]string, 0, 2*len(names))
	for _, k := range names {
		out = append(out, "data-"+k, m[k])
	}
	return out
}

func validDataName(k string) bool {
	if k == "" {
		return false
	}
	for _, c := range k {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// SafeHref returns u when it is a link a chart may carry: a path on this
// site ("/..." but not "//...") or an absolute http or https URL. Anything
// else (javascript:, data:, relative or malformed URLs) gives "".
func SafeHref(u string) string {
	u = strings.TrimSpace(u)
	if u == "" {
		return ""
	}
	if strings.HasPrefix(u, "/") {
		if strings.HasPrefix(u, "//") || strings.HasPrefix(u, "/\\") {
			return ""
		}
		if _, err := url.Parse(u); err != nil {
			return ""
		}
		return u
	}
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return ""
	}
	return p.String()
}

// link opens an <a> when href is safe and reports whether it did.
func (w *writer) link(href string) bool {
	if h := SafeHref(href); h != "" {
		w.open("a", "href", h)
		return true
	}
	return false
}

// svgOpen writes the root element with an accessible name and description.
func (w *writer) svgOpen(id, class, title, desc string, width, height int) {
	w.open("svg", "xmlns", "http://www.w3.org/2000/svg", "id", id, "class", strings.TrimSpace("chart "+class),
		"width", itoa(width), "height", itoa(height), "viewBox", fmt.Sprintf("0 0 %d %d", width, height),
		"role", "img", "font-family", "system-ui, sans-serif", "font-size", "12")
	w.title(title)
	if desc != "" {
		w.elem("desc", desc)
	}
}

func (w *writer) html() template.HTML {
	return template.HTML(w.b.String()) //nolint:gosec // every value written is escaped by writer
}

func itoa(i int) string { return strconv.Itoa(i) }

// num formats a coordinate: at most two decimals, no trailing zeros.
func num(f float64) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		f = 0
	}
	s := strconv.FormatFloat(f, 'f', 2, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "-0" {
		s = "0"
	}
	return s
}

// Number formats a value for people: integers with thousands separators
// (6,049,074), other values with up to two decimals (4.67).
func Number(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return groupThousands(strconv.FormatInt(int64(v), 10))
	}
	s := strconv.FormatFloat(v, 'f', 2, 64)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	intPart, frac, _ := strings.Cut(s, ".")
	if frac != "" {
		return groupThousands(intPart) + "." + frac
	}
	return groupThousands(intPart)
}

func groupThousands(s string) string {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// Compact formats an axis value briefly: 950, 1.2k, 3.4M.
func Compact(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 1e9:
		return trimZero(v/1e9) + "G"
	case a >= 1e6:
		return trimZero(v/1e6) + "M"
	case a >= 1e4:
		return trimZero(v/1e3) + "k"
	}
	return Number(v)
}

func trimZero(v float64) string {
	s := strconv.FormatFloat(v, 'f', 1, 64)
	return strings.TrimSuffix(s, ".0")
}

// NiceTicks returns about n evenly spaced round values (steps of 1, 2 or 5
// times a power of ten) from 0 (or below, for negative data) to at least max.
func NiceTicks(min, max float64, n int) []float64 {
	if n < 2 {
		n = 2
	}
	if min > 0 {
		min = 0
	}
	if max <= min {
		max = min + 1
	}
	step := niceStep((max - min) / float64(n))
	k0 := math.Floor(min / step)
	var out []float64
	for k := k0; ; k++ {
		// k*step, with the float noise (0.6000000000000001) rounded away.
		r, _ := strconv.ParseFloat(strconv.FormatFloat(k*step, 'g', 12, 64), 64)
		out = append(out, r)
		if r >= max-step*1e-9 || len(out) > 100 {
			break
		}
	}
	return out
}

func niceStep(raw float64) float64 {
	if raw <= 0 || math.IsNaN(raw) || math.IsInf(raw, 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*p {
			return m * p
		}
	}
	return 10 * p
}

// strconvG formats a value for a data-* attribute: the shortest exact form.
func strconvG(v float64) string {
	if math.IsNaN(v) {
		return ""
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}
