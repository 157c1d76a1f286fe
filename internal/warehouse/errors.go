package warehouse

import "errors"

// Sentinel errors of the warehouse, checked with errors.Is. Each driver maps
// its backend's own errors to them (driver.Driver's MapError), so that no
// caller reads an error's text.
var (
	// ErrReadOnly reports a write refused because the warehouse was opened
	// read-only (grpipe query, the web UI).
	ErrReadOnly = errors.New("the warehouse is open read-only")
	// ErrBusy reports a warehouse another process holds (the embedded
	// DuckDB file, while a run writes to it). It is not grpipe.ErrBusy,
	// the run lock: a caller decides what a busy warehouse means to it.
	ErrBusy = errors.New("the warehouse is in use by another process")
	// ErrNoTable reports a table or schema that does not exist (yet: the
	// analytics tables are created by the first run that reaches them).
	ErrNoTable = errors.New("no such table")
)
