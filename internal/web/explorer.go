package web

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/warehouse"
)

// The warehouse explorer: every table paged, sortable and searchable, a CSV
// of the current view, and a read-only SQL box.

const (
	// pageRows is the explorer's page size.
	pageRows = 50
	// maxAPIRows bounds an API page.
	maxAPIRows = 1000
	// defaultQueryTimeout is how long a statement of the SQL box, a table
	// page or a search may run.
	defaultQueryTimeout = 10 * time.Second
	// defaultExportRows bounds a CSV download.
	defaultExportRows = 100_000
)

func (s *Server) queryTimeout() time.Duration {
	if s.opts.QueryTimeout > 0 {
		return s.opts.QueryTimeout
	}
	return defaultQueryTimeout
}

func (s *Server) exportRows() int {
	if s.opts.ExportRows > 0 {
		return s.opts.ExportRows
	}
	return defaultExportRows
}

// warehouseErr explains a failed warehouse read: the status and a message
// saying what happened and what to do.
func (s *Server) warehouseErr(ctx context.Context, err error) (int, string) {
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout, fmt.Sprintf("the query ran longer than %s and was stopped: narrow it (a WHERE clause, a LIMIT, fewer columns) and try again", s.queryTimeout())
	case errors.Is(err, grpipe.ErrNotFound):
		return http.StatusNotFound, err.Error()
	case errors.Is(err, grpipe.ErrBadInput):
		return http.StatusBadRequest, err.Error()
	case errors.Is(err, grpipe.ErrBusy) || errors.Is(err, ErrUnavailable):
		return http.StatusServiceUnavailable, err.Error()
	}
	return http.StatusBadRequest, "the warehouse refused the query: " + err.Error()
}

type tablesData struct {
	Tables []TableInfo
	Note   string
}

func (s *Server) pageWarehouse(w http.ResponseWriter, r *http.Request) {
	tables, err := s.b.Tables(r.Context())
	if err != nil {
		code, msg := s.warehouseErr(r.Context(), err)
		w.WriteHeader(code)
		s.render(w, r, "warehouse", "Warehouse", tablesData{Note: msg})
		return
	}
	s.render(w, r, "warehouse", "Warehouse", tablesData{Tables: tables})
}

// browseQuery reads a table view from the URL: sort, desc, q, page (pages)
// or order_by, desc, q, offset, limit (API), and a cursor, after or before
// (the key of a row) with after_val or before_val (its sort value; absent
// when NULL). With a cursor the page's "page" is only its number, shown;
// without one it selects the page by offset (the tables without a key).
func browseQuery(r *http.Request, api bool) (BrowseQuery, int, error) {
	v := r.URL.Query()
	q := BrowseQuery{Table: r.PathValue("table"), Search: strings.TrimSpace(v.Get("q")), Limit: pageRows}
	q.OrderBy = v.Get("sort")
	if api {
		q.OrderBy = v.Get("order_by")
	}
	q.Desc = v.Get("desc") == "1" || v.Get("desc") == "true"
	if len(q.Search) > 200 {
		return q, 0, fmt.Errorf("%w: the search text is %d characters long; at most 200", grpipe.ErrBadInput, len(q.Search))
	}
	for _, c := range []struct {
		name string
		to   **Cursor
	}{{"after", &q.After}, {"before", &q.Before}} {
		if !v.Has(c.name) {
			continue
		}
		k := v.Get(c.name)
		if k == "" || len(k) > 100 {
			return q, 0, fmt.Errorf("%w: %s must be the key of a row (as a page's links give it), not %q", grpipe.ErrBadInput, c.name, clip(k, 100))
		}
		*c.to = &Cursor{Key: k, Value: v.Get(c.name + "_val"), Null: !v.Has(c.name + "_val")}
	}
	if q.After != nil && q.Before != nil {
		return q, 0, fmt.Errorf("%w: give after or before, not both", grpipe.ErrBadInput)
	}
	if api {
		var err error
		if q.Offset, err = intParam(v, "offset", 0, 0, 1<<40); err != nil {
			return q, 0, err
		}
		if q.Limit, err = intParam(v, "limit", pageRows, 1, maxAPIRows); err != nil {
			return q, 0, err
		}
		return q, 0, nil
	}
	page, err := intParam(v, "page", 1, 1, 1<<30)
	if err != nil {
		return q, 0, err
	}
	if q.After == nil && q.Before == nil {
		q.Offset = (page - 1) * pageRows
	}
	return q, page, nil
}

func intParam(v url.Values, name string, def, min, max int) (int, error) {
	s := v.Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < min || n > max {
		return 0, fmt.Errorf("%w: %s must be a whole number from %d to %d, not %q", grpipe.ErrBadInput, name, min, max, s)
	}
	return n, nil
}

type sortLink struct {
	Column ColumnInfo
	Href   string
	Arrow  string // ▲ or ▼ on the sorted column
}

type browseData struct {
	Table  TableInfo
	Query  BrowseQuery
	Page   ResultPage
	Sorts  []sortLink
	PageNo int
	Pages  int64
	Prev   string
	Next   string
	// FirstPage links the view's first page from a page past the second.
	FirstPage string
	CSV       string
	Clear     string // the view without the search
	First     int    // the page's first row number (1-based)
	Last      int
	TextCol   bool
	Capped    bool // the view holds more rows than a CSV download gives
	MaxCSV    int
}

// viewURL is the explorer's URL of a table view: its sort, search, cursor
// (the sort value left out when the view is sorted by the key, the first
// column: the key says it) and page number.
func viewURL(q BrowseQuery, key, suffix string, page int) string {
	v := url.Values{}
	if q.OrderBy != "" {
		v.Set("sort", q.OrderBy)
	}
	if q.Desc {
		v.Set("desc", "1")
	}
	if q.Search != "" {
		v.Set("q", q.Search)
	}
	for name, c := range map[string]*Cursor{"after": q.After, "before": q.Before} {
		if c == nil {
			continue
		}
		v.Set(name, c.Key)
		if !c.Null && q.OrderBy != "" && q.OrderBy != key {
			v.Set(name+"_val", c.Value)
		}
	}
	if page > 1 {
		v.Set("page", strconv.Itoa(page))
	}
	u := "/warehouse/tables/" + url.PathEscape(q.Table) + suffix
	if len(v) > 0 {
		u += "?" + v.Encode()
	}
	return u
}

func (s *Server) pageBrowse(w http.ResponseWriter, r *http.Request) {
	q, pageNo, err := browseQuery(r, false)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.queryTimeout())
	defer cancel()
	page, err := s.b.Browse(ctx, q)
	if err != nil {
		code, msg := s.warehouseErr(ctx, err)
		s.failCode(w, r, code, errors.New(msg))
		return
	}
	info := TableInfo{Name: q.Table, Columns: page.Info, Rows: page.Total}
	key := ""
	if len(info.Columns) > 0 {
		key = info.Columns[0].Name
	}
	// The view itself, from its first row: what the sort links, the search
	// and the CSV start from.
	view := q
	view.After, view.Before, view.Offset = nil, nil, 0
	d := browseData{Table: info, Query: q, Page: page, PageNo: pageNo, MaxCSV: s.exportRows()}
	for _, c := range info.Columns {
		d.TextCol = d.TextCol || c.Text
		next := view
		next.OrderBy, next.Desc = c.Name, false
		sl := sortLink{Column: c}
		if q.OrderBy == c.Name || (q.OrderBy == "" && c.Name == key) {
			next.Desc = !q.Desc
			sl.Arrow = "▲"
			if q.Desc {
				sl.Arrow = "▼"
			}
		}
		sl.Href = viewURL(next, key, "", 1)
		d.Sorts = append(d.Sorts, sl)
	}
	if page.Total >= 0 {
		d.Pages = (page.Total + pageRows - 1) / pageRows
		d.Capped = page.Total > int64(d.MaxCSV)
	}
	// Pages of a table with a key are linked by the cursors of their first
	// and last rows (keyset paging); the others by their number.
	if page.Prev {
		prev := view
		if page.First != nil && d.PageNo != 2 {
			prev.Before = page.First
		}
		d.Prev = viewURL(prev, key, "", max(d.PageNo-1, 1))
		if prev.Before != nil || page.First == nil && d.PageNo > 2 {
			d.FirstPage = viewURL(view, key, "", 1)
		}
	}
	if page.More {
		next := view
		next.After = page.Last
		d.Next = viewURL(next, key, "", d.PageNo+1)
	}
	d.CSV = viewURL(view, key, "/csv", 1)
	noSearch := view
	noSearch.Search = ""
	d.Clear = viewURL(noSearch, key, "", 1)
	d.First = (d.PageNo-1)*pageRows + 1
	d.Last = d.First + len(page.Rows) - 1
	s.render(w, r, "browse", q.Table, d)
}

// csvName makes a download's file name from a table name.
func csvName(s string) string {
	return strings.Map(func(c rune) rune {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-' {
			return c
		}
		return '_'
	}, s) + ".csv"
}

// writeCSV streams x to w as CSV with a header row, at most max rows. Once
// the first row is written an error can only end the download early: it
// is logged and the body stops.
func (s *Server) writeCSV(w http.ResponseWriter, r *http.Request, name string, x ExportQuery) {
	max := s.exportRows()
	cw := csv.NewWriter(w)
	n, started := 0, false
	err := s.b.Export(r.Context(), x, func(cols []string, row []Cell) error {
		if row == nil {
			if started {
				return nil
			}
			started = true
			w.Header().Set("Content-Type", "text/csv; charset=utf-8")
			w.Header().Set("Content-Disposition", `attachment; filename="`+csvName(name)+`"`)
			return cw.Write(cols)
		}
		if n >= max {
			return ErrStop
		}
		rec := make([]string, len(row))
		for i, c := range row {
			rec[i] = c.Text
		}
		n++
		return cw.Write(rec)
	})
	if err != nil && !started {
		code, msg := s.warehouseErr(r.Context(), err)
		s.failCode(w, r, code, errors.New(msg))
		return
	}
	cw.Flush()
	if err != nil {
		s.log.Warn("csv download cut short", "name", name, "rows", n, "error", err)
	}
}

func (s *Server) pageBrowseCSV(w http.ResponseWriter, r *http.Request) {
	q, _, err := browseQuery(r, false)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeCSV(w, r, q.Table, ExportQuery{Browse: &q, Limit: s.exportRows()})
}

type queryData struct {
	SQL      string
	Page     ResultPage
	PageNo   int
	Prev     string
	Next     string
	CSV      string
	Error    string
	Ran      bool
	First    int
	Timeout  time.Duration
	Examples []string
}

var queryExamples = []string{
	"SELECT review_rating, count(*) AS reviews FROM goodreads_warehouse.reviews GROUP BY review_rating ORDER BY review_rating",
	"SELECT b.title, count(*) AS reviews FROM goodreads_warehouse.reviews r JOIN goodreads_warehouse.books b ON b.book_id = r.book_id GROUP BY b.title ORDER BY reviews DESC LIMIT 20",
	"SELECT reason, count(*) AS rows FROM goodreads_quality.rejected_rows GROUP BY reason ORDER BY rows DESC",
}

func queryURL(sql, suffix string, page int) string {
	v := url.Values{"sql": {sql}}
	if page > 1 {
		v.Set("page", strconv.Itoa(page))
	}
	return "/warehouse/query" + suffix + "?" + v.Encode()
}

// maxSQL bounds the SQL box's statement.
const maxSQL = 20_000

// checkSQL applies the guard of `grpipe query`: one statement that reads.
func checkSQL(q string) error {
	if len(q) > maxSQL {
		return fmt.Errorf("%w: the statement is %d bytes long; at most %d", grpipe.ErrBadInput, len(q), maxSQL)
	}
	return warehouse.CheckReadQuery(q)
}

func (s *Server) pageQuery(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	d := queryData{SQL: v.Get("sql"), Timeout: s.queryTimeout(), Examples: queryExamples, PageNo: 1}
	if strings.TrimSpace(d.SQL) == "" {
		s.render(w, r, "query", "SQL", d)
		return
	}
	page, err := intParam(v, "page", 1, 1, 1<<30)
	if err == nil {
		err = checkSQL(d.SQL)
	}
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		d.Error = "Refused: " + strings.TrimPrefix(err.Error(), grpipe.ErrBadInput.Error()+": ")
		s.render(w, r, "query", "SQL", d)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.queryTimeout())
	defer cancel()
	res, err := s.b.Query(ctx, d.SQL, (page-1)*pageRows, pageRows)
	if err != nil {
		code, msg := s.warehouseErr(ctx, err)
		w.WriteHeader(code)
		d.Error = msg
		s.render(w, r, "query", "SQL", d)
		return
	}
	d.Ran, d.Page, d.PageNo, d.First = true, res, page, (page-1)*pageRows+1
	if page > 1 {
		d.Prev = queryURL(d.SQL, "", page-1)
	}
	if res.More {
		d.Next = queryURL(d.SQL, "", page+1)
	}
	d.CSV = queryURL(d.SQL, "/csv", 1)
	s.render(w, r, "query", "SQL", d)
}

func (s *Server) pageQueryCSV(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query().Get("sql")
	if err := checkSQL(q); err != nil {
		s.failCode(w, r, http.StatusBadRequest, err)
		return
	}
	s.writeCSV(w, r, "query", ExportQuery{SQL: q, Limit: s.exportRows()})
}

// apiCells turns a page's rows into JSON values: strings, or null.
func apiCells(rows [][]Cell) [][]*string {
	out := make([][]*string, 0, len(rows))
	for _, row := range rows {
		vals := make([]*string, len(row))
		for i, c := range row {
			if !c.Null {
				t := c.Text
				vals[i] = &t
			}
		}
		out = append(out, vals)
	}
	return out
}

func (s *Server) apiTables(w http.ResponseWriter, r *http.Request) {
	tables, err := s.b.Tables(r.Context())
	if err != nil {
		code, msg := s.warehouseErr(r.Context(), err)
		writeError(w, code, msg)
		return
	}
	type col struct {
		Name string `json:"name"`
		Type string `json:"type"`
	}
	type table struct {
		Name    string `json:"name"`
		Rows    int64  `json:"rows"`
		Columns []col  `json:"columns"`
	}
	out := []table{}
	for _, t := range tables {
		tb := table{Name: t.Name, Rows: t.Rows, Columns: []col{}}
		for _, c := range t.Columns {
			tb.Columns = append(tb.Columns, col{c.Name, c.Type})
		}
		out = append(out, tb)
	}
	writeJSON(w, http.StatusOK, map[string]any{"tables": out, "total_entries": len(out)})
}

func (s *Server) apiBrowse(w http.ResponseWriter, r *http.Request) {
	q, _, err := browseQuery(r, true)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.queryTimeout())
	defer cancel()
	page, err := s.b.Browse(ctx, q)
	if err != nil {
		code, msg := s.warehouseErr(ctx, err)
		writeError(w, code, msg)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"columns": page.Columns, "rows": apiCells(page.Rows), "total_entries": page.Total,
		"offset": q.Offset, "more": page.More, "prev": page.Prev, "first": apiCursor(page.First), "last": apiCursor(page.Last)})
}

// apiCursor is a cursor as the rows API gives it: the key and the sort
// value (null for NULL) a client passes back as after and after_val (or
// before and before_val); null for a page without one.
func apiCursor(c *Cursor) any {
	if c == nil {
		return nil
	}
	var v *string
	if !c.Null {
		v = &c.Value
	}
	return map[string]any{"key": c.Key, "value": v}
}

func (s *Server) apiQuery(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	sql := v.Get("sql")
	offset, err := intParam(v, "offset", 0, 0, 1<<40)
	var limit int
	if err == nil {
		limit, err = intParam(v, "limit", pageRows, 1, maxAPIRows)
	}
	if err == nil {
		err = checkSQL(sql)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.queryTimeout())
	defer cancel()
	page, err := s.b.Query(ctx, sql, offset, limit)
	if err != nil {
		code, msg := s.warehouseErr(ctx, err)
		writeError(w, code, msg)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"columns": page.Columns, "rows": apiCells(page.Rows), "offset": offset, "more": page.More})
}
