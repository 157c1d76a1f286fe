package runstore

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	grpipe "github.com/grpipe/grpipe"
)

// Lock is an exclusive, cross-process lock on a file (flock). The kernel
// releases it when the process dies, so a crash never leaves a stale lock.
type Lock struct {
	f *os.File
}

// TryLock takes the lock at path without waiting; the error wraps
// grpipe.ErrBusy, naming the holder's pid, when another process holds it.
func TryLock(path string) (*Lock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(path)
		f.Close()
		if err == syscall.EWOULDBLOCK {
			return nil, fmt.Errorf("%w (process %s holds %s): wait for it to finish, or stop it", grpipe.ErrBusy,
				strings.TrimSpace(string(holder)), path)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return &Lock{f: f}, nil
}

// Unlock releases the lock.
func (l *Lock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	_ = syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	err := l.f.Close()
	l.f = nil
	return err
}
