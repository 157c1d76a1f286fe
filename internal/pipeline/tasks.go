package pipeline

import (
	"context"
	"log/slog"

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
			n, err := p.wh.BuildAnalytics(ctx, t, p.opts.Window)
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
	return &dag.DAG{ID: grpipe.DAGID, Tasks: []dag.Task{
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
