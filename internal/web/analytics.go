package web

import (
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/grpipe/grpipe/internal/web/chart"
)

// coverHosts are where Goodreads serves cover images; /analytics may load
// images from them (and only them: its Content-Security-Policy says so).
const coverHosts = "https://*.gr-assets.com"

// analyticsCSP is the policy of /analytics: the site's, plus cover images.
const analyticsCSP = "default-src 'self'; style-src 'self'; script-src 'self'; img-src 'self' data: " + coverHosts

type rankCard struct {
	Table   string
	Heading string
	Caption string
	Books   bool
	Best    bool
	Rating  bool // the bars show the average rating
	Rows    []rankRow
}

type rankRow struct {
	Ranked
	Link  string // the Goodreads page, when a safe http(s) URL
	Cover string // the cover to load; "" shows the placeholder
	Meter template.HTML
	Value string
	// Place is the row's place in its list (1, 2, ...): a best_* table's
	// rows are ranked twice (by reviews and by rating), and the board
	// numbers them by place, with the two ranks on hover.
	Place int
}

type timeBucket struct {
	Start   time.Time
	Label   string
	Reviews int64
}

type analyticsData struct {
	View         AnalyticsView
	Window       string
	Ratings      []RatingCount
	RatingsChart template.HTML
	Unit         string
	Buckets      []timeBucket
	TimeChart    template.HTML
	Cards        []rankCard
}

var rankHeadings = map[string][2]string{
	"popular_books_review_count":     {"Most reviewed books", "books by number of reviews"},
	"popular_books_average_rating":   {"Highest rated books", "books by average review rating"},
	"best_books":                     {"Best books", "books in both top lists: most reviewed and highest rated"},
	"popular_authors_review_count":   {"Most reviewed authors", "authors by number of reviews"},
	"popular_authors_average_rating": {"Highest rated authors", "authors by average review rating"},
	"best_authors":                   {"Best authors", "authors in both top lists: most reviewed and highest rated"},
}

// coverURL returns the cover image to load for a book, or "" when
// Goodreads has none (its "nophoto" image) or the URL is not an https URL
// on Goodreads' image hosts (the page's policy would block it).
func coverURL(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Scheme != "https" || strings.Contains(u.Path, "/nophoto/") || u.User != nil {
		return ""
	}
	if h := u.Hostname(); h != "gr-assets.com" && !strings.HasSuffix(h, ".gr-assets.com") {
		return ""
	}
	return u.String()
}

// reviewsText writes a number of reviews: "1 review", "1,234 reviews".
func reviewsText(n int64) string {
	if n == 1 {
		return "1 review"
	}
	return chart.Number(float64(n)) + " reviews"
}

func windowText(v AnalyticsView) string {
	switch {
	case v.WindowStart.IsZero() && v.WindowEnd.IsZero():
		return "all reviews"
	case v.WindowStart.IsZero():
		return "reviews created before " + v.WindowEnd.UTC().Format("2006-01-02 15:04")
	case v.WindowEnd.IsZero():
		return "reviews created from " + v.WindowStart.UTC().Format("2006-01-02 15:04")
	}
	return "reviews created from " + v.WindowStart.UTC().Format("2006-01-02 15:04") + " to " + v.WindowEnd.UTC().Format("2006-01-02 15:04") + " (excluded)"
}

// bucketDays groups day counts by day (up to 92 days), week (Monday to
// Sunday, up to three years) or month, with empty buckets filled in.
func bucketDays(days []DayCount) (string, []timeBucket) {
	if len(days) == 0 {
		return "day", nil
	}
	first, last := days[0].Day.UTC(), days[len(days)-1].Day.UTC()
	span := last.Sub(first)
	unit := "day"
	switch {
	case span > 3*366*24*time.Hour:
		unit = "month"
	case span > 92*24*time.Hour:
		unit = "week"
	}
	start := func(t time.Time) time.Time {
		t = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
		switch unit {
		case "week":
			return t.AddDate(0, 0, -((int(t.Weekday()) + 6) % 7))
		case "month":
			return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
		}
		return t
	}
	next := func(t time.Time) time.Time {
		switch unit {
		case "week":
			return t.AddDate(0, 0, 7)
		case "month":
			return t.AddDate(0, 1, 0)
		}
		return t.AddDate(0, 0, 1)
	}
	label := func(t time.Time) string {
		switch unit {
		case "week":
			return "week of " + t.Format("2006-01-02")
		case "month":
			return t.Format("2006-01")
		}
		return t.Format("2006-01-02")
	}
	var out []timeBucket
	i := 0
	for b := start(first); !b.After(last); b = next(b) {
		e := next(b)
		bk := timeBucket{Start: b, Label: label(b)}
		for i < len(days) && days[i].Day.UTC().Before(e) {
			bk.Reviews += days[i].Reviews
			i++
		}
		out = append(out, bk)
	}
	return unit, out
}

func (s *Server) pageAnalytics(w http.ResponseWriter, r *http.Request) {
	v, err := s.b.Analytics(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Security-Policy", analyticsCSP)
	s.render(w, r, "analytics", "Analytics", buildAnalytics(v))
}

func buildAnalytics(v AnalyticsView) analyticsData {
	d := analyticsData{View: v, Window: windowText(v)}

	// The rating distribution: every rating 0-5, zero when none.
	counts := map[int]int64{}
	for _, rc := range v.Ratings {
		counts[rc.Rating] += rc.Reviews
	}
	ratings := chart.Series{Name: "reviews", Color: "#e9a23b"}
	var cats []chart.Category
	var rated int64
	for i := 0; i <= 5; i++ {
		d.Ratings = append(d.Ratings, RatingCount{Rating: i, Reviews: counts[i]})
		cats = append(cats, chart.Category{Label: fmt.Sprintf("%d ★", i), Title: fmt.Sprintf("rating %d", i)})
		ratings.Values = append(ratings.Values, float64(counts[i]))
		rated += counts[i]
	}
	d.RatingsChart = chart.Columns{XY: chart.XY{ID: "chart-ratings", Title: "Reviews by rating",
		Desc:       fmt.Sprintf("Column chart of the %s reviews with a rating, by rating from 0 to 5.", chart.Number(float64(rated))),
		Categories: cats, Series: []chart.Series{ratings}, Width: 460, Height: 240, YLabel: "reviews", Counts: true}}.SVG()

	// Reviews over time.
	d.Unit, d.Buckets = bucketDays(v.PerDay)
	cats = nil
	per := chart.Series{Name: "reviews", Color: "#4e79a7"}
	for _, b := range d.Buckets {
		lbl := b.Start.Format("Jan 2")
		if d.Unit == "month" {
			lbl = b.Start.Format("Jan 2006")
		}
		cats = append(cats, chart.Category{Label: lbl, Title: b.Label})
		per.Values = append(per.Values, float64(b.Reviews))
	}
	d.TimeChart = chart.Columns{XY: chart.XY{ID: "chart-per-" + d.Unit, Title: "Reviews per " + d.Unit,
		Desc:       fmt.Sprintf("Column chart of the number of reviews created per %s, %d %ss.", d.Unit, len(d.Buckets), d.Unit),
		Categories: cats, Series: []chart.Series{per}, Width: 900, Height: 260, YLabel: "reviews", Counts: true}}.SVG()

	for _, rk := range v.Rankings {
		h := rankHeadings[rk.Table]
		card := rankCard{Table: rk.Table, Heading: h[0], Books: rk.Subject == "book", Best: rk.Kind == "best", Rating: rk.Kind == "average_rating"}
		if card.Heading == "" {
			card.Heading = rk.Table
		}
		var max float64
		for _, row := range rk.Rows {
			if float64(row.ReviewCount) > max {
				max = float64(row.ReviewCount)
			}
		}
		for i, row := range rk.Rows {
			rr := rankRow{Ranked: row, Link: chart.SafeHref(row.URL), Place: i + 1}
			if rr.Link != "" && !strings.HasPrefix(rr.Link, "http") {
				rr.Link = "" // a Goodreads page, never a path on this site
			}
			if card.Books {
				rr.Cover = coverURL(row.ImageURL)
			}
			switch {
			case card.Rating:
				rr.Value = fmt.Sprintf("%.2f ★ (%s)", row.AverageRating, reviewsText(row.ReviewCount))
				rr.Meter = chart.Meter{Value: row.AverageRating, Max: 5, Color: "#e9a23b", Label: rr.Value}.SVG()
			case card.Best:
				rr.Value = fmt.Sprintf("%s · %.2f ★", reviewsText(row.ReviewCount), row.AverageRating)
				rr.Meter = chart.Meter{Value: float64(row.ReviewCount), Max: max, Color: "#59a14f", Label: rr.Value}.SVG()
			default:
				rr.Value = reviewsText(row.ReviewCount)
				rr.Meter = chart.Meter{Value: float64(row.ReviewCount), Max: max, Label: rr.Value}.SVG()
			}
			card.Rows = append(card.Rows, rr)
		}
		card.Caption = fmt.Sprintf("Top %d %s", len(card.Rows), h[1])
		if len(card.Rows) > 0 {
			card.Caption += fmt.Sprintf("; first: %s, %s.", card.Rows[0].Name, card.Rows[0].Value)
		} else {
			card.Caption += ": none yet."
		}
		d.Cards = append(d.Cards, card)
	}
	return d
}

// apiAnalytics serves what /analytics draws.
func (s *Server) apiAnalytics(w http.ResponseWriter, r *http.Request) {
	v, err := s.b.Analytics(r.Context())
	if err != nil {
		s.apiFail(w, err)
		return
	}
	type ranked struct {
		Rank          int64    `json:"rank"`
		RatingRank    *int64   `json:"rating_rank,omitempty"`
		ID            int64    `json:"id"`
		Name          string   `json:"name"`
		URL           string   `json:"url"`
		ImageURL      string   `json:"image_url,omitempty"`
		ReviewCount   int64    `json:"review_count"`
		AverageRating *float64 `json:"average_review_rating,omitempty"`
	}
	type ranking struct {
		Table   string   `json:"table"`
		Subject string   `json:"subject"`
		Kind    string   `json:"kind"`
		Rows    []ranked `json:"rows"`
	}
	type rating struct {
		Rating  int   `json:"rating"`
		Reviews int64 `json:"reviews"`
	}
	type day struct {
		Day     string `json:"day"`
		Reviews int64  `json:"reviews"`
	}
	out := struct {
		WindowStart *string   `json:"window_start"`
		WindowEnd   *string   `json:"window_end"`
		Reviews     int64     `json:"reviews"`
		Ratings     []rating  `json:"ratings"`
		PerDay      []day     `json:"reviews_per_day"`
		Tables      []ranking `json:"tables"`
		Note        string    `json:"note,omitempty"`
	}{WindowStart: timePtr(v.WindowStart), WindowEnd: timePtr(v.WindowEnd), Reviews: v.Reviews, Note: v.Note,
		Ratings: []rating{}, PerDay: []day{}, Tables: []ranking{}}
	d := buildAnalytics(v)
	for _, rc := range d.Ratings {
		out.Ratings = append(out.Ratings, rating(rc))
	}
	for _, dc := range v.PerDay {
		out.PerDay = append(out.PerDay, day{Day: dc.Day.UTC().Format("2006-01-02"), Reviews: dc.Reviews})
	}
	for _, rk := range v.Rankings {
		t := ranking{Table: rk.Table, Subject: rk.Subject, Kind: rk.Kind, Rows: []ranked{}}
		for _, row := range rk.Rows {
			x := ranked{Rank: row.Rank, ID: row.ID, Name: row.Name, URL: row.URL, ImageURL: row.ImageURL, ReviewCount: row.ReviewCount}
			if rk.Kind != "review_count" {
				avg := row.AverageRating
				x.AverageRating = &avg
			}
			if rk.Kind == "best" {
				rr := row.RatingRank
				x.RatingRank = &rr
			}
			t.Rows = append(t.Rows, x)
		}
		out.Tables = append(out.Tables, t)
	}
	writeJSON(w, http.StatusOK, out)
}
