package grpipe

import (
	"fmt"
	"strings"
)

// Compression is the codec of the Parquet files the transform writes to the
// processed zone (setting parquet_compression).
type Compression string

// The codecs the processed zone can be written with.
const (
	// Zstd (level 1): the smallest files, the most CPU to write and read.
	Zstd Compression = "zstd"
	// Snappy: larger files, cheaper to write and read.
	Snappy Compression = "snappy"
	// LZ4Raw: about snappy's size and speed.
	LZ4Raw Compression = "lz4_raw"
)

// DefaultCompression is the processed zone's codec unless set otherwise.
const DefaultCompression = Zstd

// Compressions lists the accepted codecs.
func Compressions() []Compression { return []Compression{Zstd, Snappy, LZ4Raw} }

// ParseCompression reads a codec name (case-insensitive); the error wraps
// ErrBadInput and lists the accepted names.
func ParseCompression(s string) (Compression, error) {
	names := make([]string, 0, 3)
	for _, c := range Compressions() {
		if strings.EqualFold(strings.TrimSpace(s), string(c)) {
			return c, nil
		}
		names = append(names, string(c))
	}
	return "", fmt.Errorf("%w: parquet_compression %q is not one of %s", ErrBadInput, s, strings.Join(names, ", "))
}
