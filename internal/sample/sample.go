// Package sample bundles real captured Goodreads rows (the first 500 data
// rows of each of the original pipeline's published sample files, captured
// on 2020-02-19; MIT licence, copyright 2020 Sanchit Kumar) for the demo and
// the tests.
package sample

import (
	"embed"
	"fmt"
	"os"
	"path/filepath"
)

//go:embed data/*.csv
var files embed.FS

// Names are the sample files, in the landing zone's naming.
var Names = []string{"reviews.csv", "user.csv", "author.csv", "book.csv"}

// Bytes returns the content of one sample file.
func Bytes(name string) ([]byte, error) {
	return files.ReadFile("data/" + name)
}

// WriteTo writes the four sample files into dir and returns their paths.
func WriteTo(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var paths []string
	for _, n := range Names {
		b, err := Bytes(n)
		if err != nil {
			return nil, fmt.Errorf("sample %s: %w", n, err)
		}
		p := filepath.Join(dir, n)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return nil, err
		}
		paths = append(paths, p)
	}
	return paths, nil
}
