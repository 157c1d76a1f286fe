package chart

import (
	"fmt"
	"html/template"
	"math"
	"time"
)

// Span is one bar on a timeline: from Start to End.
type Span struct {
	Start, End time.Time
	// Color fills the bar; "" means Palette[0].
	Color string
	// Title is the hover text.
	Title string
	// Href, when a safe link, makes the bar a link.
	Href string
	// Data are extra data-* attributes of the bar (names without "data-").
	Data map[string]string
}

// Row is one line of a timeline: a label and its spans.
type Row struct {
	Label string
	// Href, when a safe link, makes the label a link.
	Href  string
	Spans []Span
	// Data are extra data-* attributes of the row's group.
	Data map[string]string
}

// Timeline is a Gantt chart: one row per label, bars on a shared time axis
// with ticks relative to the start (0s, 30s, 1m, ...) along the top, and
// the start and end as clock times under the rows.
type Timeline struct {
	// ID and Class are the svg element's id and extra classes.
	ID, Class string
	// Title is the chart's accessible name; Desc describes it in a sentence.
	Title, Desc string
	// Start and End bound the axis; zero values mean the spans' extremes.
	Start, End time.Time
	Rows       []Row
	// Width is the chart's width; 0 means 960.
	Width int
	// LabelWidth is the room for row labels; 0 means 250.
	LabelWidth int
	// RowHeight is the height of a row; 0 means 24.
	RowHeight int
	// Location shows the start and end clock times; nil means UTC.
	Location *time.Location
}

// tickSteps are the axis steps a timeline chooses from.
var tickSteps = []time.Duration{
	time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond, 20 * time.Millisecond,
	50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour,
}

// TimeStep returns the smallest round step that divides span into at most n ticks.
func TimeStep(span time.Duration, n int) time.Duration {
	if n < 1 {
		n = 1
	}
	for _, s := range tickSteps {
		if span/s <= time.Duration(n) {
			return s
		}
	}
	days := (span/time.Duration(n) + 24*time.Hour - 1) / (24 * time.Hour)
	return days * 24 * time.Hour
}

// Duration formats an offset or a length for an axis or a hover text:
// 250ms, 1.5s, 42s, 2m, 2m30s, 1h5m.
func Duration(d time.Duration) string {
	switch {
	case d < 0:
		return "-" + Duration(-d)
	case d == 0:
		return "0s"
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < 10*time.Second && d%time.Second != 0:
		return trimZero(math.Round(d.Seconds()*10)/10) + "s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Round(time.Second).Seconds()))
	case d < time.Hour:
		d = d.Round(time.Second)
		m, s := int(d/time.Minute), int(d%time.Minute/time.Second)
		if s == 0 {
			return fmt.Sprintf("%dm", m)
		}
		return fmt.Sprintf("%dm%ds", m, s)
	}
	d = d.Round(time.Minute)
	h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
	if m == 0 {
		return fmt.Sprintf("%dh", h)
	}
	return fmt.Sprintf("%dh%dm", h, m)
}

// bounds returns the axis range.
func (c Timeline) bounds() (time.Time, time.Time) {
	start, end := c.Start, c.End
	for _, r := range c.Rows {
		for _, s := range r.Spans {
			if c.Start.IsZero() && !s.Start.IsZero() && (start.IsZero() || s.Start.Before(start)) {
				start = s.Start
			}
			if c.End.IsZero() && s.End.After(end) {
				end = s.End
			}
		}
	}
	if end.Before(start) || end.Equal(start) {
		end = start.Add(time.Second)
	}
	return start, end
}

// SVG draws the timeline.
func (c Timeline) SVG() template.HTML {
	width, labelW, rowH := orInt(c.Width, 960), orInt(c.LabelWidth, 250), orInt(c.RowHeight, 24)
	loc := c.Location
	if loc == nil {
		loc = time.UTC
	}
	const top, bottom, right = 26, 34, 16
	plotW := float64(width - labelW - right)
	height := top + rowH*len(c.Rows) + bottom
	start, end := c.bounds()
	span := end.Sub(start)
	x := func(t time.Time) float64 {
		return float64(labelW) + plotW*float64(t.Sub(start))/float64(span)
	}
	var w writer
	w.svgOpen(c.ID, "timeline "+c.Class, c.Title, c.Desc, width, height)

	// The axis: ticks relative to the start, grid lines through the rows.
	step := TimeStep(span, int(plotW/70))
	w.open("g", "class", "axis time", "data-start", start.UTC().Format(time.RFC3339Nano), "data-end", end.UTC().Format(time.RFC3339Nano),
		"data-step-ms", fmt.Sprint(step.Milliseconds()))
	for off := time.Duration(0); off <= span; off += step {
		tx := x(start.Add(off))
		w.leaf("line", "x1", num(tx), "x2", num(tx), "y1", itoa(top-6), "y2", itoa(top+rowH*len(c.Rows)), "stroke", "#e3e6eb")
		anchor := "middle"
		switch {
		case off == 0:
			anchor = "start"
		case tx > float64(labelW)+plotW-24:
			anchor = "end"
		}
		w.elem("text", Duration(off), "class", "tick", "x", num(tx), "y", itoa(top-10), "text-anchor", anchor, "fill", "#556")
	}
	w.leaf("line", "x1", itoa(labelW), "x2", num(float64(labelW)+plotW), "y1", itoa(top), "y2", itoa(top), "stroke", "#99a")
	yb := top + rowH*len(c.Rows)
	w.leaf("line", "x1", itoa(labelW), "x2", num(float64(labelW)+plotW), "y1", itoa(yb), "y2", itoa(yb), "stroke", "#99a")
	w.elem("text", "start "+start.In(loc).Format("2006-01-02 15:04:05.000 MST"), "class", "start", "x", itoa(labelW), "y", itoa(yb+16), "fill", "#334")
	w.elem("text", "end "+end.In(loc).Format("15:04:05.000 MST")+" (+"+Duration(span)+")", "class", "end",
		"x", num(float64(labelW)+plotW), "y", itoa(yb+16), "text-anchor", "end", "fill", "#334")
	w.close("g")

	for i, r := range c.Rows {
		y := float64(top + i*rowH)
		w.open("g", append([]string{"class", "row"}, dataAttrs(r.Data)...)...)
		if i%2 == 1 {
			w.leaf("rect", "x", "0", "y", num(y), "width", itoa(width), "height", itoa(rowH), "fill", "#f6f8fa")
		}
		linked := w.link(r.Href)
		w.elem("text", Fit(r.Label, float64(labelW-8)), "class", "label", "x", "4", "y", num(y+float64(rowH)*0.68))
		if linked {
			w.close("a")
		}
		for _, s := range r.Spans {
			if s.Start.IsZero() {
				continue
			}
			e := s.End
			if e.Before(s.Start) {
				e = s.Start
			}
			x0, x1 := x(s.Start), x(e)
			if x1-x0 < 2 {
				x1 = x0 + 2
			}
			if x1 > float64(labelW)+plotW {
				x0, x1 = float64(labelW)+plotW-(x1-x0), float64(labelW)+plotW
			}
			linkedBar := w.link(s.Href)
			attrs := append([]string{"class", "bar", "x", num(x0), "y", num(y + 4), "width", num(x1 - x0), "height", itoa(rowH - 8),
				"rx", "2", "fill", firstOf(s.Color, Palette[0]), "stroke", "#333", "stroke-width", "0.5"}, dataAttrs(s.Data)...)
			w.open("rect", attrs...)
			w.title(s.Title)
			w.close("rect")
			if linkedBar {
				w.close("a")
			}
		}
		w.close("g")
	}
	w.close("svg")
	return w.html()
}
