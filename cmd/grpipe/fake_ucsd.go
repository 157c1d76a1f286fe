package main

import (
	"context"
	"fmt"
	"time"

	"github.com/grpipe/grpipe/internal/fake"
	"github.com/grpipe/grpipe/internal/report"
)

// fakeUCSD writes generated UCSD Book Graph dumps (goodreads_books,
// goodreads_book_authors, goodreads_reviews_dedup .json.gz) into out:
// --records review lines, or --size compressed bytes in all.
func fakeUCSD(ctx context.Context, e *env, fo *fake.Options, size, out string, land bool) int {
	if land || out == "" {
		fmt.Fprintln(e.stderr, "grpipe fake --format ucsd: give --out DIR (then `grpipe land DIR/*.json.gz`)")
		return exitUsage
	}
	reviews, err := fake.UCSDReviews(fo.Records, size)
	if err != nil {
		return e.fail(err)
	}
	books, authors, users := fake.UCSDCounts(reviews)
	prog := report.NewProgress(e.stderr, reviews*fake.UCSDBytesPerReview)
	start := time.Now()
	paths, err := fake.WriteUCSD(ctx, out, fake.UCSDOptions{Reviews: reviews, Seed: fo.Seed, Progress: prog.Add})
	prog.Stop()
	if err != nil {
		return e.fail(err)
	}
	secs := time.Since(start).Seconds()
	done := prog.Done()
	fmt.Fprintf(e.stdout, "wrote %d reviews (%d users), %d books, %d authors: %s compressed in %.1fs (%s/s) to %s:",
		reviews, users, books, authors, report.Bytes(done), secs, report.Bytes(int64(float64(done)/secs)), out)
	for _, p := range paths {
		fmt.Fprintf(e.stdout, " %s", p)
	}
	fmt.Fprintln(e.stdout)
	return exitOK
}
