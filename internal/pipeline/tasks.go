package pipeline

import (
	"context"
	"log/slog"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/dag"
	"github.com/grpipe/grpipe/internal/warehouse"
)

// Task ids of the goodreads_pipeline DAG, as in the original.
const (
	TaskBegin           = "Begin_execution"
	TaskETL             = "GoodReadsETLJob"
	TaskWarehouseChecks = "Warehouse_data_quality_checks"
	TaskAnalyticsSchema = "Create_analytics_schema"
	TaskAuthorTables    = "Create_author_analytics_table"
	TaskBookTables      = "Create_book_analytics_table"
	TaskAuthorReviews   = "Load_author_table_reviews"
	TaskAuthorRatings   = "Load_author_table_ratings"
	TaskBestAuthors     = "Load_best_author"
	TaskBookReviews     = "Load_book_table_reviews"
	TaskBookRatings     = "Load_book_table_ratings"
	TaskBestBooks       = "Load_best_books"
	TaskAuthorChecks    = "Authors_data_quality_checks"
	TaskBookChecks      = "Books_data_quality_checks"
	TaskStop            = "Stop_execution"
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
	d := &dag.DAG{ID: grpipe.DAGID, Tasks: []dag.Task{
		{ID: TaskBegin, Run: func(ctx context.Context, log *slog.Logger) error {
			return p.wh.Setup(ctx)
		}},
		{ID: TaskETL, Upstream: []string{TaskBegin}, Run: func(ctx context.Context, log *slog.Logger) error {
			return p.etl(ctx, rs, log)
		}},
		{ID: TaskWarehouseChecks, Upstream: []string{TaskETL}, Run: func(ctx context.Context, log *slog.Logger) error {
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
		}},
		{ID: TaskAnalyticsSchema, Upstream: []string{TaskWarehouseChecks}, Run: func(ctx context.Context, log *slog.Logger) error {
			return p.wh.CreateAnalyticsSchema(ctx)
		}},
		{ID: TaskAuthorTables, Upstream: []string{TaskAnalyticsSchema}, Run: func(ctx context.Context, log *slog.Logger) error {
			return p.wh.CreateAnalyticsTables(ctx, warehouse.AuthorSubject)
		}},
		{ID: TaskBookTables, Upstream: []string{TaskAnalyticsSchema}, Run: func(ctx context.Context, log *slog.Logger) error {
			return p.wh.CreateAnalyticsTables(ctx, warehouse.BookSubject)
		}},
		{ID: TaskAuthorReviews, Upstream: []string{TaskAuthorTables}, Run: build("popular_authors_review_count")},
		{ID: TaskAuthorRatings, Upstream: []string{TaskAuthorTables}, Run: build("popular_authors_average_rating")},
		{ID: TaskBestAuthors, Upstream: []string{TaskAuthorTables}, Run: build("best_authors")},
		{ID: TaskBookReviews, Upstream: []string{TaskBookTables}, Run: build("popular_books_review_count")},
		{ID: TaskBookRatings, Upstream: []string{TaskBookTables}, Run: build("popular_books_average_rating")},
		{ID: TaskBestBooks, Upstream: []string{TaskBookTables}, Run: build("best_books")},
		{ID: TaskAuthorChecks, Upstream: []string{TaskAuthorReviews, TaskAuthorRatings, TaskBestAuthors}, Run: checks(warehouse.AuthorSubject)},
		{ID: TaskBookChecks, Upstream: []string{TaskBookReviews, TaskBookRatings, TaskBestBooks}, Run: checks(warehouse.BookSubject)},
		{ID: TaskStop, Upstream: []string{TaskAuthorChecks, TaskBookChecks}},
	}}
	policy := dag.DefaultRetry()
	if p.opts.Retry != nil {
		policy = *p.opts.Retry
	}
	d.Retry = &policy
	for i := range d.Tasks {
		t := &d.Tasks[i]
		t.Kind, t.Timeout = taskKind(t.ID)
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

// TaskIDs returns the 15 task ids of the DAG, in declaration order.
func TaskIDs() []string {
	return []string{TaskBegin, TaskETL, TaskWarehouseChecks, TaskAnalyticsSchema, TaskAuthorTables, TaskBookTables,
		TaskAuthorReviews, TaskAuthorRatings, TaskBestAuthors, TaskBookReviews, TaskBookRatings, TaskBestBooks,
		TaskAuthorChecks, TaskBookChecks, TaskStop}
}

// Graph returns the DAG's tasks with their upstream edges (and no work), in order.
func Graph() []dag.Task {
	d := (&Pipeline{}).DAG(&runState{sum: &grpipe.RunSummary{}})
	out := make([]dag.Task, len(d.Tasks))
	for i, t := range d.Tasks {
		out[i] = dag.Task{ID: t.ID, Upstream: append([]string(nil), t.Upstream...)}
	}
	return out
}

// Downstream returns the ids of the tasks downstream of id, directly or not.
func Downstream(id string) []string {
	d := (&Pipeline{}).DAG(&runState{sum: &grpipe.RunSummary{}})
	return d.Downstream(id)
}

// taskKind returns a task's kind and default timeout.
func taskKind(id string) (string, time.Duration) {
	switch id {
	case TaskStop:
		return "marker", time.Minute
	case TaskETL:
		return "etl", 6 * time.Hour
	case TaskWarehouseChecks, TaskAuthorChecks, TaskBookChecks:
		return "check", 30 * time.Minute
	}
	return "sql", time.Hour
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
