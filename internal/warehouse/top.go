package warehouse

import (
	"context"
	"fmt"

	grpipe "github.com/grpipe/grpipe"
)

// Top returns the first n rows of analytics table t, every column, in rank
// order (a best_* table by its count rank): what the demo shows.
func (w *Warehouse) Top(ctx context.Context, t AnalyticsTable, n int) (*Rows, error) {
	order := "rank"
	if t.Kind == grpipe.AnalyticsBest {
		order = "count_rank"
	}
	q, err := w.stmt("analytics_top", struct {
		Table, Order string
		Limit        int
	}{t.Table, order, n})
	if err != nil {
		return nil, err
	}
	rows, err := w.Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("top of %s: %w", t.Table, err)
	}
	return rows, nil
}
