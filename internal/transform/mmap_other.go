//go:build !unix

package transform

import "os"

// mapFile reads a file into memory: on systems without mmap (Windows) the
// transform holds each file whole while it validates it.
func mapFile(path string) ([]byte, func(), error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	return data, func() {}, nil
}

// dropPages does nothing: the file is not mapped.
func dropPages([]byte) {}

// mapAnon returns size bytes of zeroed memory from the Go heap.
func mapAnon(size int) ([]byte, func(), error) { return make([]byte, size), func() {}, nil }
