//go:build !unix

package landing

import "os"

// openFlags: other systems have no FIFOs to block on.
const openFlags = os.O_RDONLY
