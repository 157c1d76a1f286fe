package warehouse

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/warehouse/driver"
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
		out = append(out, driver.Table{Schema: WarehouseSchema, Name: e.Name}.String())
	}
	out = append(out, rejectedRows.String())
	for _, t := range AnalyticsTables() {
		out = append(out, t.Qualified().String())
	}
	return out
}

// Qualified returns the table with its schema.
func (t AnalyticsTable) Qualified() driver.Table {
	return driver.Table{Schema: AnalyticsSchema, Name: t.Table}
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

// analyticsDef returns the table's columns.
func (w *Warehouse) analyticsDef(t AnalyticsTable) driver.TableDef {
	si := subjectOf(t.Subject)
	d := driver.TableDef{Table: t.Qualified()}
	switch t.Kind {
	case grpipe.AnalyticsReviewCount:
		d.Columns = []driver.ColumnDef{{Name: "rank", Type: "BIGINT"}, {Name: si.key, Type: "BIGINT"}, {Name: "review_count", Type: "BIGINT"}}
	case grpipe.AnalyticsAverageRating:
		d.Columns = []driver.ColumnDef{{Name: "rank", Type: "BIGINT"}, {Name: si.key, Type: "BIGINT"},
			{Name: "average_review_rating", Type: "DOUBLE PRECISION"}, {Name: "review_count", Type: "BIGINT"}}
	default:
		d.Columns = []driver.ColumnDef{{Name: si.key, Type: "BIGINT"}, {Name: "review_count", Type: "BIGINT"},
			{Name: "average_review_rating", Type: "DOUBLE PRECISION"}, {Name: "count_rank", Type: "BIGINT"}, {Name: "rating_rank", Type: "BIGINT"}}
	}
	for _, name := range si.dimColumns {
		for _, c := range si.entity.Columns {
			if c.Name == name {
				d.Columns = append(d.Columns, driver.ColumnDef{Name: name, Type: w.Dialect().TypeName(c.Type)})
			}
		}
	}
	return d
}

// analyticsData is what the analytics templates are rendered with. Totals
// is nil (the reviews are aggregated by the statement; the window is bound
// as $1 and $2, the ranking's length as $3) until BuildAnalytics finds the
// subject's totals valid (Totals names them; the ranking's length is $1).
func analyticsData(t AnalyticsTable) map[string]any {
	si := subjectOf(t.Subject)
	return map[string]any{
		"Table":      t.Qualified(),
		"Subject":    string(t.Subject),
		"Key":        si.key,
		"Reviews":    driver.Table{Schema: WarehouseSchema, Name: grpipe.Reviews.Name},
		"Dim":        driver.Table{Schema: WarehouseSchema, Name: si.entity.Name},
		"DimKey":     si.entity.Key,
		"DimColumns": si.dimColumns,
		"Order":      t.orderColumn(),
		"Totals":     nil,
		"Top":        3,
	}
}

// The review totals: per subject, one aggregation of the reviews in a run's
// window (each id's number of reviews, of rated reviews, their average
// rating), written to a scratch table of the staging schema by
// BuildReviewTotals, from which the subject's three analytics tables are
// ranked (one scan of the reviews instead of three). A mark row says for
// which window a subject's totals hold the stored reviews; every change of
// the reviews (an upsert, FillReviewAuthors) deletes the marks in its own
// transaction, and BuildAnalytics aggregates the reviews itself when the
// mark of its window is missing, so a table is never ranked from totals
// older than the reviews.
var reviewTotalsMarks = driver.Table{Schema: StagingSchema, Name: "review_totals"}

func (w *Warehouse) reviewTotalsMarksDef() driver.TableDef {
	return driver.TableDef{Table: reviewTotalsMarks, Columns: []driver.ColumnDef{
		{Name: "subject", Type: w.Dialect().Text}, {Name: "window_start", Type: "TIMESTAMP"}, {Name: "window_end", Type: "TIMESTAMP"}}}
}

// reviewTotalsDef is the totals table of subject s.
func reviewTotalsDef(s Subject) driver.TableDef {
	return driver.TableDef{Table: driver.Table{Schema: StagingSchema, Name: "review_totals_" + string(s)}, Columns: []driver.ColumnDef{
		{Name: subjectOf(s).key, Type: "BIGINT"}, {Name: "review_count", Type: "BIGINT"}, {Name: "rated_count", Type: "BIGINT"},
		{Name: "average_review_rating", Type: "DOUBLE PRECISION"}}}
}

// BuildReviewTotals aggregates the reviews in window for subject s into
// the subject's totals table and marks it valid for window, in one
// transaction; the subject's BuildAnalytics then rank from it. Run it
// after the warehouse's loads and before the subject's analytics tables
// (the DAG's Create_*_analytics_table task).
func (w *Warehouse) BuildReviewTotals(ctx context.Context, s Subject, window Window) (int64, error) {
	def := reviewTotalsDef(s)
	if _, err := w.exec(ctx, w.db, "create_staging", def); err != nil {
		return 0, fmt.Errorf("review totals of %s: %w", s, err)
	}
	marks := map[string]any{"Table": reviewTotalsMarks, "Subject": true}
	tx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("review totals of %s: %w", s, w.mapErr(err))
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if _, err := w.exec(ctx, tx, "review_totals_forget", marks, string(s)); err != nil {
		return 0, fmt.Errorf("review totals of %s: %w", s, err)
	}
	if _, err := w.exec(ctx, tx, "analytics_delete", map[string]any{"Table": def.Table}); err != nil {
		return 0, fmt.Errorf("review totals of %s: %w", s, err)
	}
	source := analyticsData(AnalyticsTable{Subject: s})
	n, err := w.exec(ctx, tx, "review_totals_insert", map[string]any{"Totals": def.Table, "Key": subjectOf(s).key, "Source": source},
		window.Start.UTC(), window.End.UTC())
	if err != nil {
		return 0, fmt.Errorf("review totals of %s: %w", s, err)
	}
	if _, err := w.exec(ctx, tx, "review_totals_mark", marks, string(s), window.Start.UTC(), window.End.UTC()); err != nil {
		return 0, fmt.Errorf("review totals of %s: %w", s, err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("review totals of %s: commit: %w", s, w.mapErr(err))
	}
	w.log.Info("review totals built", "subject", string(s), "rows", n)
	return n, nil
}

// forgetReviewTotals deletes every mark of the review totals, in tx (a
// change of the stored reviews).
func (w *Warehouse) forgetReviewTotals(ctx context.Context, tx *sql.Tx) error {
	if _, err := w.exec(ctx, tx, "review_totals_forget", map[string]any{"Table": reviewTotalsMarks, "Subject": false}); err != nil {
		return fmt.Errorf("forget review totals: %w", err)
	}
	return nil
}

// orderColumn is the column that ranks the table's rows.
func (t AnalyticsTable) orderColumn() string {
	if t.Kind == grpipe.AnalyticsBest {
		return "count_rank"
	}
	return "rank"
}

// CreateAnalyticsSchema creates the goodreads_analytics schema if missing.
func (w *Warehouse) CreateAnalyticsSchema(ctx context.Context) error {
	_, err := w.exec(ctx, w.db, "schema", map[string]string{"Schema": AnalyticsSchema})
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
	data := analyticsData(t)
	tx, err := w.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("build %s: %w", t.Table, w.mapErr(err))
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	valid, err := w.txInt(ctx, tx, "review_totals_valid", map[string]any{"Table": reviewTotalsMarks}, string(t.Subject), window.Start.UTC(), window.End.UTC())
	if err != nil {
		return 0, fmt.Errorf("build %s: %w", t.Table, err)
	}
	args := []any{window.Start.UTC(), window.End.UTC(), TopN}
	if valid == 1 {
		data["Totals"], data["Top"], args = reviewTotalsDef(t.Subject).Table, 1, []any{TopN}
	}
	if _, err := w.exec(ctx, tx, "analytics_delete", data); err != nil {
		return 0, fmt.Errorf("build %s: %w", t.Table, err)
	}
	n, err := w.exec(ctx, tx, "analytics_"+string(t.Kind), data, args...)
	if err != nil {
		return 0, fmt.Errorf("build %s: %w", t.Table, err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("build %s: commit: %w", t.Table, w.mapErr(err))
	}
	w.log.Info("analytics built", "table", t.Table, "rows", n, "from_totals", valid == 1)
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
		table := t.Qualified().String()
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

// Top returns the first limit rows of an analytics table, every column, in
// rank order (count_rank for the best_* tables): what the demo and the web
// UI show. The error wraps ErrNoTable when the table is not built yet.
func (w *Warehouse) Top(ctx context.Context, t AnalyticsTable, limit int) (*Rows, error) {
	if limit < 0 {
		return nil, fmt.Errorf("%w: top %s: limit %d must be >= 0", grpipe.ErrBadInput, t.Table, limit)
	}
	q, err := w.stmts.Render("analytics_top", analyticsData(t))
	if err != nil {
		return nil, err
	}
	rows, err := w.Query(ctx, q, limit)
	if err != nil {
		return nil, fmt.Errorf("top of %s: %w", t.Table, err)
	}
	return rows, nil
}
