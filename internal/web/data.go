package web

import (
	"errors"
	"time"

	"github.com/grpipe/grpipe/internal/quarantine"
)

// What the charts, the warehouse explorer and the quarantine view read
// through the Backend (the methods at the end of Backend).

// AnalyticsView is what /analytics draws: the six analytics tables and two
// distributions over the reviews of the analytics window.
type AnalyticsView struct {
	// WindowStart and WindowEnd bound the reviews counted, by
	// record_create_timestamp: [start, end); zero values mean unbounded.
	WindowStart, WindowEnd time.Time
	// Reviews is the number of reviews in the window.
	Reviews int64
	// Ratings counts the window's reviews by rating, 0 to 5 (a rating is
	// counted under its whole part); reviews without a rating are left out.
	Ratings []RatingCount
	// PerDay counts the window's reviews per day (UTC), in day order; days
	// without reviews are left out.
	PerDay []DayCount
	// Rankings are the six analytics tables, in the order of
	// warehouse.AnalyticsTables.
	Rankings []Ranking
	// Note explains why the view is empty or partial (no warehouse yet, a
	// run writing to it), empty otherwise.
	Note string
}

// RatingCount is the number of reviews with one rating.
type RatingCount struct {
	Rating  int
	Reviews int64
}

// DayCount is the number of reviews created on one day.
type DayCount struct {
	Day     time.Time
	Reviews int64
}

// Ranking is one analytics table.
type Ranking struct {
	// Table is the table's name in goodreads_analytics.
	Table string
	// Subject is "author" or "book".
	Subject string
	// Kind is "review_count", "average_rating" or "best".
	Kind string
	Rows []Ranked
}

// Ranked is one author or book of a ranking.
type Ranked struct {
	// Rank is the place in the table's ranking (count_rank for best_*).
	Rank int64
	// RatingRank is the place by average rating (best_* only).
	RatingRank int64
	ID         int64
	// Name is the author's name or the book's title.
	Name string
	// URL is the Goodreads page (profile_url or book_url).
	URL string
	// ImageURL is the book's cover (books only).
	ImageURL    string
	ReviewCount int64
	// AverageRating is the average review rating (zero for the
	// review-count tables, which do not hold it).
	AverageRating float64
}

// TableInfo describes a warehouse table a user may browse.
type TableInfo struct {
	// Name is schema-qualified: goodreads_warehouse.reviews.
	Name    string
	Columns []ColumnInfo
	// Rows is the table's row count (-1 when the table does not exist yet).
	Rows int64
}

// ColumnInfo is one column of a table.
type ColumnInfo struct {
	Name string
	// Type is the column's SQL type (VARCHAR, BIGINT, ...).
	Type string
	// Text marks text columns: the explorer's search looks in them.
	Text bool
}

// BrowseQuery asks for one view of a table: sorted, filtered, one page.
type BrowseQuery struct {
	// Table is schema-qualified and one of Backend.Tables.
	Table string
	// OrderBy is a column of the table ("" means its first column), Desc the direction.
	OrderBy string
	Desc    bool
	// Search, when not empty, keeps rows where a text column contains it
	// (case-insensitive).
	Search string
	// Offset and Limit select the page; Limit 0 means every row (for a download).
	Offset, Limit int
	// After or Before (one at most, with Offset 0) start the page right
	// after a row of the view or end it right before one: keyset paging,
	// for a table with a key (ResultPage.First is set on its pages).
	After, Before *Cursor
}

// Cursor names a row's place in a sorted table view: the value of the
// sort column as text (Null: NULL) and the row's key (first column).
type Cursor struct {
	Value string
	Null  bool
	Key   string
}

// ExportQuery names what Backend.Export streams: a table view or a statement.
type ExportQuery struct {
	// Browse is a table view (its Offset, Limit and cursors are ignored:
	// a download is the view from its first row).
	Browse *BrowseQuery
	// SQL is a read-only statement, when Browse is nil.
	SQL string
	// Limit bounds the rows streamed; 0 means no bound.
	Limit int
}

// ResultPage is a page of rows, every value as text (NULL as Null).
type ResultPage struct {
	Columns []string
	// Info describes the columns of a table view (Browse), nil for a query.
	Info []ColumnInfo
	Rows [][]Cell
	// Total is the number of rows of the whole view (-1 when unknown, as
	// for a SQL query).
	Total int64
	// More reports rows after this page, Prev rows before it.
	More, Prev bool
	// First and Last are the cursors of a table view's first and last rows
	// on the page (nil for a table without a key, an empty page, a query).
	First, Last *Cursor
}

// Cell is one value as text; Null marks SQL NULL.
type Cell struct {
	Text string
	Null bool
}

// RejectedView is a quarantined row as a scan reads it
// (*quarantine.RowView): its fields, and the whole row on demand.
type RejectedView interface {
	SourceFile() []byte
	Reason() []byte
	Row() (quarantine.Row, error)
}

// ErrUnavailable reports a warehouse that cannot be read now (a run holds
// the embedded file, or the server is down): pages say so and answer 503.
var ErrUnavailable = errors.New("the warehouse cannot be read now")

// ErrStop, returned by a callback of a streaming Backend method, ends the
// stream early; the method then returns nil.
var ErrStop = errors.New("stop")
