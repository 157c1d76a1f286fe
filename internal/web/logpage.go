package web

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	grpipe "github.com/grpipe/grpipe"
)

// logPageBytes is how much of a task log one page or API response shows.
const logPageBytes = 64 << 10

// logPart is one page of a task log: the text from Offset, the offset of
// the next page (-1 at the end) and the log's size.
type logPart struct {
	Text   string
	Offset int
	Next   int
	Prev   int // offset of the page before (-1 at the start)
	Size   int
}

// pageOf cuts the page of log starting at offset (a token from a previous
// page, "" for the start): at most logPageBytes, ended at a line end when
// one is near. An offset outside the log is an error wrapping
// grpipe.ErrBadInput.
func pageOf(log, token string) (logPart, error) {
	off := 0
	if token != "" {
		n, err := strconv.Atoi(token)
		if err != nil || n < 0 || n > len(log) {
			return logPart{}, fmt.Errorf("%w: log position %q: use the continuation token (or next link) a page gave, from 0 to %d", grpipe.ErrBadInput, token, len(log))
		}
		off = n
	}
	end := min(off+logPageBytes, len(log))
	if end < len(log) {
		// End the page after the last line end it holds, unless the page is one line.
		if i := strings.LastIndexByte(log[off:end], '\n'); i > 0 {
			end = off + i + 1
		}
	}
	p := logPart{Text: log[off:end], Offset: off, Next: -1, Prev: -1, Size: len(log)}
	if end < len(log) {
		p.Next = end
	}
	if off > 0 {
		p.Prev = max(0, off-logPageBytes)
		if i := strings.IndexByte(log[p.Prev:off], '\n'); i >= 0 && p.Prev > 0 {
			p.Prev += i + 1
		}
	}
	return p, nil
}

// withToken returns the request's URL with the log position token set.
func withToken(u *url.URL, token int) string {
	q := u.Query()
	q.Set("token", strconv.Itoa(token))
	return u.Path + "?" + q.Encode()
}
