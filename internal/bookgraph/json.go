package bookgraph

import (
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// kind is the JSON type of a value.
type kind uint8

const (
	absent kind = iota // the key is not in the object
	jString
	jNumber
	jBool
	jNull
	jArray
	jObject
)

func (k kind) String() string {
	switch k {
	case jString:
		return "a string"
	case jNumber:
		return "a number"
	case jBool:
		return "a boolean"
	case jNull:
		return "null"
	case jArray:
		return "an array"
	case jObject:
		return "an object"
	}
	return "missing"
}

// value is one JSON value found under a known key.
type value struct {
	kind kind
	// b is a string's decoded bytes, a number's or boolean's literal text, or
	// an array's or object's raw text.
	b []byte
}

// maxDepth bounds the nesting of arrays and objects.
const maxDepth = 64

// parser reads one JSON object per line, keeping only the values of the keys
// its caller asks for. It checks the whole line's syntax (RFC 8259), so a
// line cut in the middle or glued to another is refused, but it does not
// check UTF-8: text columns are checked when they are cleaned. Strings
// without escapes are not copied.
type parser struct {
	in  []byte
	i   int
	buf []byte // decoded strings that held escapes
	err string
}

// object parses in as one JSON object and stores the value of every key
// that slot maps to an index of vals (slot returns -1 for keys to skip;
// their values are checked, then dropped). A key given twice keeps its last
// value. It returns false with p.err set when in is not one JSON object.
func (p *parser) object(in []byte, vals []value, slot func(key []byte) int) bool {
	p.in, p.i, p.err = in, 0, ""
	p.buf = p.buf[:0]
	for i := range vals {
		vals[i] = value{}
	}
	p.ws()
	if p.i >= len(p.in) || p.in[p.i] != '{' {
		if p.i >= len(p.in) {
			return p.fail("the line is empty")
		}
		return p.fail(fmt.Sprintf("the line is not a JSON object: it starts with %q", p.in[p.i]))
	}
	p.i++
	p.ws()
	if p.i < len(p.in) && p.in[p.i] == '}' {
		p.i++
		return p.end()
	}
	for {
		p.ws()
		if p.i >= len(p.in) || p.in[p.i] != '"' {
			return p.failAt("a key in quotes")
		}
		key, ok := p.str()
		if !ok {
			return false
		}
		p.ws()
		if p.i >= len(p.in) || p.in[p.i] != ':' {
			return p.failAt("':' after the key")
		}
		p.i++
		p.ws()
		s := slot(key)
		v, ok := p.value(0)
		if !ok {
			return false
		}
		if s >= 0 {
			vals[s] = v
		}
		p.ws()
		if p.i >= len(p.in) {
			return p.fail("the line ends inside the object (is it cut short?)")
		}
		switch p.in[p.i] {
		case ',':
			p.i++
			continue
		case '}':
			p.i++
			return p.end()
		}
		return p.failAt("',' or '}'")
	}
}

// end checks that nothing but white space follows the object.
func (p *parser) end() bool {
	p.ws()
	if p.i != len(p.in) {
		return p.fail(fmt.Sprintf("text after the end of the JSON object at byte %d", p.i+1))
	}
	return true
}

func (p *parser) fail(reason string) bool {
	if p.err == "" {
		p.err = reason
	}
	return false
}

// failAt reports that want was expected at the current position.
func (p *parser) failAt(want string) bool {
	if p.i >= len(p.in) {
		return p.fail(fmt.Sprintf("the line ends where %s was expected (is it cut short?)", want))
	}
	return p.fail(fmt.Sprintf("not valid JSON: %s expected at byte %d, found %q", want, p.i+1, p.in[p.i]))
}

func (p *parser) ws() {
	for p.i < len(p.in) {
		switch p.in[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// value parses any JSON value at p.i.
func (p *parser) value(depth int) (value, bool) {
	if p.i >= len(p.in) {
		return value{}, p.failAt("a value")
	}
	switch c := p.in[p.i]; {
	case c == '"':
		s, ok := p.str()
		return value{kind: jString, b: s}, ok
	case c == '{' || c == '[':
		if depth >= maxDepth {
			return value{}, p.fail(fmt.Sprintf("JSON nested more than %d levels deep", maxDepth))
		}
		start := p.i
		ok := p.container(depth + 1)
		k := jArray
		if c == '{' {
			k = jObject
		}
		return value{kind: k, b: p.in[start:p.i]}, ok
	case c == 't':
		return value{kind: jBool, b: p.in[p.i : p.i+min(4, len(p.in)-p.i)]}, p.literal("true")
	case c == 'f':
		return value{kind: jBool, b: p.in[p.i : p.i+min(5, len(p.in)-p.i)]}, p.literal("false")
	case c == 'n':
		return value{kind: jNull}, p.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		start := p.i
		ok := p.number()
		return value{kind: jNumber, b: p.in[start:p.i]}, ok
	}
	return value{}, p.failAt("a value")
}

func (p *parser) literal(lit string) bool {
	if len(p.in)-p.i < len(lit) || string(p.in[p.i:p.i+len(lit)]) != lit {
		return p.failAt(lit)
	}
	p.i += len(lit)
	return true
}

// container skips an array or object at p.i, checking its syntax.
func (p *parser) container(depth int) bool {
	open := p.in[p.i]
	close := byte(']')
	if open == '{' {
		close = '}'
	}
	p.i++
	p.ws()
	if p.i < len(p.in) && p.in[p.i] == close {
		p.i++
		return true
	}
	for {
		p.ws()
		if open == '{' {
			if p.i >= len(p.in) || p.in[p.i] != '"' {
				return p.failAt("a key in quotes")
			}
			if _, ok := p.str(); !ok {
				return false
			}
			p.ws()
			if p.i >= len(p.in) || p.in[p.i] != ':' {
				return p.failAt("':' after the key")
			}
			p.i++
			p.ws()
		}
		if _, ok := p.value(depth); !ok {
			return false
		}
		p.ws()
		if p.i >= len(p.in) {
			return p.failAt(fmt.Sprintf("',' or '%c'", close))
		}
		switch p.in[p.i] {
		case ',':
			p.i++
			continue
		case close:
			p.i++
			return true
		}
		return p.failAt(fmt.Sprintf("',' or '%c'", close))
	}
}

// number checks a JSON number at p.i: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (p *parser) number() bool {
	if p.in[p.i] == '-' {
		p.i++
	}
	if p.i >= len(p.in) {
		return p.failAt("a digit")
	}
	switch c := p.in[p.i]; {
	case c == '0':
		p.i++
	case c >= '1' && c <= '9':
		p.digits()
	default:
		return p.failAt("a digit")
	}
	if p.i < len(p.in) && p.in[p.i] == '.' {
		p.i++
		if p.digits() == 0 {
			return p.failAt("a digit after '.'")
		}
	}
	if p.i < len(p.in) && (p.in[p.i] == 'e' || p.in[p.i] == 'E') {
		p.i++
		if p.i < len(p.in) && (p.in[p.i] == '+' || p.in[p.i] == '-') {
			p.i++
		}
		if p.digits() == 0 {
			return p.failAt("a digit in the exponent")
		}
	}
	return true
}

func (p *parser) digits() int {
	n := 0
	for p.i < len(p.in) && p.in[p.i] >= '0' && p.in[p.i] <= '9' {
		p.i++
		n++
	}
	return n
}

// str parses the string at p.i (p.in[p.i] is '"') and returns its decoded
// bytes: a slice of the input when it holds no escape, else of p.buf.
func (p *parser) str() ([]byte, bool) {
	start := p.i + 1
	j := start
	for j < len(p.in) {
		c := p.in[j]
		if c == '"' {
			p.i = j + 1
			return p.in[start:j], true
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			p.i = j
			return nil, p.fail(fmt.Sprintf("not valid JSON: control character %q inside a string at byte %d", c, j+1))
		}
		j++
	}
	if j >= len(p.in) {
		p.i = j
		return nil, p.fail("the line ends inside a string (is it cut short?)")
	}
	// Escapes: decode into p.buf.
	from := len(p.buf)
	p.buf = append(p.buf, p.in[start:j]...)
	for j < len(p.in) {
		c := p.in[j]
		switch {
		case c == '"':
			p.i = j + 1
			return p.buf[from:len(p.buf):len(p.buf)], true
		case c < 0x20:
			p.i = j
			return nil, p.fail(fmt.Sprintf("not valid JSON: control character %q inside a string at byte %d", c, j+1))
		case c != '\\':
			p.buf = append(p.buf, c)
			j++
			continue
		}
		if j+1 >= len(p.in) {
			break
		}
		e := p.in[j+1]
		j += 2
		switch e {
		case '"', '\\', '/':
			p.buf = append(p.buf, e)
		case 'b':
			p.buf = append(p.buf, '\b')
		case 'f':
			p.buf = append(p.buf, '\f')
		case 'n':
			p.buf = append(p.buf, '\n')
		case 'r':
			p.buf = append(p.buf, '\r')
		case 't':
			p.buf = append(p.buf, '\t')
		case 'u':
			r, ok := hex4(p.in, j)
			if !ok {
				p.i = j
				return nil, p.fail(fmt.Sprintf("not valid JSON: a \\u escape needs four hex digits, at byte %d", j-1))
			}
			j += 4
			if utf16.IsSurrogate(r) {
				// A pair \uD83D\uDE00 is one character; a lone half is U+FFFD.
				if r2, ok := hex4(p.in, j+2); ok && j+1 < len(p.in) && p.in[j] == '\\' && p.in[j+1] == 'u' {
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						r = dec
						j += 6
					} else {
						r = utf8.RuneError
					}
				} else {
					r = utf8.RuneError
				}
			}
			p.buf = utf8.AppendRune(p.buf, r)
		default:
			p.i = j - 1
			return nil, p.fail(fmt.Sprintf("not valid JSON: unknown escape \\%c at byte %d", e, j-1))
		}
	}
	p.i = len(p.in)
	return nil, p.fail("the line ends inside a string (is it cut short?)")
}

// hex4 reads four hex digits at b[i:].
func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	return r, true
}
