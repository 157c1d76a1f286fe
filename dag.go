package grpipe

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// TaskKind says what sort of work a task does, for people and the run
// history (`grpipe runs show`); the default timeout goes with it.
type TaskKind string

// The task kinds.
const (
	KindMarker TaskKind = "marker" // no work: Stop_execution
	KindETL    TaskKind = "etl"    // claim, transform, stage and upsert
	KindCheck  TaskKind = "check"  // data-quality checks
	KindSQL    TaskKind = "sql"    // warehouse set-up and the analytics tables
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

// TaskSpec is one task of the DAG as data: what the runner schedules, the
// web UI draws and the README lists. Its work lives in internal/pipeline.
type TaskSpec struct {
	// ID is unique within the DAG (Airflow's task_id).
	ID string
	// Upstream lists the ids of the tasks that must succeed first.
	Upstream []string
	// Kind is what sort of work the task does.
	Kind TaskKind
	// Timeout bounds one try (orchestrator.tasks.<id>.timeout overrides it).
	Timeout time.Duration
}

// Default timeouts per kind.
const (
	markerTimeout = time.Minute
	etlTimeout    = 6 * time.Hour
	checkTimeout  = 30 * time.Minute
	sqlTimeout    = time.Hour
)

// Tasks returns the 15 tasks of the goodreads_pipeline DAG, in declaration
// order (a topological order). A new task is one more entry here, with its
// work in internal/pipeline.
func Tasks() []TaskSpec {
	return []TaskSpec{
		{TaskBegin, nil, KindSQL, sqlTimeout},
		{TaskETL, []string{TaskBegin}, KindETL, etlTimeout},
		{TaskWarehouseChecks, []string{TaskETL}, KindCheck, checkTimeout},
		{TaskAnalyticsSchema, []string{TaskWarehouseChecks}, KindSQL, sqlTimeout},
		{TaskAuthorTables, []string{TaskAnalyticsSchema}, KindSQL, sqlTimeout},
		{TaskBookTables, []string{TaskAnalyticsSchema}, KindSQL, sqlTimeout},
		{TaskAuthorReviews, []string{TaskAuthorTables}, KindSQL, sqlTimeout},
		{TaskAuthorRatings, []string{TaskAuthorTables}, KindSQL, sqlTimeout},
		{TaskBestAuthors, []string{TaskAuthorTables}, KindSQL, sqlTimeout},
		{TaskBookReviews, []string{TaskBookTables}, KindSQL, sqlTimeout},
		{TaskBookRatings, []string{TaskBookTables}, KindSQL, sqlTimeout},
		{TaskBestBooks, []string{TaskBookTables}, KindSQL, sqlTimeout},
		{TaskAuthorChecks, []string{TaskAuthorReviews, TaskAuthorRatings, TaskBestAuthors}, KindCheck, checkTimeout},
		{TaskBookChecks, []string{TaskBookReviews, TaskBookRatings, TaskBestBooks}, KindCheck, checkTimeout},
		{TaskStop, []string{TaskAuthorChecks, TaskBookChecks}, KindMarker, markerTimeout},
	}
}

// TaskIDs returns the 15 task ids, in declaration order.
func TaskIDs() []string {
	var ids []string
	for _, t := range Tasks() {
		ids = append(ids, t.ID)
	}
	return ids
}

// TaskByID returns the task called id; the error wraps ErrNotFound and
// lists the task ids.
func TaskByID(id string) (TaskSpec, error) {
	for _, t := range Tasks() {
		if t.ID == id {
			return t, nil
		}
	}
	return TaskSpec{}, fmt.Errorf("%w: task %q is not in %s; its tasks are: %s", ErrNotFound, id, DAGID, strings.Join(TaskIDs(), ", "))
}

// Downstream returns the ids of the tasks that depend, directly or not, on
// id, sorted.
func Downstream(id string) []string {
	seen := map[string]bool{}
	for changed := true; changed; {
		changed = false
		for _, t := range Tasks() {
			if seen[t.ID] {
				continue
			}
			for _, u := range t.Upstream {
				if u == id || seen[u] {
					seen[t.ID], changed = true, true
					break
				}
			}
		}
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// AnalyticsKind is what an analytics table ranks by.
type AnalyticsKind string

// The analytics kinds of the original's six tables.
const (
	AnalyticsReviewCount   AnalyticsKind = "review_count"   // the most reviewed, top 10
	AnalyticsAverageRating AnalyticsKind = "average_rating" // the best rated, top 10
	AnalyticsBest          AnalyticsKind = "best"           // in both rankings
)
