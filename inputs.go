package grpipe

import (
	"fmt"
	"path"
	"strconv"
	"strings"
)

// Format is the shape of a landing file: the CSV files of the four entities,
// the UCSD Book Graph dumps (gzip JSON Lines), or a Goodreads library export.
type Format string

// Input formats.
const (
	// FormatCSV is one entity's CSV file (reviews.csv, user.csv, ...).
	FormatCSV Format = "csv"
	// FormatUCSDBooks is goodreads_books*.json[.gz]: one book edition per line.
	FormatUCSDBooks Format = "ucsd_books"
	// FormatUCSDAuthors is goodreads_book_authors*.json[.gz]: one author per line.
	FormatUCSDAuthors Format = "ucsd_authors"
	// FormatUCSDReviews is goodreads_reviews_dedup*.json[.gz], the byGenre
	// review files and goodreads_reviews_spoiler_raw*: one review per line.
	FormatUCSDReviews Format = "ucsd_reviews"
	// FormatUCSDSpoiler is goodreads_reviews_spoiler*.json[.gz] (not _raw):
	// one review per line, its text split into flagged sentences.
	FormatUCSDSpoiler Format = "ucsd_spoiler"
	// FormatLibraryExport is goodreads_library_export*.csv, a member's
	// "Export Library" download: one shelved book per row.
	FormatLibraryExport Format = "library_export"
)

// Sources of derived ids in goodreads_warehouse.source_keys.
const (
	// SourceUCSD marks keys from the UCSD Book Graph (hashed review and user ids).
	SourceUCSD = "ucsd"
	// SourceExport marks keys a library export's rows were given (review and author ids).
	SourceExport = "export"
)

// Input is what a landing file's name says about the file.
type Input struct {
	// Name is the base name.
	Name   string
	Format Format
	// Entity is the file's primary entity; a rejected line is counted there.
	Entity Entity
	// Entities lists every entity the file's lines yield rows of, the primary first.
	Entities []Entity
	// ExportUserID is the member's Goodreads user id of a library export,
	// read from its landed name (see ExportLandingName); 0 otherwise.
	ExportUserID int64
}

// AcceptedInputNames describes every landing file name grpipe accepts.
const AcceptedInputNames = AcceptedFileNames +
	"; the UCSD Book Graph dumps goodreads_books*.json[.gz], goodreads_book_authors*.json[.gz], goodreads_reviews_dedup*.json[.gz]," +
	" goodreads_reviews_spoiler*.json[.gz], goodreads_reviews_<genre>.json[.gz]; and a library export goodreads_library_export*.csv (with --export-user-id)"

// exportUserMark separates a landed export's name from its member's user id:
// goodreads_library_export.user-12345.csv.
const exportUserMark = ".user-"

// ErrExportUserID reports a library export landed without the member's user id.
var ErrExportUserID = fmt.Errorf("%w: a Goodreads library export needs the member's own Goodreads user id", ErrBadInput)

// InputForFile returns what the landing file name says: its format and
// entities. It accepts the CSV names of EntityForFile, the UCSD Book Graph
// dump names (with or without .gz, including the byGenre variants) and
// landed library exports (goodreads_library_export<anything>.user-<id>.csv).
// An export name without the user id is refused with ErrExportUserID.
func InputForFile(name string) (Input, error) {
	base := path.Base(strings.ReplaceAll(name, "\\", "/"))
	if e, err := EntityForFile(base); err == nil {
		return Input{Name: base, Format: FormatCSV, Entity: e, Entities: []Entity{e}}, nil
	}
	refuse := func(why string) (Input, error) {
		return Input{}, fmt.Errorf("%w: file %q %s; accepted: %s", ErrBadInput, base, why, AcceptedInputNames)
	}
	if !validBatchName(base) {
		return refuse("is not a landing file name")
	}
	if rest, ok := strings.CutPrefix(base, "goodreads_library_export"); ok && strings.HasSuffix(rest, ".csv") {
		in := Input{Name: base, Format: FormatLibraryExport, Entity: Reviews, Entities: []Entity{Reviews, Users, Books, Authors}}
		id, ok := exportUserID(strings.TrimSuffix(rest, ".csv"))
		if !ok {
			return Input{}, fmt.Errorf("%w: file %q: land it with --export-user-id N, N being your own Goodreads user id (the number in your profile's address, /user/show/N-name)", ErrExportUserID, base)
		}
		in.ExportUserID = id
		return in, nil
	}
	stem, ok := strings.CutSuffix(base, ".json.gz")
	if !ok {
		stem, ok = strings.CutSuffix(base, ".json")
	}
	if !ok {
		return refuse("is not a landing file name")
	}
	switch {
	case strings.HasPrefix(stem, "goodreads_books"):
		return Input{Name: base, Format: FormatUCSDBooks, Entity: Books, Entities: []Entity{Books}}, nil
	case strings.HasPrefix(stem, "goodreads_book_authors"):
		return Input{Name: base, Format: FormatUCSDAuthors, Entity: Authors, Entities: []Entity{Authors}}, nil
	case strings.HasPrefix(stem, "goodreads_reviews_spoiler_raw"), strings.HasPrefix(stem, "goodreads_reviews_dedup"):
		return Input{Name: base, Format: FormatUCSDReviews, Entity: Reviews, Entities: []Entity{Reviews, Users}}, nil
	case strings.HasPrefix(stem, "goodreads_reviews_spoiler"):
		return Input{Name: base, Format: FormatUCSDSpoiler, Entity: Reviews, Entities: []Entity{Reviews, Users}}, nil
	case strings.HasPrefix(stem, "goodreads_reviews_") && len(stem) > len("goodreads_reviews_"):
		// byGenre: goodreads_reviews_<genre>.json.gz, the same shape as reviews_dedup.
		return Input{Name: base, Format: FormatUCSDReviews, Entity: Reviews, Entities: []Entity{Reviews, Users}}, nil
	case strings.HasPrefix(stem, "goodreads_"):
		return refuse("is a UCSD Book Graph file grpipe does not load (only books, book_authors and reviews map to its four tables)")
	}
	return refuse("is not a landing file name")
}

// exportUserID reads the user id from the tail of a landed export's name
// (between "goodreads_library_export" and ".csv").
func exportUserID(tail string) (int64, bool) {
	i := strings.LastIndex(tail, exportUserMark)
	if i < 0 {
		return 0, false
	}
	id, err := strconv.ParseInt(tail[i+len(exportUserMark):], 10, 64)
	if err != nil || id <= 0 {
		return 0, false
	}
	return id, true
}

// IsLibraryExportName reports whether name is a library export's name
// (goodreads_library_export<anything>.csv), landed or not.
func IsLibraryExportName(name string) bool {
	base := path.Base(strings.ReplaceAll(name, "\\", "/"))
	return strings.HasPrefix(base, "goodreads_library_export") && strings.HasSuffix(base, ".csv")
}

// ExportLandingName returns the name a library export lands under, carrying
// the member's user id so that a run, however much later, knows whose
// shelves it holds: goodreads_library_export.csv with user 12345 lands as
// goodreads_library_export.user-12345.csv. A name that already carries an id
// keeps it when userID is 0 or the same, and is refused when it differs.
func ExportLandingName(name string, userID int64) (string, error) {
	base := path.Base(strings.ReplaceAll(name, "\\", "/"))
	if !IsLibraryExportName(base) {
		return "", fmt.Errorf("%w: file %q is not a library export (goodreads_library_export*.csv)", ErrBadInput, base)
	}
	tail := strings.TrimSuffix(strings.TrimPrefix(base, "goodreads_library_export"), ".csv")
	if have, ok := exportUserID(tail); ok {
		if userID != 0 && userID != have {
			return "", fmt.Errorf("%w: file %q carries user id %d, but --export-user-id says %d: rename the file or fix the flag", ErrBadInput, base, have, userID)
		}
		return base, nil
	}
	if userID <= 0 {
		return "", fmt.Errorf("%w: file %q: land it with --export-user-id N, N being your own Goodreads user id (the number in your profile's address, /user/show/N-name)", ErrExportUserID, base)
	}
	return strings.TrimSuffix(base, ".csv") + exportUserMark + strconv.FormatInt(userID, 10) + ".csv", nil
}

// InputRow is one entity row read from an input record. Fields[i] is the raw
// text of Entity.Columns[i], in the forms a CSV file of the entity holds
// (decimal integers, "Wed Feb 19 18:36:17 -0800 2020" dates, ISO
// record_create_timestamp, text before cleaning); nil is NULL. The transform
// validates and cleans it with the same rules as a CSV field.
type InputRow struct {
	Entity Entity
	Fields [][]byte
}

// SourceKey ties a derived BIGINT id to the source's own key, kept in
// goodreads_warehouse.source_keys (unique on entity, source, key and on
// entity, id): a UCSD review's 32-hex review_id, an export's (user, book).
type SourceKey struct {
	Entity string // table name: reviews, users, authors
	Source string // SourceUCSD or SourceExport
	Key    []byte
	ID     int64
}

// InputRecord is one record (a line) of an input file: the rows it yields,
// or, when Reason is set, why it is rejected whole (Column names the
// warehouse column at fault, when one is). The slices are valid until the
// reader's next record.
type InputRecord struct {
	// Line is the 1-based physical line where the record starts.
	Line int64
	// Raw is the record's text, for the quarantine.
	Raw  []byte
	Rows []InputRow
	Keys []SourceKey
	// Column and Reason explain a rejected record.
	Column, Reason string
}

// Reject marks r rejected.
func (r *InputRecord) Reject(column, reason string) {
	r.Column, r.Reason = column, reason
	r.Rows, r.Keys = r.Rows[:0], r.Keys[:0]
}
