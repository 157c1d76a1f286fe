package pipeline

import (
	"context"
	"fmt"
	"log/slog"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/dag"
	"github.com/grpipe/grpipe/internal/warehouse"
)

// Work returns the work of the DAG's tasks, by task id (grpipe.Tasks()
// lists the tasks; Stop_execution, a marker, has none). A new task gets its
// spec in the domain package's dag.go and its work here.
func (p *Pipeline) Work() map[string]dag.Func {
	build := func(table string) dag.Func {
		return func(ctx context.Context, c *dag.Call) error {
			t, ok := warehouse.AnalyticsTableByName(table)
			if !ok {
				return fmt.Errorf("analytics table %q: %w", table, grpipe.ErrNotFound)
			}
			n, err := p.wh.BuildAnalytics(ctx, t, p.window(c.Run))
			if err == nil {
				c.Log.Info("analytics table replaced", "table", table, "rows", n)
			}
			return err
		}
	}
	checks := func(s warehouse.Subject) dag.Func {
		return func(ctx context.Context, c *dag.Call) error {
			cs, err := p.wh.AnalyticsChecks(ctx, s)
			if err != nil {
				return err
			}
			return report(c, cs)
		}
	}
	// A subject's tables are created, and the reviews aggregated once for
	// its three rankings (warehouse.BuildReviewTotals).
	tables := func(s warehouse.Subject) dag.Func {
		return func(ctx context.Context, c *dag.Call) error {
			if err := p.wh.CreateAnalyticsTables(ctx, s); err != nil {
				return err
			}
			n, err := p.wh.BuildReviewTotals(ctx, s, p.window(c.Run))
			if err == nil {
				c.Log.Info("review totals built", "subject", string(s), "rows", n)
			}
			return err
		}
	}
	return map[string]dag.Func{
		grpipe.TaskBegin: func(ctx context.Context, c *dag.Call) error {
			return p.wh.Setup(ctx)
		},
		grpipe.TaskETL: p.etl,
		grpipe.TaskWarehouseChecks: func(ctx context.Context, c *dag.Call) error {
			cs, err := p.wh.WarehouseChecks(ctx)
			if err != nil {
				return err
			}
			cs = append(cs, warehouse.LedgerChecks(c.Ledgers())...)
			kc, err := p.wh.SourceKeyChecks(ctx)
			if err != nil {
				return err
			}
			return report(c, append(cs, kc...))
		},
		grpipe.TaskAnalyticsSchema: func(ctx context.Context, c *dag.Call) error {
			return p.wh.CreateAnalyticsSchema(ctx)
		},
		grpipe.TaskAuthorTables:  tables(warehouse.AuthorSubject),
		grpipe.TaskBookTables:    tables(warehouse.BookSubject),
		grpipe.TaskAuthorReviews: build("popular_authors_review_count"),
		grpipe.TaskAuthorRatings: build("popular_authors_average_rating"),
		grpipe.TaskBestAuthors:   build("best_authors"),
		grpipe.TaskBookReviews:   build("popular_books_review_count"),
		grpipe.TaskBookRatings:   build("popular_books_average_rating"),
		grpipe.TaskBestBooks:     build("best_books"),
		grpipe.TaskAuthorChecks:  checks(warehouse.AuthorSubject),
		grpipe.TaskBookChecks:    checks(warehouse.BookSubject),
	}
}

// Executor returns the executor that runs the DAG's tasks over this
// pipeline's zones and warehouse in this process.
func (p *Pipeline) Executor() *dag.Local {
	return &dag.Local{Work: p.Work(), Log: p.log}
}

// report records check results, logs them and returns the first failure.
func report(c *dag.Call, cs []grpipe.CheckResult) error {
	c.AddChecks(cs...)
	logChecks(c.Log, cs)
	return warehouse.FirstFailure(cs)
}

// window returns the analytics window of a run: its data interval when so
// configured and the run has one, else the configured window.
func (p *Pipeline) window(run grpipe.Run) warehouse.Window {
	if p.opts.WindowFromDataInterval && run.HasInterval() {
		return warehouse.Window{Start: run.DataIntervalStart, End: run.DataIntervalEnd}
	}
	return p.opts.Window
}

func logChecks(log *slog.Logger, cs []grpipe.CheckResult) {
	for _, c := range cs {
		if c.Passed {
			log.Info("check passed", "check", c.Name, "table", c.Table, "detail", c.Detail)
		} else {
			log.Error("check failed", "check", c.Name, "table", c.Table, "detail", c.Detail)
		}
	}
}
