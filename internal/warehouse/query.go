package warehouse

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Rows is the result of a query, every value converted to a plain Go value.
type Rows struct {
	Columns []string
	Values  [][]any
}

// Query runs one statement that returns rows, with args bound to its
// parameters. It does not guard against writes itself: on a warehouse opened
// read-only a write is refused, and the error wraps ErrReadOnly.
func (w *Warehouse) Query(ctx context.Context, q string, args ...any) (*Rows, error) {
	rows, err := w.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, w.mapErr(err)
	}
	defer rows.Close()
	out, err := collect(rows)
	return out, w.mapErr(err)
}

func collect(rows *sql.Rows) (*Rows, error) {
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	out := &Rows{Columns: cols}
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, fmt.Errorf("read row: %w", err)
		}
		for i, v := range vals {
			vals[i] = plain(v)
		}
		out.Values = append(out.Values, vals)
	}
	return out, rows.Err()
}

// plain turns driver values into values that print and marshal well.
func plain(v any) any {
	switch x := v.(type) {
	case []byte:
		return string(x)
	case time.Time:
		return x.UTC().Format("2006-01-02 15:04:05.999999")
	}
	return v
}
