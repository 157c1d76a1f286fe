package pipeline

import (
	"context"
	"log/slog"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/dag"
	"github.com/grpipe/grpipe/internal/warehouse"
)

// DAG returns the goodreads_pipeline DAG whose tasks work on the run rs.
func (p *Pipeline) DAG(rs *runState) *dag.DAG {
	build := func(table string) dag.Func {
		return func(ctx context.Context, log *slog.Logger) error {
			t, _ := warehouse.AnalyticsTableByName(table)
			n, err := p.wh.BuildAnalytics(ctx, t, p.window(rs))
			if err == nil {
				log.Info("analytics table replaced", "table", table, "rows", n)
			}
			return err
		}
	}
	checks := func(s warehouse.Subject) dag.Func {
		return func(ctx context.Context, log *slog.Logger) error {
			cs, err := p.wh.AnalyticsChecks(ctx, s)
			if err != nil {
				return err
			}
			rs.addChecks(cs)
			logChecks(log, cs)
			return warehouse.FirstFailure(cs)
		}
	}
	work := map[string]dag.Func{
		grpipe.TaskBegin: func(ctx context.Context, log *slog.Logger) error {
			return p.wh.Setup(ctx)
		},
		grpipe.TaskETL: func(ctx context.Context, log *slog.Logger) error {
			return p.etl(ctx, rs, log)
		},
		grpipe.TaskWarehouseChecks: func(ctx context.Context, log *slog.Logger) error {
			cs, err := p.wh.WarehouseChecks(ctx)
			if err != nil {
				return err
			}
			cs = append(cs, warehouse.LedgerChecks(rs.ledgers())...)
			kc, err := p.wh.SourceKeyChecks(ctx)
			if err != nil {
				return err
			}
			cs = append(cs, kc...)
			rs.addChecks(cs)
			logChecks(log, cs)
			return warehouse.FirstFailure(cs)
		},
		grpipe.TaskAnalyticsSchema: func(ctx context.Context, log *slog.Logger) error {
			return p.wh.CreateAnalyticsSchema(ctx)
		},
		grpipe.TaskAuthorTables: func(ctx context.Context, log *slog.Logger) error {
			return p.wh.CreateAnalyticsTables(ctx, warehouse.AuthorSubject)
		},
		grpipe.TaskBookTables: func(ctx context.Context, log *slog.Logger) error {
			return p.wh.CreateAnalyticsTables(ctx, warehouse.BookSubject)
		},
		grpipe.TaskAuthorReviews: build("popular_authors_review_count"),
		grpipe.TaskAuthorRatings: build("popular_authors_average_rating"),
		grpipe.TaskBestAuthors:   build("best_authors"),
		grpipe.TaskBookReviews:   build("popular_books_review_count"),
		grpipe.TaskBookRatings:   build("popular_books_average_rating"),
		grpipe.TaskBestBooks:     build("best_books"),
		grpipe.TaskAuthorChecks:  checks(warehouse.AuthorSubject),
		grpipe.TaskBookChecks:    checks(warehouse.BookSubject),
	}
	d := &dag.DAG{ID: grpipe.DAGID}
	for _, spec := range grpipe.Tasks() {
		d.Tasks = append(d.Tasks, dag.Task{ID: spec.ID, Upstream: spec.Upstream, Kind: spec.Kind, Timeout: spec.Timeout, Run: work[spec.ID]})
	}
	policy := dag.DefaultRetry()
	if p.opts.Retry != nil {
		policy = *p.opts.Retry
	}
	d.Retry = &policy
	for i := range d.Tasks {
		t := &d.Tasks[i]
		if o, ok := p.opts.Tasks[t.ID]; ok {
			if o.Retries != nil {
				tp := policy
				tp.Retries = *o.Retries
				t.Retry = &tp
			}
			if o.Timeout > 0 {
				t.Timeout = o.Timeout
			}
		}
	}
	return d
}

// window returns the analytics window of a run: its data interval when so
// configured and the run has one, else the configured window.
func (p *Pipeline) window(rs *runState) warehouse.Window {
	if p.opts.WindowFromDataInterval && !rs.info.DataIntervalStart.IsZero() && !rs.info.DataIntervalEnd.IsZero() {
		return warehouse.Window{Start: rs.info.DataIntervalStart, End: rs.info.DataIntervalEnd}
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
