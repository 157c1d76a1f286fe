package cputime

import (
	"syscall"
	"time"
)

// Process returns the CPU time the process has used so far (kernel and
// user time from GetProcessTimes, in 100 ns ticks; 0 if the system cannot
// tell).
func Process() time.Duration {
	var creation, exit, kernel, user syscall.Filetime
	if err := syscall.GetProcessTimes(syscall.Handle(^uintptr(0)), &creation, &exit, &kernel, &user); err != nil {
		return 0
	}
	ticks := func(f syscall.Filetime) int64 { return int64(f.HighDateTime)<<32 | int64(f.LowDateTime) }
	return time.Duration(ticks(kernel)+ticks(user)) * 100
}
