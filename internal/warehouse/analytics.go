package warehouse

import (
	"context"
	"fmt"
	"time"

	grpipe "github.com/grpipe/grpipe"
)

// Window bounds the reviews the analytics tables count, by
// record_create_timestamp: [Start, End).
type Window struct {
	Start, End time.Time
}

// AllTime is the default window: every review.
var AllTime = Window{Start: time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), End: time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)}

// Subject is what an analytics table ranks: authors or books.
type Subject string

// The two subjects of the original's analytics.
const (
	AuthorSubject Subject = "author"
	BookSubject   Subject = "book"
)

// AnalyticsTable is one of the six analytics tables.
type AnalyticsTable struct {
	Table   string
	Subject Subject
	// Kind is what the table ranks by.
	Kind grpipe.AnalyticsKind
}

// AnalyticsTables lists the original's six analytics tables.
func AnalyticsTables() []AnalyticsTable {
	return []AnalyticsTable{
		{"popular_authors_review_count", AuthorSubject, grpipe.AnalyticsReviewCount},
		{"popular_authors_average_rating", AuthorSubject, grpipe.AnalyticsAverageRating},
		{"best_authors", AuthorSubject, grpipe.AnalyticsBest},
		{"popular_books_review_count", BookSubject, grpipe.AnalyticsReviewCount},
		{"popular_books_average_rating", BookSubject, grpipe.AnalyticsAverageRating},
		{"best_books", BookSubject, grpipe.AnalyticsBest},
	}
}

// Tables lists every table a user looks at, schema-qualified: the four
// warehouse tables, the rejected rows and the six analytics tables.
func Tables() []string {
	var out []string
	for _, e := range grpipe.Entities() {
		out = append(out, "goodreads_warehouse."+e.Name)
	}
	out = append(out, "goodreads_quality.rejected_rows")
	for _, t := range AnalyticsTables() {
		out = append(out, "goodreads_analytics."+t.Table)
	}
	return out
}

// AnalyticsTableByName returns the analytics table called name.
func AnalyticsTableByName(name string) (AnalyticsTable, bool) {
	for _, t := range AnalyticsTables() {
		if t.Table == name {
			return t, true
		}
	}
	return AnalyticsTable{}, false
}

// TopN is how many authors or books each ranking keeps.
const TopN = 10

type subjectInfo struct {
	entity     grpipe.Entity
	key        string
	dimColumns []string
}

func subjectOf(s Subject) subjectInfo {
	if s == AuthorSubject {
		return subjectInfo{grpipe.Authors, "author_id",
			[]string{"name", "role", "profile_url", "average_rating", "rating_count", "text_review_count"}}
	}
	return subjectInfo{grpipe.Books, "book_id",
		[]string{"title", "title_without_series", "image_url", "book_url", "num_pages", "format", "publisher",
			"publication_year", "average_rating", "ratings_count"}}
}

// def returns the table's columns.
func (w *Warehouse) analyticsDef(t AnalyticsTable) TableDef {
	si := subjectOf(t.Subject)
	d := TableDef{Table: "goodreads_analytics." + t.Table}
	switch t.Kind {
	case grpipe.AnalyticsReviewCount:
		d.Columns = []ColumnDef{{"rank", "BIGINT"}, {si.key, "BIGINT"}, {"review_count", "BIGINT"}}
	case grpipe.AnalyticsAverageRating:
		d.Columns = []ColumnDef{{"rank", "BIGINT"}, {si.key, "BIGINT"}, {"average_review_rating", "DOUBLE PRECISION"}, {"review_count", "BIGINT"}}
	default:
		d.Columns = []ColumnDef{{si.key, "BIGINT"}, {"review_count", "BIGINT"}, {"average_review_rating", "DOUBLE PRECISION"},
			{"count_rank", "BIGINT"}, {"rating_rank", "BIGINT"}}
	}
	for _, name := range si.dimColumns {
		for _, c := range si.entity.Columns {
			if c.Name == name {
				d.Columns = append(d.Columns, ColumnDef{name, w.Dialect().TypeName(c.Type)})
			}
		}
	}
	return d
}

// CreateAnalyticsSchema creates the goodreads_analytics schema if missing.
func (w *Warehouse) CreateAnalyticsSchema(ctx context.Context) error {
	_, err := w.exec(ctx, w.db, "schema", map[string]string{"Schema": "goodreads_analytics"})
	return err
}

// CreateAnalyticsTables creates the subject's three analytics tables if missing.
func (w *Warehouse) CreateAnalyticsTables(ctx context.Context, s Subject) error {
	for _, t := range AnalyticsTables() {
		if t.Subject != s {
			continue
		}
		if _, err := w.exec(ctx, w.db, "create_table", w.analyticsDef(t)); err != nil {
			return fmt.Errorf("create %s: %w", t.Table, err)
		}
	}
	return nil
}

// BuildAnalytics replaces the rows of one analytics table, in one
// transaction, with the ranking over the reviews in window.
func (w *Warehouse) BuildAnalytics(ctx context.Context, t AnalyticsTable, window Window) (int64, error) {
	si := subjectOf(t.Subject)
	data := map[string]any{
		"Table": t.Table, "Subject": string(t.Subject), "Key": si.key, "DimKey": si.key,
		"Dim": si.entity.Name, "DimColumns": si.dimColumns, "Limit": TopN,
	}
	tx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("build %s: %w", t.Table, w.explain(err))
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if _, err := w.exec(ctx, tx, "analytics_delete", data); err != nil {
		return 0, fmt.Errorf("build %s: %w", t.Table, err)
	}
	n, err := w.exec(ctx, tx, "analytics_"+string(t.Kind), data, window.Start.UTC(), window.End.UTC())
	if err != nil {
		return 0, fmt.Errorf("build %s: %w", t.Table, err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("build %s: commit: %w", t.Table, w.explain(err))
	}
	w.log.Info("analytics built", "table", t.Table, "rows", n)
	return n, nil
}

// AnalyticsChecks checks that each of the subject's ranking tables has rows
// (the original's check). The best_* tables may be empty when no one is in
// both top lists: their check reports the count and passes.
func (w *Warehouse) AnalyticsChecks(ctx context.Context, s Subject) ([]grpipe.CheckResult, error) {
	var out []grpipe.CheckResult
	for _, t := range AnalyticsTables() {
		if t.Subject != s {
			continue
		}
		table := "goodreads_analytics." + t.Table
		n, err := w.Count(ctx, table)
		if err != nil {
			return nil, err
		}
		if t.Kind == grpipe.AnalyticsBest {
			out = append(out, grpipe.CheckResult{Name: "row_count", Table: table, Passed: true,
				Detail: fmt.Sprintf("%d rows (may be empty: no %s in both top-%d lists)", n, s, TopN)})
			continue
		}
		out = append(out, grpipe.CheckResult{Name: "row_count", Table: table, Passed: n >= 1,
			Detail: fmt.Sprintf("%d rows (at least 1 expected)", n)})
	}
	return out, nil
}
