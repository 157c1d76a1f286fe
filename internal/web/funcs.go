package web

import (
	"fmt"
	"html/template"
	"strings"
	"unicode/utf8"

	"github.com/grpipe/grpipe/internal/web/chart"
)

// chartFuncs are the template functions of the chart pages.
var chartFuncs = template.FuncMap{
	// num writes a count with thousands separators: 6,049,074.
	"num": func(v any) string {
		switch x := v.(type) {
		case int:
			return chart.Number(float64(x))
		case int64:
			return chart.Number(float64(x))
		case float64:
			return chart.Number(x)
		}
		return fmt.Sprint(v)
	},
	// clip shortens long text for a table cell (the whole text is in its title).
	"clip": clip,
	"sub":  func(a, b int) int { return a - b },
	"list": func(v ...int) []int { return v },
}

// clip shortens s to n characters, ending it with "…".
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimRight(string(r[:n-1]), " ") + "…"
}
