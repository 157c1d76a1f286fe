package app

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/quarantine"
	"github.com/grpipe/grpipe/internal/warehouse"
	"github.com/grpipe/grpipe/internal/warehouse/driver"
	"github.com/grpipe/grpipe/internal/web"
)

// The web backend's reads for the charts, the warehouse explorer and the
// quarantine view. Each opens the warehouse read-only for the request (the
// embedded DuckDB file stays free for runs between requests); aggregations
// run in the warehouse.

// openRead opens the warehouse read-only. A warehouse not created yet is an
// error wrapping grpipe.ErrNotFound; one that cannot be opened now wraps
// web.ErrUnavailable.
func (b *WebBackend) openRead(ctx context.Context) (*warehouse.Warehouse, error) {
	wh, err := OpenWarehouse(ctx, b.Config, true, b.Log)
	if err == nil {
		return wh, nil
	}
	if errors.Is(err, grpipe.ErrNotFound) {
		return nil, fmt.Errorf("the warehouse does not exist yet: the first run creates it (%w)", grpipe.ErrNotFound)
	}
	if errors.Is(err, warehouse.ErrBusy) {
		return nil, fmt.Errorf("%w: a run is writing to it; try again when the run ends", web.ErrUnavailable)
	}
	return nil, fmt.Errorf("%w: %v", web.ErrUnavailable, err)
}

// window is the analytics window of the configuration: its bounds (zero
// values: unbounded) and the warehouse's window.
func (b *WebBackend) window() ([2]time.Time, warehouse.Window) {
	bounds := [2]time.Time{b.Config.Analytics.WindowStart, b.Config.Analytics.WindowEnd}
	w := warehouse.AllTime
	if !bounds[0].IsZero() {
		w.Start = bounds[0]
	}
	if !bounds[1].IsZero() {
		w.End = bounds[1]
	}
	return bounds, w
}

// Analytics reads the six analytics tables and the distributions of the
// window's reviews.
func (b *WebBackend) Analytics(ctx context.Context) (web.AnalyticsView, error) {
	bounds, win := b.window()
	v := web.AnalyticsView{WindowStart: bounds[0], WindowEnd: bounds[1]}
	wh, err := b.openRead(ctx)
	if err != nil {
		if errors.Is(err, grpipe.ErrNotFound) || errors.Is(err, web.ErrUnavailable) {
			v.Note = err.Error()
			return v, nil
		}
		return v, err
	}
	defer wh.Close()
	exist, err := wh.ExistingTables(ctx)
	if err != nil {
		return v, err
	}
	if !exist["goodreads_warehouse.reviews"] {
		v.Note = "The warehouse has no reviews yet: the first run creates and fills it."
		return v, nil
	}
	ratings, days, err := wh.ReviewDistributions(ctx, win)
	if err != nil {
		return v, err
	}
	for _, r := range ratings {
		v.Ratings = append(v.Ratings, web.RatingCount{Rating: r.Rating, Reviews: r.Reviews})
	}
	for _, d := range days {
		v.PerDay = append(v.PerDay, web.DayCount{Day: d.Day, Reviews: d.Reviews})
		v.Reviews += d.Reviews
	}
	missing := 0
	for _, t := range warehouse.AnalyticsTables() {
		rk := web.Ranking{Table: t.Table, Subject: string(t.Subject), Kind: string(t.Kind)}
		if !exist["goodreads_analytics."+t.Table] {
			missing++
			v.Rankings = append(v.Rankings, rk)
			continue
		}
		rows, err := wh.AnalyticsRows(ctx, t)
		if err != nil {
			return v, err
		}
		for _, r := range rows {
			rk.Rows = append(rk.Rows, web.Ranked{Rank: r.Rank, RatingRank: r.RatingRank, ID: r.ID, Name: r.Name, URL: r.URL,
				ImageURL: r.ImageURL, ReviewCount: r.ReviewCount, AverageRating: r.AverageRating})
		}
		v.Rankings = append(v.Rankings, rk)
	}
	if missing > 0 {
		v.Note = fmt.Sprintf("%d of the six analytics tables are not built yet: a successful run builds them.", missing)
	}
	return v, nil
}

// Tables lists the tables the explorer shows, with their row counts (-1
// for a table not created yet).
func (b *WebBackend) Tables(ctx context.Context) ([]web.TableInfo, error) {
	wh, err := b.openRead(ctx)
	if err != nil {
		return nil, err
	}
	defer wh.Close()
	exist, err := wh.ExistingTables(ctx)
	if err != nil {
		return nil, err
	}
	var out []web.TableInfo
	for _, d := range wh.BrowseTables() {
		t := web.TableInfo{Name: d.Table.String(), Columns: columnInfo(wh, d), Rows: -1}
		if exist[d.Table.String()] {
			if t.Rows, err = wh.Count(ctx, d.Table.String()); err != nil {
				return nil, err
			}
		}
		out = append(out, t)
	}
	return out, nil
}

func columnInfo(wh *warehouse.Warehouse, d driver.TableDef) []web.ColumnInfo {
	out := make([]web.ColumnInfo, 0, len(d.Columns))
	for _, c := range d.Columns {
		out = append(out, web.ColumnInfo{Name: c.Name, Type: c.Type, Text: wh.IsText(c.Type)})
	}
	return out
}

func toBrowse(q web.BrowseQuery) warehouse.Browse {
	return warehouse.Browse{Table: q.Table, OrderBy: q.OrderBy, Desc: q.Desc, Search: q.Search, Offset: q.Offset, Limit: q.Limit,
		After: (*warehouse.Cursor)(q.After), Before: (*warehouse.Cursor)(q.Before)}
}

// cell turns a warehouse value into text.
func cell(v any) web.Cell {
	switch x := v.(type) {
	case nil:
		return web.Cell{Null: true}
	case string:
		return web.Cell{Text: x}
	case float64:
		return web.Cell{Text: strconv.FormatFloat(x, 'g', -1, 64)}
	case float32:
		return web.Cell{Text: strconv.FormatFloat(float64(x), 'g', -1, 32)}
	}
	return web.Cell{Text: fmt.Sprint(v)}
}

func cells(vals []any) []web.Cell {
	out := make([]web.Cell, len(vals))
	for i, v := range vals {
		out[i] = cell(v)
	}
	return out
}

// Browse reads one page of a table view and the number of rows of the view.
func (b *WebBackend) Browse(ctx context.Context, q web.BrowseQuery) (web.ResultPage, error) {
	wh, err := b.openRead(ctx)
	if err != nil {
		return web.ResultPage{}, err
	}
	defer wh.Close()
	var def *driver.TableDef
	for _, d := range wh.BrowseTables() {
		if d.Table.String() == q.Table {
			def = &d
		}
	}
	if def == nil {
		return web.ResultPage{}, fmt.Errorf("table %q: %w (the explorer shows the tables listed on /warehouse)", q.Table, grpipe.ErrNotFound)
	}
	exist, err := wh.ExistingTables(ctx)
	if err != nil {
		return web.ResultPage{}, err
	}
	if !exist[q.Table] {
		return web.ResultPage{}, fmt.Errorf("table %s is not created yet (a run creates it): %w", q.Table, grpipe.ErrNotFound)
	}
	page := web.ResultPage{Info: columnInfo(wh, *def)}
	wb := toBrowse(q)
	rows, err := wh.BrowsePage(ctx, wb)
	if err != nil {
		return page, err
	}
	page.Columns, page.More, page.Prev = rows.Columns, rows.Next, rows.Prev
	page.First, page.Last = (*web.Cursor)(rows.First), (*web.Cursor)(rows.Last)
	for _, r := range rows.Values {
		page.Rows = append(page.Rows, cells(r))
	}
	if page.Total, err = wh.BrowseCount(ctx, wb); err != nil {
		return page, err
	}
	return page, nil
}

// Query runs one read-only statement and returns rows [offset, offset+limit).
func (b *WebBackend) Query(ctx context.Context, sql string, offset, limit int) (web.ResultPage, error) {
	wh, err := b.openRead(ctx)
	if err != nil {
		return web.ResultPage{}, err
	}
	defer wh.Close()
	page := web.ResultPage{Total: -1}
	err = wh.QueryEach(ctx, sql, offset, limit+1, func(cols []string, vals []any) error {
		page.Columns = cols
		switch {
		case vals == nil:
		case len(page.Rows) == limit:
			page.More = true
		default:
			page.Rows = append(page.Rows, cells(vals))
		}
		return nil
	})
	return page, err
}

// Export streams a table view or a statement's rows.
func (b *WebBackend) Export(ctx context.Context, x web.ExportQuery, fn func([]string, []web.Cell) error) error {
	wh, err := b.openRead(ctx)
	if err != nil {
		return err
	}
	defer wh.Close()
	each := func(cols []string, vals []any) error {
		var row []web.Cell
		if vals != nil {
			row = cells(vals)
		}
		return fn(cols, row)
	}
	if x.Browse != nil {
		wb := toBrowse(*x.Browse)
		wb.Offset, wb.Limit, wb.After, wb.Before = 0, x.Limit, nil, nil
		err = wh.BrowseEach(ctx, wb, each)
	} else {
		err = wh.QueryEach(ctx, x.SQL, 0, x.Limit, each)
	}
	if errors.Is(err, web.ErrStop) {
		return nil
	}
	return err
}

// ScanRejected streams the run's quarantine files (quarantine/<run_id>/
// and the folders of its later tries, <run_id>_try<N>/), row by row.
func (b *WebBackend) ScanRejected(ctx context.Context, runID string, fn func(entity string, v web.RejectedView) error) error {
	if _, err := b.Store.Run(ctx, runID); err != nil {
		return err
	}
	err := quarantine.ScanRunRows(ctx, b.Zones, runID, func(entity string, v *quarantine.RowView) error { return fn(entity, v) })
	if errors.Is(err, web.ErrStop) {
		return nil
	}
	return err
}
