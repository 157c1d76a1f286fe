//go:build linux

package report_test

import (
	"fmt"
	"io"
	"os"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/grpipe/grpipe/internal/report"
)

// openPTY returns the two ends of a new pseudo-terminal.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	unlock := 0
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, m.Fd(), unix.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		t.Fatal(e)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(); m.Close() })
	return m, s
}

// Defect 14: CSV written to a terminal is escaped (a CSV row cannot clear
// the screen).
func TestRowsCSVOnATerminal(t *testing.T) {
	master, slave := openPTY(t)
	got := make(chan string, 1)
	go func() {
		b := make([]byte, 64<<10)
		n, _ := io.ReadAtLeast(master, b, 20)
		got <- string(b[:n])
	}()
	if err := report.Rows(slave, hostileRows(), "csv"); err != nil {
		t.Fatal(err)
	}
	out := <-got
	noUnsafe(t, "CSV on a terminal", stripCRLF(out))
}

// stripCRLF drops the line discipline's CR before LF.
func stripCRLF(s string) string {
	b := []byte(s)
	out := b[:0]
	for i, c := range b {
		if c == '\r' && i+1 < len(b) && b[i+1] == '\n' {
			continue
		}
		out = append(out, c)
	}
	return string(out)
}
