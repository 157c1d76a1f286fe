//go:build unix

package landing

import (
	"os"
	"syscall"
)

// openFlags opens without blocking: opening a FIFO for reading otherwise
// waits for a writer, forever.
const openFlags = os.O_RDONLY | syscall.O_NONBLOCK
