package transform

import (
	"math/rand/v2"
	"testing"
)

// TestSpecials64 compares the AVX2 search of 64 bytes with a byte loop, on
// random bytes and on the three bytes it looks for at every position.
func TestSpecials64(t *testing.T) {
	if !blockSearch {
		t.Skip("no AVX2 here")
	}
	rng := rand.New(rand.NewPCG(16, 8))
	ref := func(b []byte) (m uint64) {
		for i, c := range b[:64] {
			if c == ',' || c == '\n' || c == '"' {
				m |= 1 << i
			}
		}
		return m
	}
	buf := make([]byte, 80)
	for n := 0; n < 20000; n++ {
		for i := range buf {
			buf[i] = byte(rng.IntN(256))
			if rng.IntN(4) == 0 {
				buf[i] = ",\n\"+\r\x0b#-"[rng.IntN(8)]
			}
		}
		at := rng.IntN(17)
		if got, want := specials64(&buf[at]), ref(buf[at:]); got != want {
			t.Fatalf("specials64(%q) = %064b, want %064b", buf[at:at+64], got, want)
		}
	}
	for i := 0; i < 64; i++ {
		for _, c := range []byte{',', '\n', '"'} {
			b := make([]byte, 64)
			b[i] = c
			if got := specials64(&b[0]); got != 1<<i {
				t.Fatalf("%q at %d: %064b", c, i, got)
			}
		}
	}
}

// TestScannerWordSearch runs the scanner's reference tests with the
// search of eight bytes at a time, the one used without AVX2.
func TestScannerWordSearch(t *testing.T) {
	if !blockSearch {
		t.Skip("the word search is the one tested already")
	}
	blockSearch = false
	defer func() { blockSearch = true }()
	t.Run("short", TestScannerMatchesReference)
	t.Run("long", TestScannerMatchesReferenceLong)
}
