package bookgraph

import (
	"errors"
	"fmt"
)

// hashedBase is 2^62: hashed ids lie in [2^62, 2^63), positive BIGINTs that
// no real Goodreads id (far below 2^62) can equal.
const hashedBase = int64(1) << 62

// ErrHashedID reports a UCSD review_id or user_id that is not 32 hex digits.
var ErrHashedID = errors.New("not a 32-digit hex id")

// HashedID maps a UCSD anonymised id (32 hex digits, either case) to its
// BIGINT: 2^62 + (the first 16 hex digits as an unsigned 64-bit number >> 2).
// The same key gives the same id on every run; two keys that share their
// first 62 bits give the same id (a collision, which the pipeline
// quarantines: goodreads_warehouse.source_keys keeps the original key).
func HashedID(key []byte) (int64, error) {
	if len(key) != 32 {
		if len(key) == 0 {
			return 0, fmt.Errorf("%w: it is empty", ErrHashedID)
		}
		return 0, fmt.Errorf("%w: it has %d characters", ErrHashedID, len(key))
	}
	var h uint64
	for i, c := range key {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, fmt.Errorf("%w: %q at position %d is not a hex digit", ErrHashedID, c, i+1)
		}
		if i < 16 {
			h = h<<4 | uint64(d)
		}
	}
	return hashedBase + int64(h>>2), nil
}

// lowerHex appends key in lower case (the form kept in source_keys).
func lowerHex(dst, key []byte) []byte {
	for _, c := range key {
		if c >= 'A' && c <= 'F' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}
