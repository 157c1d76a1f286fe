package grpipe

import (
	"fmt"
	"strings"
)

// MaxRunIDLen is the longest run id, in bytes. A run id names folders in
// every zone (working/<run_id>_try<N>/, processed/<run_id>/, ...), so it must
// stay well below the 255-byte limit of a file name.
const MaxRunIDLen = 200

// RunIDChars describes the characters a run id may hold (Airflow's set, less '~').
const RunIDChars = "letters, digits and _ . : + - (starting with a letter or a digit)"

// Run id prefixes that only the scheduler gives: an interval's run is found
// by its id, so an id of this form taken by hand would make the scheduler
// skip that interval.
var reservedRunIDPrefixes = []string{runIDPrefix(RunScheduled), runIDPrefix(RunBackfill)}

// ValidateRunID checks that id can name a run: 1 to MaxRunIDLen bytes of
// RunIDChars, starting with a letter or a digit (so never "." or ".."), and
// not ending in "_try<N>", the form of the folders of a run's later tries. A
// valid id is one path element: it cannot leave the folder it is put in.
// The error wraps ErrBadInput and says what is allowed.
func ValidateRunID(id string) error {
	if id == "" {
		return fmt.Errorf("%w: the run id is empty: give one of %s", ErrBadInput, RunIDChars)
	}
	if len(id) > MaxRunIDLen {
		return fmt.Errorf("%w: run id %.40q... is %d bytes long; at most %d are allowed", ErrBadInput, id, len(id), MaxRunIDLen)
	}
	if !isAlnum(id[0]) {
		return fmt.Errorf("%w: run id %q must start with a letter or a digit", ErrBadInput, id)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !isAlnum(c) && !strings.ContainsRune("_.:+-", rune(c)) {
			return fmt.Errorf("%w: run id %q holds %q at byte %d; a run id may hold %s only", ErrBadInput, id, rune(c), i, RunIDChars)
		}
	}
	if i := strings.LastIndex(id, "_try"); i >= 0 && isDigits(id[i+len("_try"):]) {
		return fmt.Errorf("%w: run id %q ends like the folder of a retried run (<run_id>_try<N>): choose another", ErrBadInput, id)
	}
	return nil
}

// ValidateManualRunID checks an id chosen by a user for a manual run
// (grpipe dags trigger, POST .../dagRuns): a valid run id that does not
// start with a prefix the scheduler reserves (scheduled__, backfill__).
func ValidateManualRunID(id string) error {
	if err := ValidateRunID(id); err != nil {
		return err
	}
	for _, p := range reservedRunIDPrefixes {
		if strings.HasPrefix(id, p) {
			return fmt.Errorf("%w: run id %q starts with %q, which only the scheduler gives (its runs are found by that id); choose another, e.g. manual__<name>", ErrBadInput, id, p)
		}
	}
	return nil
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
