package chart

import (
	"html/template"
	"math"
	"unicode/utf8"
)

// Bar is one bar of a horizontal bar chart.
type Bar struct {
	// Label names the bar; it is written left of it, shortened with "…" when
	// it does not fit (the hover text keeps it whole).
	Label string
	// Value sets the bar's length.
	Value float64
	// Text is written at the bar's end; "" means Number(Value).
	Text string
	// Title is the hover text; "" means "Label: Text".
	Title string
	// Href, when a safe link (see SafeHref), makes the label and the bar a link.
	Href string
	// Color fills the bar; "" means the chart's colour.
	Color string
	// Data are extra data-* attributes of the bar (names without "data-").
	Data map[string]string
}

// HBar is a horizontal bar chart: one row per bar, in the given order, the
// largest value spanning the plot.
type HBar struct {
	// ID and Class are the svg element's id and extra classes.
	ID, Class string
	// Title is the chart's accessible name; Desc describes it in a sentence.
	Title, Desc string
	Bars        []Bar
	// Width is the whole chart's width in pixels; 0 means 640.
	Width int
	// LabelWidth is the room left of the bars for labels; 0 means 180.
	LabelWidth int
	// RowHeight is the height of one row; 0 means 22.
	RowHeight int
	// Max is the value drawn at full length; 0 means the largest value.
	Max float64
	// Color fills bars without their own; "" means Palette[0].
	Color string
}

// charWidth is the average width of a 12px system-ui character, for fitting labels.
const charWidth = 6.6

// Fit shortens s to at most width pixels of 12px text, ending it with "…".
func Fit(s string, width float64) string {
	max := int(width / charWidth)
	if max < 2 {
		max = 2
	}
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)
	return string(r[:max-1]) + "…"
}

// SVG draws the chart.
func (c HBar) SVG() template.HTML {
	width, labelW, rowH := orInt(c.Width, 640), orInt(c.LabelWidth, 180), orInt(c.RowHeight, 22)
	const valueRoom, pad = 84, 4
	plotW := float64(width - labelW - valueRoom)
	if plotW < 20 {
		plotW = 20
	}
	max := c.Max
	for _, b := range c.Bars {
		if b.Value > max && c.Max == 0 {
			max = b.Value
		}
	}
	if max <= 0 {
		max = 1
	}
	height := pad*2 + rowH*len(c.Bars)
	if len(c.Bars) == 0 {
		height = rowH + pad*2
	}
	var w writer
	w.svgOpen(c.ID, "hbar "+c.Class, c.Title, c.Desc, width, height)
	if len(c.Bars) == 0 {
		w.elem("text", "no data", "x", itoa(labelW), "y", itoa(pad+rowH*2/3), "fill", "#667", "class", "empty")
	}
	for i, b := range c.Bars {
		y := float64(pad + i*rowH)
		text := b.Text
		if text == "" {
			text = Number(b.Value)
		}
		title := b.Title
		if title == "" {
			title = b.Label + ": " + text
		}
		color := firstOf(b.Color, c.Color, Palette[0])
		v := math.Max(0, math.Min(b.Value, max))
		if math.IsNaN(v) {
			v = 0
		}
		bw := plotW * v / max
		if b.Value > 0 && bw < 1 {
			bw = 1
		}
		w.open("g", "class", "row")
		w.title(title)
		linked := w.link(b.Href)
		w.elem("text", Fit(b.Label, float64(labelW-10)), "x", itoa(labelW-6), "y", num(y+float64(rowH)*0.68), "text-anchor", "end", "class", "label")
		attrs := append([]string{"class", "bar", "x", itoa(labelW), "y", num(y + 3), "width", num(bw), "height", itoa(rowH - 6),
			"rx", "2", "fill", color, "data-value", strconvG(b.Value), "data-label", b.Label}, dataAttrs(b.Data)...)
		w.leaf("rect", attrs...)
		if linked {
			w.close("a")
		}
		w.elem("text", text, "x", num(float64(labelW)+bw+5), "y", num(y+float64(rowH)*0.68), "class", "value", "fill", "#333")
		w.close("g")
	}
	w.close("svg")
	return w.html()
}

// Meter is a single bar in a small SVG, for a row of an HTML list (a
// ranking with cover images): the bar's length is Value/Max of Width.
type Meter struct {
	Value, Max    float64
	Width, Height int // 0 means 240 × 14
	Color         string
	// Label is the accessible name and hover text (e.g. "1,234 reviews").
	Label string
}

// SVG draws the meter.
func (m Meter) SVG() template.HTML {
	width, height := orInt(m.Width, 240), orInt(m.Height, 14)
	frac := 0.0
	if m.Max > 0 && m.Value > 0 {
		frac = math.Min(1, m.Value/m.Max)
	}
	var w writer
	w.open("svg", "xmlns", "http://www.w3.org/2000/svg", "class", "chart meter", "width", itoa(width), "height", itoa(height),
		"viewBox", "0 0 "+itoa(width)+" "+itoa(height), "role", "img", "aria-label", m.Label)
	w.title(m.Label)
	w.leaf("rect", "class", "track", "x", "0", "y", "0", "width", itoa(width), "height", itoa(height), "rx", "3", "fill", "#eef1f5")
	bw := float64(width) * frac
	if m.Value > 0 && bw < 2 {
		bw = 2
	}
	w.leaf("rect", "class", "bar", "x", "0", "y", "0", "width", num(bw), "height", itoa(height), "rx", "3",
		"fill", firstOf(m.Color, Palette[0]), "data-value", strconvG(m.Value))
	w.close("svg")
	return w.html()
}

func orInt(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

func firstOf(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}
