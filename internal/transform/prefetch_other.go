//go:build !amd64

package transform

import "unsafe"

// prefetch is a hint to bring the cache line at p into the caches; on this
// architecture it does nothing.
func prefetch(p unsafe.Pointer) {}
