package grpipe

import (
	"errors"
	"testing"
)

func TestInputForFile(t *testing.T) {
	cases := []struct {
		name   string
		format Format
		entity string
		n      int // entities
		user   int64
	}{
		{"reviews.csv", FormatCSV, "reviews", 1, 0},
		{"book-2.csv", FormatCSV, "books", 1, 0},
		{"goodreads_books.json.gz", FormatUCSDBooks, "books", 1, 0},
		{"goodreads_books.json", FormatUCSDBooks, "books", 1, 0},
		{"goodreads_books_poetry.json.gz", FormatUCSDBooks, "books", 1, 0},
		{"/home/me/Downloads/goodreads_book_authors.json.gz", FormatUCSDAuthors, "authors", 1, 0},
		{"goodreads_reviews_dedup.json.gz", FormatUCSDReviews, "reviews", 2, 0},
		{"goodreads_reviews_dedup-part2.json", FormatUCSDReviews, "reviews", 2, 0},
		{"goodreads_reviews_poetry.json.gz", FormatUCSDReviews, "reviews", 2, 0},
		{"goodreads_reviews_spoiler_raw.json.gz", FormatUCSDReviews, "reviews", 2, 0},
		{"goodreads_reviews_spoiler.json.gz", FormatUCSDSpoiler, "reviews", 2, 0},
		{"goodreads_library_export.user-12345.csv", FormatLibraryExport, "reviews", 4, 12345},
		{"goodreads_library_export (1).user-7.csv", FormatLibraryExport, "reviews", 4, 7},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in, err := InputForFile(c.name)
			if err != nil {
				t.Fatal(err)
			}
			if in.Format != c.format || in.Entity.Name != c.entity || len(in.Entities) != c.n || in.ExportUserID != c.user {
				t.Fatalf("got %s %s %d entities user %d, want %s %s %d user %d", in.Format, in.Entity.Name, len(in.Entities), in.ExportUserID, c.format, c.entity, c.n, c.user)
			}
			if in.Entities[0].Name != in.Entity.Name {
				t.Fatalf("primary entity %s is not first in %v", in.Entity.Name, in.Entities)
			}
		})
	}
}

func TestInputForFileRefuses(t *testing.T) {
	for _, name := range []string{
		"goodreads_interactions_dedup.json.gz", "goodreads_book_works.json.gz", "goodreads_book_series.json.gz",
		"goodreads_book_genres_initial.json.gz", "goodreads_interactions.csv", "book_id_map.csv",
		"goodreads_books.csv", "goodreads_reviews_.json.gz", "goodreads_books.json.bz2", "notes.txt",
		"goodreads_library_export.user-0.csv", "goodreads_library_export.user-x.csv",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := InputForFile(name); !errors.Is(err, ErrBadInput) {
				t.Fatalf("accepted, or not ErrBadInput: %v", err)
			}
		})
	}
	_, err := InputForFile("goodreads_library_export.csv")
	if !errors.Is(err, ErrExportUserID) || !errors.Is(err, ErrBadInput) {
		t.Fatalf("an export without a user id: %v, want ErrExportUserID", err)
	}
}

func TestExportLandingName(t *testing.T) {
	got, err := ExportLandingName("/tmp/goodreads_library_export.csv", 12345)
	if err != nil || got != "goodreads_library_export.user-12345.csv" {
		t.Fatalf("got %q, %v", got, err)
	}
	in, err := InputForFile(got)
	if err != nil || in.ExportUserID != 12345 {
		t.Fatalf("landed name %q reads back as %+v, %v", got, in, err)
	}
	if again, err := ExportLandingName(got, 0); err != nil || again != got {
		t.Fatalf("a landed name without the flag: %q, %v", again, err)
	}
	if again, err := ExportLandingName(got, 12345); err != nil || again != got {
		t.Fatalf("a landed name with the same id: %q, %v", again, err)
	}
	if _, err := ExportLandingName(got, 99); !errors.Is(err, ErrBadInput) {
		t.Fatalf("a different id: %v", err)
	}
	if _, err := ExportLandingName("goodreads_library_export.csv", 0); !errors.Is(err, ErrExportUserID) {
		t.Fatalf("no id: %v", err)
	}
	if _, err := ExportLandingName("reviews.csv", 5); !errors.Is(err, ErrBadInput) {
		t.Fatalf("not an export: %v", err)
	}
}
