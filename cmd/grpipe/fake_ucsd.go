package main

import (
	"context"
	"fmt"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/fake"
)

// fakeUCSD writes generated UCSD Book Graph dumps (goodreads_books,
// goodreads_book_authors, goodreads_reviews_dedup .json.gz) into out:
// --records review lines, or --size compressed bytes in all.
func fakeUCSD(ctx context.Context, e *env, ff fakeFlags, out string, land bool) int {
	if land || out == "" {
		fmt.Fprintln(e.stderr, "grpipe fake --format ucsd: give --out DIR (then `grpipe land DIR/*.json.gz`)")
		return exitUsage
	}
	reviews := *ff.records
	switch {
	case *ff.size != "" && reviews != 0:
		return e.fail(fmt.Errorf("%w: give --records or --size, not both", grpipe.ErrBadInput))
	case *ff.size != "":
		size, err := fake.ParseSize(*ff.size)
		if err != nil {
			return e.fail(err)
		}
		reviews = max(1, size/fake.UCSDBytesPerReview)
	case reviews <= 0:
		return e.fail(fmt.Errorf("%w: give --records N (review lines, N > 0) or --size SIZE (e.g. 7.4GB, the real dumps)", grpipe.ErrBadInput))
	}
	books, authors, users := fake.UCSDCounts(reviews)
	prog := newProgress(e.stderr, reviews*fake.UCSDBytesPerReview)
	start := time.Now()
	paths, err := fake.WriteUCSD(ctx, out, fake.UCSDOptions{Reviews: reviews, Seed: *ff.seed, Progress: prog.add})
	prog.stop()
	if err != nil {
		return e.fail(err)
	}
	secs := time.Since(start).Seconds()
	done := prog.done.Load()
	fmt.Fprintf(e.stdout, "wrote %d reviews (%d users), %d books, %d authors: %s compressed in %.1fs (%s/s) to %s:",
		reviews, users, books, authors, humanBytes(done), secs, humanBytes(int64(float64(done)/secs)), out)
	for _, p := range paths {
		fmt.Fprintf(e.stdout, " %s", p)
	}
	fmt.Fprintln(e.stdout)
	return exitOK
}
