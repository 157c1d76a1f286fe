//go:build !amd64

package transform

// blockSearch is false here: the scanner searches eight bytes at a time.
const blockSearch = false

func specials64(p *byte) uint64 { panic("specials64 without AVX2") }
