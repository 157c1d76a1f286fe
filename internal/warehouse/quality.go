package warehouse

import (
	"context"
	"fmt"

	"golang.org/x/sync/errgroup"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/warehouse/driver"
)

// WarehouseChecks runs the data-quality checks on the four warehouse tables:
// at least one row (the original's check), key not null, key unique, and
// review_rating within [0, 5]. Each table is read once (check_keys.sql; the
// reviews' rating check comes from the same scan as their key checks), the
// four tables side by side on connections of their own (a server such as
// PostgreSQL runs each statement on one core).
func (w *Warehouse) WarehouseChecks(ctx context.Context) ([]grpipe.CheckResult, error) {
	entities := grpipe.Entities()
	counts := make([]keyCounts, len(entities))
	g, gctx := errgroup.WithContext(ctx)
	for i, e := range entities {
		g.Go(func() error {
			c, err := w.checkKeys(gctx, e)
			counts[i] = c
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var out []grpipe.CheckResult
	var badRatings int64
	for i, e := range entities {
		table, c := driver.Table{Schema: WarehouseSchema, Name: e.Name}, counts[i]
		badRatings += c.badRatings
		out = append(out,
			grpipe.CheckResult{Name: "row_count", Table: table.String(), Passed: c.rows >= 1,
				Detail: fmt.Sprintf("%d rows (at least 1 expected)", c.rows)},
			grpipe.CheckResult{Name: "key_not_null", Table: table.String(), Passed: c.nullKeys == 0,
				Detail: fmt.Sprintf("%d rows with a NULL %s", c.nullKeys, e.Key)},
			grpipe.CheckResult{Name: "key_unique", Table: table.String(), Passed: c.dupKeys == 0,
				Detail: fmt.Sprintf("%d values of %s stored more than once", c.dupKeys, e.Key)})
	}
	reviews := driver.Table{Schema: WarehouseSchema, Name: grpipe.Reviews.Name}
	out = append(out, grpipe.CheckResult{Name: "rating_in_range", Table: reviews.String(), Passed: badRatings == 0,
		Detail: fmt.Sprintf("%d rows with review_rating outside [0, 5]", badRatings)})
	return out, nil
}

// keyCounts is what check_keys.sql counts in one table.
type keyCounts struct {
	rows, nullKeys int64
	// dupKeys is the number of key values stored more than once (NULL
	// counting as one value). check_keys.sql may return another count
	// that is 0 exactly when no non-NULL value is repeated (PostgreSQL's
	// form: the non-NULL keys less their distinct values); checkKeys
	// then counts the repeated values with check_keys_repeated.sql.
	dupKeys    int64
	badRatings int64 // the reviews only
}

// checkKeys counts e's table's rows, NULL keys and repeated keys (and, for
// the reviews, the ratings outside [0, 5]). A table whose check finds no
// repeat and at most one NULL key is read once; one with a repeat (a failed
// check) a second time, for the exact count of repeated values.
func (w *Warehouse) checkKeys(ctx context.Context, e grpipe.Entity) (keyCounts, error) {
	table := driver.Table{Schema: WarehouseSchema, Name: e.Name}
	rating := e.Name == grpipe.Reviews.Name
	q, err := w.stmts.Render("check_keys", map[string]any{"Table": table, "Key": e.Key, "Rating": rating})
	if err != nil {
		return keyCounts{}, err
	}
	var c keyCounts
	dest := []any{&c.rows, &c.nullKeys, &c.dupKeys}
	if rating {
		dest = append(dest, &c.badRatings)
	}
	if err := w.db.QueryRowContext(ctx, q).Scan(dest...); err != nil {
		return keyCounts{}, fmt.Errorf("check_keys %s: %w", table, w.mapErr(err))
	}
	if c.dupKeys > 0 || c.nullKeys > 1 {
		n, err := w.queryInt(ctx, "check_keys_repeated", map[string]any{"Table": table, "Key": e.Key})
		if err != nil {
			return keyCounts{}, fmt.Errorf("check_keys %s: %w", table, err)
		}
		c.dupKeys = n
	}
	return c, nil
}

// LedgerChecks checks that each entity's ledger adds up:
// read = rejected + superseded + staged, and staged = inserted + updated + stale.
func LedgerChecks(ledgers map[string]grpipe.Ledger) []grpipe.CheckResult {
	var out []grpipe.CheckResult
	for _, e := range grpipe.Entities() {
		l := ledgers[e.Name]
		out = append(out, grpipe.CheckResult{Name: "ledger_balanced", Table: "goodreads_warehouse." + e.Name,
			Passed: l.Balanced(),
			Detail: fmt.Sprintf("read %d = rejected %d + superseded %d + staged %d; staged %d = inserted %d + updated %d + stale %d",
				l.Read, l.Rejected, l.Superseded, l.Staged, l.Staged, l.Inserted, l.Updated, l.Stale)})
	}
	return out
}

// FirstFailure returns an error naming the first failed check, or nil.
func FirstFailure(checks []grpipe.CheckResult) error {
	for _, c := range checks {
		if !c.Passed {
			return fmt.Errorf("%w: %s on %s: %s", grpipe.ErrCheckFailed, c.Name, c.Table, c.Detail)
		}
	}
	return nil
}
