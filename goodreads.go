// Package grpipe holds the domain vocabulary of the GoodReads data pipeline:
// the four entities and their schemas, zones, and sentinel errors
// (goodreads.go); runs, their types, states, ids and JSON summary, and the
// Observer of runs (run.go); the DAG as data: the 15 task specs, task kinds
// and analytics kinds (dag.go). It imports only the standard library; every
// other package depends on it.
//
// A new entity or column starts here (its schema); a new task starts in
// dag.go (its spec: id, upstream, kind, timeout), then gets its work in
// internal/pipeline.
package grpipe

import (
	"errors"
	"fmt"
	"path"
	"strings"
)

// Sentinel errors, checked with errors.Is.
var (
	// ErrNotFound reports a run, task or object that does not exist.
	ErrNotFound = errors.New("not found")
	// ErrBusy reports that another run holds the home's run lock.
	ErrBusy = errors.New("another run is in progress")
	// ErrBadInput reports input the pipeline refuses (a file name, a CSV file, a setting).
	ErrBadInput = errors.New("bad input")
	// ErrCheckFailed reports a failed data-quality check.
	ErrCheckFailed = errors.New("data-quality check failed")
)

// ColumnType is the warehouse type of an entity column.
type ColumnType int

// Column types, named as in the seed's Redshift DDL (FLOAT is double precision).
const (
	Text ColumnType = iota
	BigInt
	Int
	SmallInt
	Double
	Boolean
	Timestamp   // ISO timestamp, UTC (record_create_timestamp)
	GoodreadsTS // "Wed Feb 19 18:36:17 -0800 2020" in input, a UTC timestamp in the warehouse
)

// SQL returns the portable SQL type name of t (valid in DuckDB, PostgreSQL and Redshift).
func (t ColumnType) SQL() string {
	switch t {
	case BigInt:
		return "BIGINT"
	case Int:
		return "INTEGER"
	case SmallInt:
		return "SMALLINT"
	case Double:
		return "DOUBLE PRECISION"
	case Boolean:
		return "BOOLEAN"
	case Timestamp, GoodreadsTS:
		return "TIMESTAMP"
	default:
		return "VARCHAR"
	}
}

// Column is one column of an entity.
type Column struct {
	Name string
	Type ColumnType
	// Required columns must be present in an input file's header; a file
	// without one is refused whole. Other missing columns load as NULL.
	Required bool
	// HTML marks text that may hold HTML: tags are removed, entities decoded.
	HTML bool
	// NonNegative marks a count: a negative value rejects the row.
	NonNegative bool
}

// Timestamps (Timestamp and GoodreadsTS columns) outside these UTC years
// reject their row: a version stamped in year 9999 would win every later
// upsert of its id.
const (
	MinTimestampYear = 1900
	MaxTimestampYear = 2100
)

// Entity is one of the four Goodreads entities.
type Entity struct {
	// Name is the table name in every warehouse schema and the folder name in
	// the processed zone: reviews, users, authors, books.
	Name string
	// FilePrefix is the landing file name without ".csv": reviews, user, author, book.
	FilePrefix string
	// Key is the id column.
	Key string
	// Columns in the seed's order (CSV header order).
	Columns []Column
}

// TimestampColumn is the column that orders versions of the same id.
const TimestampColumn = "record_create_timestamp"

// Reviews, Users, Authors and Books are the four entities with the seed's schemas.
var (
	Reviews = Entity{Name: "reviews", FilePrefix: "reviews", Key: "review_id", Columns: []Column{
		{Name: "review_id", Type: BigInt, Required: true},
		{Name: "user_id", Type: BigInt, Required: true},
		{Name: "book_id", Type: BigInt, Required: true},
		{Name: "author_id", Type: BigInt, Required: true},
		{Name: "review_text", Type: Text, HTML: true},
		{Name: "review_rating", Type: Double},
		{Name: "review_votes", Type: Int, NonNegative: true},
		{Name: "spoiler_flag", Type: Boolean},
		{Name: "spoiler_state", Type: Text},
		{Name: "review_added_date", Type: GoodreadsTS},
		{Name: "review_updated_date", Type: GoodreadsTS},
		{Name: "review_read_count", Type: Int, NonNegative: true},
		{Name: "comments_count", Type: Int, NonNegative: true},
		{Name: "review_url", Type: Text},
		{Name: TimestampColumn, Type: Timestamp, Required: true},
	}}
	Users = Entity{Name: "users", FilePrefix: "user", Key: "user_id", Columns: []Column{
		{Name: "user_id", Type: BigInt, Required: true},
		{Name: "user_name", Type: Text},
		{Name: "user_display_name", Type: Text},
		{Name: "location", Type: Text},
		{Name: "profile_link", Type: Text},
		{Name: "uri", Type: Text},
		{Name: "user_image_url", Type: Text},
		{Name: "small_image_url", Type: Text},
		{Name: "has_image", Type: Boolean},
		{Name: TimestampColumn, Type: Timestamp, Required: true},
	}}
	Authors = Entity{Name: "authors", FilePrefix: "author", Key: "author_id", Columns: []Column{
		{Name: "author_id", Type: BigInt, Required: true},
		{Name: "name", Type: Text},
		{Name: "role", Type: Text},
		{Name: "profile_url", Type: Text},
		{Name: "average_rating", Type: Double},
		{Name: "rating_count", Type: Int, NonNegative: true},
		{Name: "text_review_count", Type: Int, NonNegative: true},
		{Name: TimestampColumn, Type: Timestamp, Required: true},
	}}
	Books = Entity{Name: "books", FilePrefix: "book", Key: "book_id", Columns: []Column{
		{Name: "book_id", Type: BigInt, Required: true},
		{Name: "title", Type: Text},
		{Name: "title_without_series", Type: Text},
		{Name: "image_url", Type: Text},
		{Name: "book_url", Type: Text},
		{Name: "num_pages", Type: Int, NonNegative: true},
		{Name: "format", Type: Text},
		{Name: "edition_information", Type: Text},
		{Name: "publisher", Type: Text},
		{Name: "publication_day", Type: SmallInt},
		{Name: "publication_year", Type: SmallInt},
		{Name: "publication_month", Type: SmallInt},
		{Name: "average_rating", Type: Double},
		{Name: "ratings_count", Type: Int, NonNegative: true},
		{Name: "description", Type: Text, HTML: true},
		{Name: "authors", Type: BigInt},
		{Name: "published", Type: SmallInt},
		{Name: TimestampColumn, Type: Timestamp, Required: true},
	}}
)

// Entities lists the four entities in load order.
func Entities() []Entity { return []Entity{Reviews, Users, Authors, Books} }

// EntityByName returns the entity whose Name or FilePrefix is name.
func EntityByName(name string) (Entity, bool) {
	for _, e := range Entities() {
		if e.Name == name || e.FilePrefix == name {
			return e, true
		}
	}
	return Entity{}, false
}

// ColumnNames returns the entity's column names in order.
func (e Entity) ColumnNames() []string {
	names := make([]string, len(e.Columns))
	for i, c := range e.Columns {
		names[i] = c.Name
	}
	return names
}

// AcceptedFileNames describes the landing file names grpipe accepts.
const AcceptedFileNames = "reviews.csv, user.csv, author.csv, book.csv, or a batch variant such as reviews-<anything>.csv"

// EntityForFile returns the entity a landing file name belongs to: "reviews.csv"
// or "reviews-<anything>.csv" (likewise user, author, book). The name is the
// base name; any directory is ignored.
func EntityForFile(name string) (Entity, error) {
	base := path.Base(strings.ReplaceAll(name, "\\", "/"))
	for _, e := range Entities() {
		if base == e.FilePrefix+".csv" {
			return e, nil
		}
		rest, ok := strings.CutPrefix(base, e.FilePrefix+"-")
		if ok && strings.HasSuffix(rest, ".csv") && len(rest) > len(".csv") && validBatchName(strings.TrimSuffix(rest, ".csv")) {
			return e, nil
		}
	}
	return Entity{}, fmt.Errorf("%w: file %q is not a landing file name; accepted: %s", ErrBadInput, base, AcceptedFileNames)
}

func validBatchName(s string) bool {
	for _, r := range s {
		if r == '/' || r == 0 || r < ' ' {
			return false
		}
	}
	return true
}

// Zone is one area of the object store.
type Zone string

// The four zones.
const (
	Landing    Zone = "landing"
	Working    Zone = "working"
	Processed  Zone = "processed"
	Quarantine Zone = "quarantine"
)

// Ledger counts the rows of one entity through one run:
// Read = Rejected + Superseded + Staged, and Staged = Inserted + Updated + Stale.
type Ledger struct {
	Read       int64 `json:"read"`
	Rejected   int64 `json:"rejected"`
	Superseded int64 `json:"superseded"`
	Staged     int64 `json:"staged"`
	Inserted   int64 `json:"inserted"`
	Updated    int64 `json:"updated"`
	// Stale counts staged rows not applied because the warehouse already held a
	// newer version of the same id (an old batch processed late).
	Stale int64 `json:"stale"`
}

// Add adds o to l.
func (l *Ledger) Add(o Ledger) {
	l.Read += o.Read
	l.Rejected += o.Rejected
	l.Superseded += o.Superseded
	l.Staged += o.Staged
	l.Inserted += o.Inserted
	l.Updated += o.Updated
	l.Stale += o.Stale
}

// Balanced reports whether the ledger adds up.
func (l Ledger) Balanced() bool {
	return l.Read == l.Rejected+l.Superseded+l.Staged && l.Staged == l.Inserted+l.Updated+l.Stale
}

// CheckResult is the outcome of one data-quality check.
type CheckResult struct {
	Name   string `json:"name"`
	Table  string `json:"table"`
	Passed bool   `json:"passed"`
	Detail string `json:"detail"`
}

// NewLedgers returns an empty ledger for each entity.
func NewLedgers() map[string]Ledger {
	m := make(map[string]Ledger, 4)
	for _, e := range Entities() {
		m[e.Name] = Ledger{}
	}
	return m
}
