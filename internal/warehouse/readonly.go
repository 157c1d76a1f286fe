package warehouse

import (
	"fmt"
	"strings"

	grpipe "github.com/grpipe/grpipe"
)

// readStatements are the statements `grpipe query` runs: they read.
var readStatements = map[string]bool{
	"SELECT": true, "WITH": true, "VALUES": true, "TABLE": true, "FROM": true,
	"SHOW": true, "DESCRIBE": true, "SUMMARIZE": true, "EXPLAIN": true,
}

// CheckReadQuery accepts one statement that reads (SELECT, WITH, VALUES,
// TABLE, FROM, SHOW, DESCRIBE, SUMMARIZE, EXPLAIN) and refuses anything else,
// and more than one statement, with a message saying why. It is a first
// guard; the backend is also opened read-only.
func CheckReadQuery(q string) error {
	_, _, err := ReadStatement(q)
	return err
}

// ReadStatement checks q as CheckReadQuery does and returns the statement
// without its terminating ';' and the comments after it, and its first
// keyword in upper case (SELECT, WITH, ...).
func ReadStatement(q string) (stmt, verb string, err error) {
	if strings.IndexByte(q, 0) >= 0 {
		// The C interfaces of the databases end the text at a NUL: what
		// follows it would be checked here but never run, or the reverse.
		return "", "", fmt.Errorf("%w: the query holds a NUL byte: remove it", grpipe.ErrBadInput)
	}
	first := ""
	ended := false
	end := len(q)
	for i := 0; i < len(q); {
		c := q[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			i++
		case strings.HasPrefix(q[i:], "--"):
			// A line comment ends at a line feed or a carriage return (as
			// PostgreSQL's and DuckDB's scanners end it).
			if j := strings.IndexAny(q[i:], "\n\r"); j >= 0 {
				i += j + 1
			} else {
				i = len(q)
			}
		case strings.HasPrefix(q[i:], "/*"):
			j := blockCommentEnd(q, i)
			if j < 0 {
				return "", "", fmt.Errorf("%w: the query has an unterminated /* comment", grpipe.ErrBadInput)
			}
			i = j
		case ended:
			return "", "", fmt.Errorf("%w: grpipe query runs one statement at a time; this text holds more than one (split it at the ';')", grpipe.ErrBadInput)
		case c == ';':
			ended = true
			end = i
			i++
		case c == '\'' || c == '"':
			j := i + 1
			for {
				k := strings.IndexByte(q[j:], c)
				if k < 0 {
					return "", "", fmt.Errorf("%w: the query has an unterminated %c quote", grpipe.ErrBadInput, c)
				}
				j += k + 1
				if j < len(q) && q[j] == c { // doubled quote: an escaped one
					j++
					continue
				}
				break
			}
			i = j
		case c == '$' && dollarTag(q[i:]) != "":
			tag := dollarTag(q[i:])
			j := strings.Index(q[i+len(tag):], tag)
			if j < 0 {
				return "", "", fmt.Errorf("%w: the query has an unterminated %s quote", grpipe.ErrBadInput, tag)
			}
			i += len(tag) + j + len(tag)
		case isWordByte(c):
			j := i
			for j < len(q) && isWordByte(q[j]) {
				j++
			}
			if first == "" {
				first = strings.ToUpper(q[i:j])
			}
			i = j
		default:
			i++
		}
	}
	if first == "" {
		return "", "", fmt.Errorf("%w: the query is empty: give one SQL statement", grpipe.ErrBadInput)
	}
	if !readStatements[first] {
		return "", "", fmt.Errorf("%w: grpipe query is read-only: %s statements are refused (use SELECT, WITH, VALUES, TABLE, SHOW, DESCRIBE or EXPLAIN)", grpipe.ErrBadInput, first)
	}
	return strings.TrimSpace(q[:end]), first, nil
}

// blockCommentEnd returns the index after the comment that starts at q[i:]
// ("/*"), or -1 when it is not closed. Block comments nest, as in
// PostgreSQL and DuckDB: "/* /* */ still a comment */".
func blockCommentEnd(q string, i int) int {
	depth := 0
	for i < len(q) {
		switch {
		case strings.HasPrefix(q[i:], "/*"):
			depth++
			i += 2
		case strings.HasPrefix(q[i:], "*/"):
			depth--
			i += 2
			if depth == 0 {
				return i
			}
		default:
			i++
		}
	}
	return -1
}

func isWordByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

// dollarTag returns the PostgreSQL dollar-quote tag ($$ or $name$) at the start of s, or "".
func dollarTag(s string) string {
	for j := 1; j < len(s); j++ {
		switch c := s[j]; {
		case c == '$':
			return s[:j+1]
		case isWordByte(c) && !(j == 1 && c >= '0' && c <= '9'):
		default:
			return ""
		}
	}
	return ""
}
