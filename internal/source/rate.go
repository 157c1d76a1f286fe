package source

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	grpipe "github.com/grpipe/grpipe"
)

// ParseRate reads a rate of calls such as "1/s", "0.5/s", "30/m", "100/h"
// or "2" (per second) and returns calls per second; the error names the
// flag. "0" is refused: callers that accept no limit check for it first.
func ParseRate(flagName, s string) (float64, error) {
	num, unit, _ := strings.Cut(strings.TrimSpace(s), "/")
	v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	per := map[string]float64{"": 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600}[strings.TrimSpace(unit)]
	if err != nil || per == 0 || v <= 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, fmt.Errorf("%w: --%s %q: give calls per second, minute or hour, such as 1/s, 30/m", grpipe.ErrBadInput, flagName, s)
	}
	return v / per, nil
}

// ParseRateLimit reads --rate-limit: a rate as ParseRate reads it, or 0 (or
// "0/s") for no limit, which it returns as 0.
func ParseRateLimit(s string) (float64, error) {
	if num, _, _ := strings.Cut(s, "/"); strings.TrimSpace(num) == "0" {
		return 0, nil
	}
	return ParseRate("rate-limit", s)
}
