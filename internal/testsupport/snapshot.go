package testsupport

import (
	"context"
	"fmt"
	"slices"
	"testing"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/warehouse"
)

// Rejected is the key of the quarantined rows in a Snapshot.
const Rejected = "rejected_rows"

// Snapshot returns the warehouse's contents in a stable order, rows as text
// (NULL for a null), keyed by table: the four warehouse tables (by key) under
// their entity names, the six analytics tables (by their first two columns)
// under their table names, and the quarantined rows without their run id
// under Rejected. Tables not built yet are left out. Columns named in except
// are left out of every table (record_create_timestamp, to compare runs made
// at other times).
func Snapshot(t testing.TB, wh *warehouse.Warehouse, except ...string) map[string][][]string {
	t.Helper()
	type part struct{ key, table, query string }
	var parts []part
	for _, e := range grpipe.Entities() {
		table := "goodreads_warehouse." + e.Name
		parts = append(parts, part{e.Name, table, fmt.Sprintf("SELECT * FROM %s ORDER BY %s", table, e.Key)})
	}
	for _, a := range warehouse.AnalyticsTables() {
		table := "goodreads_analytics." + a.Table
		parts = append(parts, part{a.Table, table, "SELECT * FROM " + table + " ORDER BY 1, 2"})
	}
	parts = append(parts, part{Rejected, "goodreads_quality.rejected_rows",
		"SELECT entity, source_file, line, column_name, reason, raw FROM goodreads_quality.rejected_rows ORDER BY 1, 2, 3, 4"})

	ctx := context.Background()
	out := map[string][][]string{}
	for _, p := range parts {
		if _, err := wh.Count(ctx, p.table); err != nil {
			continue // not built yet
		}
		rows, err := wh.Query(ctx, p.query)
		if err != nil {
			t.Fatalf("snapshot of %s: %v", p.table, err)
		}
		var keep []int
		for i, c := range rows.Columns {
			if !slices.Contains(except, c) {
				keep = append(keep, i)
			}
		}
		table := [][]string{}
		for _, r := range rows.Values {
			row := make([]string, 0, len(keep))
			for _, i := range keep {
				row = append(row, Text(r[i]))
			}
			table = append(table, row)
		}
		out[p.key] = table
	}
	return out
}

// Text formats a warehouse value as a snapshot does: NULL for a null, else fmt.Sprint.
func Text(v any) string {
	if v == nil {
		return "NULL"
	}
	return fmt.Sprint(v)
}
