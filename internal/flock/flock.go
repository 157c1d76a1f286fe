// Package flock is grpipe's cross-process file lock: an exclusive lock on a
// file that the operating system releases when the holding process dies, so
// a crash never leaves a stale lock. The run lock (max_active_runs=1), the
// scheduler lock and the capture lock are such files. The holder writes its
// process id into the file, so a refusal can name it.
//
// Unix systems use flock(2) (flock_unix.go), Windows LockFileEx
// (flock_windows.go); a new platform adds one file with lock and unlock.
package flock

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	grpipe "github.com/grpipe/grpipe"
)

// Lock is a held lock.
type Lock struct {
	f    *os.File
	path string
}

// errWouldBlock is what lock returns when another process holds the lock.
var errWouldBlock = errors.New("lock held by another process")

// TryLock takes the lock at path without waiting, creating the file if
// needed. When another process holds it, the error wraps grpipe.ErrBusy and
// names the holder's process id and the path.
func TryLock(path string) (*Lock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := lock(f); err != nil {
		holder := readHolder(path)
		f.Close()
		if errors.Is(err, errWouldBlock) {
			return nil, fmt.Errorf("%w (process %s holds %s): wait for it to finish, or stop it", grpipe.ErrBusy, holder, path)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return &Lock{f: f, path: path}, nil
}

// readHolder returns the process id the holder wrote, or "?" when it cannot be read.
func readHolder(path string) string {
	b, err := os.ReadFile(path)
	if s := strings.TrimSpace(string(b)); err == nil && s != "" {
		return s
	}
	return "?"
}

// Held reports whether another process holds the lock at path now. It
// returns nil when the lock is free, and TryLock's error otherwise.
func Held(path string) error {
	l, err := TryLock(path)
	if err != nil {
		return err
	}
	return l.Unlock()
}

// Unlock releases the lock; a nil or released lock is left alone.
func (l *Lock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	_ = unlock(l.f)
	err := l.f.Close()
	l.f = nil
	return err
}
