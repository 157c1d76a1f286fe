package chart

import (
	"html/template"
	"math"
)

// Category is one position on the x axis of a Columns or Lines chart.
type Category struct {
	// Label is written under the axis; when labels are crowded only every
	// n-th is written (the hover text always names the category).
	Label string
	// Sub, when set, is a second, smaller line under Label (e.g. a run's
	// type under its date); it is written and thinned with Label.
	Sub string
	// Title names the category in hover texts; "" means Label.
	Title string
	// Href, when a safe link, makes the category's marks links.
	Href string
}

// Series is one named sequence of values, one per category.
type Series struct {
	Name string
	// Color draws the series; "" means the palette's colour for its index.
	Color string
	// Values holds one value per category; NaN means none (no bar, a gap in a line).
	Values []float64
}

// XY holds what Columns and Lines share: the categories along the x axis,
// the series and the value axis.
type XY struct {
	// ID and Class are the svg element's id and extra classes.
	ID, Class string
	// Title is the chart's accessible name; Desc describes it in a sentence.
	Title, Desc string
	Categories  []Category
	Series      []Series
	// Width and Height are the chart's size in pixels; 0 means 720 × 260.
	Width, Height int
	// Format writes values in hover texts; nil means Number.
	Format func(float64) string
	// AxisFormat writes the value axis's ticks; nil means Format, or Compact
	// when Format is nil.
	AxisFormat func(float64) string
	// YLabel names the value axis (e.g. "seconds", "rows"); it is written
	// above the axis.
	YLabel string
	// Counts marks whole-number values (rows, reviews): the axis's steps are
	// whole numbers too.
	Counts bool
}

// Columns is a vertical bar chart: a column per category and series, side by
// side, or stacked when Stacked is set.
type Columns struct {
	XY
	Stacked bool
}

// Lines is a line chart over categories: one line per series, a marker (with
// its hover text) on every value.
type Lines struct {
	XY
}

// frame is the geometry of an XY chart's plot area.
type frame struct {
	x0, y0, w, h float64 // plot area: left, top, width, height
	ticks        []float64
	max          float64
	n            int // categories
}

func (f frame) band() float64 { return f.w / float64(max(f.n, 1)) }

// cx is the centre of category i.
func (f frame) cx(i int) float64 { return f.x0 + f.band()*(float64(i)+0.5) }

// y is the vertical position of value v.
func (f frame) y(v float64) float64 {
	if f.max <= 0 {
		return f.y0 + f.h
	}
	return f.y0 + f.h - f.h*math.Max(0, v)/f.max
}

func (c XY) format(v float64) string {
	if c.Format != nil {
		return c.Format(v)
	}
	return Number(v)
}

func (c XY) axisFormat(v float64) string {
	switch {
	case c.AxisFormat != nil:
		return c.AxisFormat(v)
	case c.Format != nil:
		return c.Format(v)
	}
	return Compact(v)
}

func (c XY) seriesColor(i int) string {
	if c.Series[i].Color != "" {
		return c.Series[i].Color
	}
	return Color(i)
}

func (c XY) catTitle(i int) string {
	if i >= len(c.Categories) {
		return ""
	}
	if c.Categories[i].Title != "" {
		return c.Categories[i].Title
	}
	return c.Categories[i].Label
}

func (c XY) value(s, i int) float64 {
	if i < len(c.Series[s].Values) {
		return c.Series[s].Values[i]
	}
	return math.NaN()
}

// begin writes the root, the legend, the value axis with its grid lines and
// the category labels, and returns the plot's geometry. maxValue is the
// largest value to fit.
func (c XY) begin(w *writer, kind string, maxValue float64) frame {
	width, height := orInt(c.Width, 720), orInt(c.Height, 260)
	legendH := 0.0
	var legend []legendItem
	if len(c.Series) > 1 {
		legend, legendH = layoutLegend(c, float64(width))
	}
	f := frame{x0: 58, y0: 10 + legendH, n: len(c.Categories)}
	if c.YLabel != "" {
		f.y0 += 14
	}
	f.w = float64(width) - f.x0 - 12
	f.h = float64(height) - f.y0 - 34
	if c.hasSub() {
		f.h -= 14
	}
	if f.h < 20 {
		f.h = 20
	}
	if c.Counts && maxValue <= 5 {
		// Whole steps of one: 0, 1, ... up to the largest count (at least 1).
		f.ticks = nil
		for v := 0.0; v <= math.Max(math.Ceil(maxValue), 1); v++ {
			f.ticks = append(f.ticks, v)
		}
	} else {
		f.ticks = NiceTicks(0, math.Max(maxValue, 0), 5)
	}
	f.max = f.ticks[len(f.ticks)-1]
	w.svgOpen(c.ID, kind+" "+c.Class, c.Title, c.Desc, width, height)
	for _, it := range legend {
		w.open("g", "class", "legend-item")
		w.leaf("rect", "x", num(it.x), "y", num(it.y), "width", "10", "height", "10", "rx", "2", "fill", it.color)
		w.elem("text", it.name, "x", num(it.x+14), "y", num(it.y+9))
		w.close("g")
	}
	w.open("g", "class", "axis y")
	for _, t := range f.ticks {
		y := f.y(t)
		w.leaf("line", "x1", num(f.x0), "x2", num(f.x0+f.w), "y1", num(y), "y2", num(y), "stroke", "#e3e6eb")
		w.elem("text", c.axisFormat(t), "x", num(f.x0-6), "y", num(y+4), "text-anchor", "end", "fill", "#556")
	}
	if c.YLabel != "" {
		w.elem("text", c.YLabel, "x", "4", "y", num(f.y0-10), "fill", "#556", "class", "ylabel")
	}
	w.close("g")
	w.open("g", "class", "axis x")
	w.leaf("line", "x1", num(f.x0), "x2", num(f.x0+f.w), "y1", num(f.y0+f.h), "y2", num(f.y0+f.h), "stroke", "#99a")
	every := labelEvery(c.Categories, f.band())
	for i, cat := range c.Categories {
		if i%every != 0 || cat.Label == "" {
			continue
		}
		w.open("text", "x", num(f.cx(i)), "y", num(f.y0+f.h+16), "text-anchor", "middle", "fill", "#556")
		w.title(c.catTitle(i))
		w.text(Fit(cat.Label, f.band()*float64(every)-4))
		w.close("text")
		if cat.Sub != "" {
			w.elem("text", Fit(cat.Sub, f.band()*float64(every)-4), "x", num(f.cx(i)), "y", num(f.y0+f.h+30),
				"text-anchor", "middle", "fill", "#778", "class", "sub")
		}
	}
	w.close("g")
	return f
}

// hasSub reports whether a category has a second label line.
func (c XY) hasSub() bool {
	for _, cat := range c.Categories {
		if cat.Sub != "" {
			return true
		}
	}
	return false
}

// labelEvery returns n so that every n-th category label fits.
func labelEvery(cats []Category, band float64) int {
	longest := 1
	for _, c := range cats {
		if n := len([]rune(c.Label)); n > longest {
			longest = n
		}
		if n := len([]rune(c.Sub)); n > longest {
			longest = n
		}
	}
	need := float64(longest)*charWidth + 8
	if band <= 0 {
		return 1
	}
	n := int(math.Ceil(need / band))
	if n < 1 {
		n = 1
	}
	return n
}

type legendItem struct {
	name, color string
	x, y        float64
}

// layoutLegend places the series' names in lines across the top.
func layoutLegend(c XY, width float64) ([]legendItem, float64) {
	var out []legendItem
	x, y := 58.0, 4.0
	for i, s := range c.Series {
		w := 14 + float64(len([]rune(s.Name)))*charWidth + 14
		if x+w > width-8 && x > 58 {
			x, y = 58, y+16
		}
		out = append(out, legendItem{name: s.Name, color: c.seriesColor(i), x: x, y: y})
		x += w
	}
	return out, y + 18
}

// SVG draws the columns.
func (c Columns) SVG() template.HTML {
	maxV := 0.0
	for i := range c.Categories {
		sum := 0.0
		for s := range c.Series {
			v := c.value(s, i)
			if math.IsNaN(v) || v < 0 {
				continue
			}
			if c.Stacked {
				sum += v
			} else {
				maxV = math.Max(maxV, v)
			}
		}
		maxV = math.Max(maxV, sum)
	}
	var w writer
	f := c.begin(&w, "columns", maxV)
	band := f.band()
	// Columns take most of their band, but never more than 56 px: a chart
	// of two categories should not show two slabs.
	groupW := math.Min(band*0.84, 56*float64(max(len(c.Series), 1)))
	colW := math.Min(band*0.78, 56)
	if !c.Stacked && len(c.Series) > 1 {
		colW = groupW / float64(len(c.Series))
	}
	w.open("g", "class", "marks")
	for i := range c.Categories {
		base := 0.0
		linked := w.link(c.Categories[i].Href)
		for s, se := range c.Series {
			v := c.value(s, i)
			if math.IsNaN(v) {
				continue
			}
			x := f.cx(i) - colW/2
			if !c.Stacked && len(c.Series) > 1 {
				x = f.cx(i) - groupW/2 + colW*float64(s)
			}
			bottom := base
			if c.Stacked {
				base += math.Max(v, 0)
			} else {
				bottom = 0
			}
			top := bottom + math.Max(v, 0)
			y, h := f.y(top), f.y(bottom)-f.y(top)
			if v > 0 && h < 1 {
				y, h = y-1+h, 1
			}
			title := c.catTitle(i) + ": " + c.format(v)
			if len(c.Series) > 1 || se.Name != "" {
				title = c.catTitle(i) + " · " + se.Name + ": " + c.format(v)
			}
			w.open("rect", "class", "bar", "x", num(x), "y", num(y), "width", num(math.Max(colW, 0.8)), "height", num(h),
				"fill", c.seriesColor(s), "data-series", se.Name, "data-category", c.catTitle(i), "data-value", strconvG(v))
			w.title(title)
			w.close("rect")
		}
		if linked {
			w.close("a")
		}
	}
	w.close("g")
	w.close("svg")
	return w.html()
}

// SVG draws the lines.
func (c Lines) SVG() template.HTML {
	maxV := 0.0
	for s := range c.Series {
		for i := range c.Categories {
			if v := c.value(s, i); !math.IsNaN(v) {
				maxV = math.Max(maxV, v)
			}
		}
	}
	var w writer
	f := c.begin(&w, "lines", maxV)
	for s, se := range c.Series {
		color := c.seriesColor(s)
		w.open("g", "class", "series", "data-series", se.Name)
		// One polyline per run of values without a gap.
		var pts []byte
		flush := func() {
			if len(pts) > 0 {
				w.leaf("polyline", "points", string(pts), "fill", "none", "stroke", color, "stroke-width", "2", "stroke-linejoin", "round")
			}
			pts = pts[:0]
		}
		for i := range c.Categories {
			v := c.value(s, i)
			if math.IsNaN(v) {
				flush()
				continue
			}
			if len(pts) > 0 {
				pts = append(pts, ' ')
			}
			pts = append(pts, num(f.cx(i))+","+num(f.y(v))...)
		}
		flush()
		for i := range c.Categories {
			v := c.value(s, i)
			if math.IsNaN(v) {
				continue
			}
			linked := w.link(c.Categories[i].Href)
			w.open("circle", "class", "point", "cx", num(f.cx(i)), "cy", num(f.y(v)), "r", "3.5", "fill", color,
				"data-category", c.catTitle(i), "data-value", strconvG(v))
			w.title(c.catTitle(i) + " · " + se.Name + ": " + c.format(v))
			w.close("circle")
			if linked {
				w.close("a")
			}
		}
		w.close("g")
	}
	w.close("svg")
	return w.html()
}
