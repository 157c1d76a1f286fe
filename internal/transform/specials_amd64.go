package transform

import "golang.org/x/sys/cpu"

// blockSearch is whether the scanner finds the commas, line feeds and
// quotes of 64 bytes at a time (specials64), which needs AVX2.
var blockSearch = cpu.X86.HasAVX2

// specials64 returns the places of the commas, line feeds and quotes among
// the 64 bytes at p: bit i set when p[i] is one (AVX2: three byte compares
// and a move-mask per 32 bytes).
//
//go:noescape
func specials64(p *byte) uint64
