package transform

import (
	"fmt"

	grpipe "github.com/grpipe/grpipe"
)

// copyOptions renders a codec as the options of DuckDB's COPY ... TO
// (FORMAT parquet, ...); "" is grpipe.DefaultCompression.
func copyOptions(c grpipe.Compression) (string, error) {
	switch c {
	case "":
		return copyOptions(grpipe.DefaultCompression)
	case grpipe.Zstd:
		// Level 1 takes half the time of the default level 3 for files
		// about a quarter larger (BENCHMARKS.md, issue 14).
		return "COMPRESSION zstd, COMPRESSION_LEVEL 1", nil
	case grpipe.Snappy, grpipe.LZ4Raw:
		return "COMPRESSION " + string(c), nil
	}
	return "", fmt.Errorf("%w: unknown Parquet compression %q", grpipe.ErrBadInput, c)
}
