package warehouse

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/warehouse/driver"
)

// Reads for the web UI: the distributions the analytics dashboard draws,
// the rows of the analytics tables, and the explorer's paged, sorted and
// searched views of a table. Aggregations run in the warehouse; only their
// results (a few hundred rows at most) and single pages leave it.

// RatingCount is the number of reviews with one rating.
type RatingCount struct {
	Rating  int
	Reviews int64
}

// DayCount is the number of reviews created on one day (UTC).
type DayCount struct {
	Day     time.Time
	Reviews int64
}

// ReviewDistributions counts the reviews of the window by rating, a rating
// under its whole part (0 to 5; reviews without a rating are left out), in
// rating order, and per day of their record_create_timestamp (UTC), in day
// order (days without reviews are left out). Both come from one scan of the
// reviews (stats_reviews.sql), grouped by day and rating.
func (w *Warehouse) ReviewDistributions(ctx context.Context, win Window) ([]RatingCount, []DayCount, error) {
	byRating := map[int]int64{}
	byDay := map[time.Time]int64{}
	err := w.scanRows(ctx, "stats_reviews", nil, []any{win.Start.UTC(), win.End.UTC()}, func(rows *sql.Rows) error {
		var day time.Time
		var rating sql.NullInt64
		var n int64
		if err := rows.Scan(&day, &rating, &n); err != nil {
			return err
		}
		byDay[time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, time.UTC)] += n
		if rating.Valid {
			byRating[int(rating.Int64)] += n
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	var ratings []RatingCount
	for r, n := range byRating {
		ratings = append(ratings, RatingCount{Rating: r, Reviews: n})
	}
	sort.Slice(ratings, func(i, j int) bool { return ratings[i].Rating < ratings[j].Rating })
	var days []DayCount
	for d, n := range byDay {
		days = append(days, DayCount{Day: d, Reviews: n})
	}
	sort.Slice(days, func(i, j int) bool { return days[i].Day.Before(days[j].Day) })
	return ratings, days, nil
}

// Ranked is one row of an analytics table.
type Ranked struct {
	// Rank is the place in the table's ranking (count_rank for best_*);
	// RatingRank the place by rating (best_* only).
	Rank, RatingRank int64
	ID               int64
	// Name is the author's name or the book's title; URL the Goodreads
	// page; ImageURL the cover (books).
	Name, URL, ImageURL string
	ReviewCount         int64
	// AverageRating is zero in the review-count tables (they lack it).
	AverageRating float64
}

// AnalyticsRows reads an analytics table in rank order.
func (w *Warehouse) AnalyticsRows(ctx context.Context, t AnalyticsTable) ([]Ranked, error) {
	si := subjectOf(t.Subject)
	name, url, image := "name", "profile_url", ""
	if t.Subject == BookSubject {
		name, url, image = "title", "book_url", "image_url"
	}
	rank, ratingRank, avg := "rank", "", "average_review_rating"
	switch t.Kind {
	case "best":
		rank, ratingRank = "count_rank", "rating_rank"
	case "review_count":
		avg = ""
	}
	// "" selects NULL: a column the table lacks, so every table reads into
	// the same row shape.
	cols := []string{rank, ratingRank, si.key, name, url, image, "review_count", avg}
	data := map[string]any{"Table": t.Qualified(), "Order": rank, "Columns": cols}
	var out []Ranked
	err := w.scanRows(ctx, "analytics_select", data, nil, func(rows *sql.Rows) error {
		var r Ranked
		var rr, id, count sql.NullInt64
		var n, u, img sql.NullString
		var a sql.NullFloat64
		if err := rows.Scan(&r.Rank, &rr, &id, &n, &u, &img, &count, &a); err != nil {
			return err
		}
		r.RatingRank, r.ID, r.ReviewCount, r.AverageRating = rr.Int64, id.Int64, count.Int64, a.Float64
		r.Name, r.URL, r.ImageURL = n.String, u.String, img.String
		out = append(out, r)
		return nil
	})
	return out, err
}

// BrowseTables lists the tables the explorer may show, schema-qualified,
// with their columns: the four warehouse tables, the quality tables and the
// six analytics tables.
func (w *Warehouse) BrowseTables() []driver.TableDef {
	var out []driver.TableDef
	for _, e := range grpipe.Entities() {
		out = append(out, w.entityDef(WarehouseSchema, e))
	}
	out = append(out, w.qualityDefs()...)
	for _, t := range AnalyticsTables() {
		out = append(out, w.analyticsDef(t))
	}
	return out
}

// IsText reports whether a column type of the dialect holds text.
func (w *Warehouse) IsText(typ string) bool { return typ == w.Dialect().Text }

// Browse is a view of one table: sorted by one column, filtered by a
// search over its text columns, one page of it.
type Browse struct {
	// Table is schema-qualified, one of BrowseTables.
	Table string
	// OrderBy is a column of the table ("" means the first), Desc the
	// direction. NULLs come last; rows with the same value are ordered by
	// the table's key (its first column) in the same direction.
	OrderBy string
	Desc    bool
	// Search keeps rows where a text column contains it, ignoring case.
	Search string
	// Offset and Limit select a page; Limit 0 means every row.
	Offset, Limit int
	// After or Before (one at most, with Offset 0), on a table with a key
	// (KeyedTable), start the view right after the row the cursor names or
	// end it right before: keyset paging. The warehouse then finds a page
	// far from the start by filtering on the sort column and the key, not
	// by walking past every row before it as an offset does.
	After, Before *Cursor
}

// Cursor names a row's place in a sorted table view: the value of the
// view's sort column, as text (Null when it is NULL), and the row's key,
// as text. Page's First and Last are cursors; the explorer's links carry
// them.
type Cursor struct {
	Value string
	Null  bool
	Key   string
}

// Page is one page of a table view.
type Page struct {
	Rows
	// First and Last are the cursors of the page's first and last rows;
	// nil on a table without a key and on an empty page.
	First, Last *Cursor
	// Prev and Next report rows of the view before the page's first row
	// and after its last.
	Prev, Next bool
}

// KeyedTable reports whether a table of BrowseTables has a key, its
// first column (the warehouse's ids, the analytics tables' ranks and ids):
// such a table is paged with cursors. The quality tables have none.
func KeyedTable(def driver.TableDef) bool {
	return def.Table.Schema == WarehouseSchema || def.Table.Schema == AnalyticsSchema
}

// browsePlan is a Browse checked against the table's definition and
// turned into the browse templates' data and parameters.
type browsePlan struct {
	data  map[string]any
	args  []any
	cols  []string
	order int // the sort column's index in cols
	keyed bool
}

func (w *Warehouse) planBrowse(b Browse) (browsePlan, error) {
	var def *driver.TableDef
	for _, d := range w.BrowseTables() {
		if d.Table.String() == b.Table {
			def = &d
			break
		}
	}
	if def == nil {
		return browsePlan{}, fmt.Errorf("table %q: %w (the tables are the warehouse, quality and analytics tables)", b.Table, grpipe.ErrNotFound)
	}
	p := browsePlan{order: -1, keyed: KeyedTable(*def)}
	var texts []string
	for i, c := range def.Columns {
		p.cols = append(p.cols, c.Name)
		if w.IsText(c.Type) {
			texts = append(texts, c.Name)
		}
		if c.Name == b.OrderBy {
			p.order = i
		}
	}
	if b.OrderBy != "" && p.order < 0 {
		return browsePlan{}, fmt.Errorf("column %q of %s: %w", b.OrderBy, b.Table, grpipe.ErrNotFound)
	}
	p.order = max(p.order, 0)
	order, first := def.Columns[p.order], def.Columns[0]
	cursor := b.After
	if b.Before != nil {
		cursor = b.Before
	}
	switch {
	case b.After != nil && b.Before != nil:
		return browsePlan{}, fmt.Errorf("%w: a view of %s starts after a row or ends before one, not both", grpipe.ErrBadInput, b.Table)
	case cursor != nil && !p.keyed:
		return browsePlan{}, fmt.Errorf("%w: %s has no key to page by: page it with an offset", grpipe.ErrBadInput, b.Table)
	case cursor != nil && b.Offset != 0:
		return browsePlan{}, fmt.Errorf("%w: a view of %s starting after a row takes no offset", grpipe.ErrBadInput, b.Table)
	}
	// The key is the first column of a keyed table (unique: the id, or
	// the rank). Tie breaks ties of the sort column in the unpaged form.
	key, tie := "", ""
	if p.keyed {
		key = first.Name
	}
	if p.order != 0 {
		tie = first.Name
	}
	reverse := b.Before != nil
	p.data = map[string]any{"Table": def.Table, "Columns": p.cols, "Order": order.Name, "Desc": b.Desc, "Key": key, "Tie": tie,
		"Search": b.Search != "", "TextColumns": texts, "Limit": b.Limit > 0, "Cursor": cursor,
		"Reverse": reverse, "Down": b.Desc != reverse,
		"SortColumn": order, "KeyColumn": first, "Text": driver.ColumnDef{Type: w.Dialect().Text}, "RowID": w.Dialect().RowID}
	// The templates place each parameter by its position in Arg.
	arg := map[string]int{}
	bind := func(name string, v any) {
		p.args = append(p.args, v)
		arg[name] = len(p.args)
	}
	if b.Search != "" {
		if len(texts) == 0 {
			return browsePlan{}, fmt.Errorf("%w: %s has no text column to search", grpipe.ErrBadInput, b.Table)
		}
		bind("Search", "%"+likeEscaper.Replace(b.Search)+"%")
	}
	if cursor != nil {
		if p.order != 0 && !cursor.Null {
			bind("Value", cursor.Value)
		}
		bind("Key", cursor.Key)
	}
	if b.Limit > 0 {
		bind("Limit", int64(b.Limit))
		bind("Offset", int64(b.Offset))
	}
	p.data["Arg"] = arg
	return p, nil
}

// likeEscaper escapes the LIKE wildcards of a search text (ESCAPE '\').
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// BrowsePage returns one page of a table view, every value converted to a
// plain Go value, and where the page stands in the view. On a keyed table
// the page's rows are read with the cursor's keyset condition and Limit
// rows at most (no extra row: see browse.sql), and whether rows come
// before and after them is asked of the warehouse (browse_exists.sql),
// which stops at the first such row; on the others with Limit+1 rows.
func (w *Warehouse) BrowsePage(ctx context.Context, b Browse) (*Page, error) {
	p, err := w.planBrowse(b)
	if err != nil {
		return nil, err
	}
	read := b
	if !p.keyed && b.Limit > 0 {
		read.Limit = b.Limit + 1 // one more tells whether a next page exists
	}
	out := &Page{}
	err = w.BrowseEach(ctx, read, func(cols []string, vals []any) error {
		out.Columns = cols
		if vals != nil {
			out.Values = append(out.Values, vals)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !p.keyed {
		if b.Limit > 0 && len(out.Values) > b.Limit {
			out.Values, out.Next = out.Values[:b.Limit], true
		}
		out.Prev = b.Offset > 0
		return out, nil
	}
	n := len(out.Values)
	if n == 0 {
		out.Prev, out.Next = b.After != nil, b.Before != nil
		return out, nil
	}
	out.First = cursorOf(out.Values[0], p.order)
	out.Last = cursorOf(out.Values[n-1], p.order)
	full := b.Limit > 0 && n == b.Limit
	// A page cut short by its limit has rows beyond it only if the view does.
	if b.Before != nil || full {
		if out.Next, err = w.browseExists(ctx, b, out.Last, false); err != nil {
			return nil, err
		}
	}
	if b.After != nil || (b.Before != nil && full) {
		if out.Prev, err = w.browseExists(ctx, b, out.First, true); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// browseExists reports whether the view b holds a row after c (before,
// with before).
func (w *Warehouse) browseExists(ctx context.Context, b Browse, c *Cursor, before bool) (bool, error) {
	b.Offset, b.Limit, b.After, b.Before = 0, 0, c, nil
	if before {
		b.After, b.Before = nil, c
	}
	p, err := w.planBrowse(b)
	if err != nil {
		return false, err
	}
	found := false
	err = w.scanRows(ctx, "browse_exists", p.data, p.args, func(*sql.Rows) error {
		found = true
		return nil
	})
	return found, err
}

// cursorOf is the cursor of a row (plain values) of a view sorted by the
// column at index order.
func cursorOf(vals []any, order int) *Cursor {
	c := &Cursor{Key: cursorText(vals[0])}
	if vals[order] == nil {
		c.Null = true
	} else {
		c.Value = cursorText(vals[order])
	}
	return c
}

// cursorText writes a plain value as the text the browse templates cast
// back to the column's type: numbers in full precision, times as plain
// writes them.
func cursorText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return floatText(x, 64)
	case float32:
		return floatText(float64(x), 32)
	case bool:
		return strconv.FormatBool(x)
	}
	return fmt.Sprint(v)
}

func floatText(f float64, bits int) string {
	switch {
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case math.IsNaN(f):
		return "NaN"
	}
	return strconv.FormatFloat(f, 'g', -1, bits)
}

// BrowseCount returns the number of rows of a table view (its search
// applies; its cursor and page do not).
func (w *Warehouse) BrowseCount(ctx context.Context, b Browse) (int64, error) {
	b.Limit, b.Offset, b.After, b.Before = 0, 0, nil, nil
	p, err := w.planBrowse(b)
	if err != nil {
		return 0, err
	}
	return w.queryInt(ctx, "browse_count", p.data, p.args...)
}

// BrowseEach streams a table view to fn: first once with the column names
// and nil values, then once per row. fn returning an error stops the
// stream and BrowseEach returns that error.
func (w *Warehouse) BrowseEach(ctx context.Context, b Browse, fn func(cols []string, vals []any) error) error {
	p, err := w.planBrowse(b)
	if err != nil {
		return err
	}
	q, err := w.stmts.Render("browse", p.data)
	if err != nil {
		return err
	}
	return w.each(ctx, q, p.args, fn)
}

// QueryEach runs one read-only statement (checked by ReadStatement) and
// streams at most limit rows from offset (limit 0: every row) to fn, as
// BrowseEach does. Statements that can be a subquery (SELECT, WITH,
// VALUES, TABLE, FROM) are wrapped in one with LIMIT and OFFSET, so the
// warehouse computes and returns only those rows; others (SHOW, DESCRIBE,
// EXPLAIN, ...) are run as they are and their rows skipped and cut here.
// The backend must have been opened read-only: the check here is the first
// of two guards.
func (w *Warehouse) QueryEach(ctx context.Context, query string, offset, limit int, fn func(cols []string, vals []any) error) error {
	stmt, verb, err := ReadStatement(query)
	if err != nil {
		return err
	}
	switch verb {
	case "SELECT", "WITH", "VALUES", "TABLE", "FROM":
		if limit <= 0 {
			return w.each(ctx, stmt, nil, fn)
		}
		// The statement as a subquery, so that only the page is computed.
		// It ends on its own line: a trailing -- comment stays a comment.
		return w.each(ctx, "SELECT * FROM (\n"+stmt+"\n) AS \"grpipe_query\" LIMIT $1 OFFSET $2", []any{int64(limit), int64(offset)}, fn)
	}
	n := 0
	return w.each(ctx, stmt, nil, func(cols []string, vals []any) error {
		if vals == nil {
			return fn(cols, nil)
		}
		n++
		if n <= offset {
			return nil
		}
		if limit > 0 && n > offset+limit {
			return errStopRows
		}
		return fn(cols, vals)
	})
}

// errStopRows ends each's loop early without an error.
var errStopRows = errors.New("enough rows")

// each runs q and calls fn with the columns, then with each row.
func (w *Warehouse) each(ctx context.Context, q string, args []any, fn func(cols []string, vals []any) error) error {
	rows, err := w.db.QueryContext(ctx, q, args...)
	if err != nil {
		return w.mapErr(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return w.mapErr(err)
	}
	if err := fn(cols, nil); err != nil {
		return err
	}
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("read row: %w", err)
		}
		for i, v := range vals {
			vals[i] = plain(v)
		}
		if err := fn(cols, vals); err != nil {
			if errors.Is(err, errStopRows) {
				return nil
			}
			return err
		}
	}
	return w.mapErr(rows.Err())
}

// scanRows renders the named template, runs it with args and calls scan
// for each row.
func (w *Warehouse) scanRows(ctx context.Context, name string, data any, args []any, scan func(*sql.Rows) error) error {
	q, err := w.stmts.Render(name, data)
	if err != nil {
		return err
	}
	rows, err := w.db.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("%s: %w", name, w.mapErr(err))
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s: %w", name, w.mapErr(err))
	}
	return nil
}

// ExistingTables returns the schema-qualified names of the tables (and
// views) the warehouse holds.
func (w *Warehouse) ExistingTables(ctx context.Context) (map[string]bool, error) {
	out := map[string]bool{}
	err := w.scanRows(ctx, "tables_existing", nil, nil, func(rows *sql.Rows) error {
		var schema, table string
		if err := rows.Scan(&schema, &table); err != nil {
			return err
		}
		out[schema+"."+table] = true
		return nil
	})
	return out, err
}
