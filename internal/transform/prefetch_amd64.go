package transform

import "unsafe"

// prefetch asks the processor to bring the cache line at p into its caches,
// without waiting for it (PREFETCHT0): a hint, which never faults and
// changes no result.
//
//go:noescape
func prefetch(p unsafe.Pointer)
