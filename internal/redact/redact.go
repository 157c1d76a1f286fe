// Package redact hides the secrets in the connection strings grpipe shows in
// messages and pages: PostgreSQL DSNs in URL form (masked by pgx's own
// redaction, which follows its URL parser) and in keyword/value form
// (host=... password='...', tokenized by the rules of pgx's parser), and
// other URLs (user information, secret-named query parameters).
package redact

import (
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// Mask replaces every secret.
const Mask = "xxxxx"

// String returns s with every secret it holds replaced by Mask: a password in
// a URL's user information, and the value of every parameter whose name says
// it is a secret (password, sslpassword, a name holding pass, secret, token,
// key, credential or signature), in URL queries and in keyword/value DSNs.
// Where s is malformed and its boundaries are uncertain, it masks more.
func String(s string) string {
	switch {
	case strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://"):
		if _, err := pgconn.ParseConfig(s); err == nil {
			// pgx reads it: its redaction, which follows that reading, is
			// exact; only parameters pgx does not know as secrets remain.
			return queryParams(postgresURL(s))
		}
		return otherURL(postgresURL(s))
	case urlForm(s):
		out := otherURL(s)
		// pgx reads any text that is not a postgres:// URL as keyword/value,
		// a URL included ("abc://x=1 password=..."): mask what it would read.
		if cfg, err := pgconn.ParseConfig(out); err == nil && cfg.Password != "" {
			out = keywordValue(out)
		}
		return out
	case strings.Contains(s, "="):
		return keywordValue(s)
	}
	return s
}

// urlForm reports whether s is a URL: a scheme (RFC 3986: a letter, then
// letters, digits, '+', '-' or '.') followed by "://". Text that merely holds
// "://" in a value ("password=x host='://'") is keyword/value, as pgx reads it.
func urlForm(s string) bool {
	scheme, _, ok := strings.Cut(s, "://")
	if !ok || scheme == "" {
		return false
	}
	for i, c := range scheme {
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !letter && (i == 0 || !(c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.')) {
			return false
		}
	}
	return true
}

// Secret reports whether a parameter named key holds a secret.
func Secret(key string) bool {
	k := strings.ToLower(key)
	for _, w := range []string{"pass", "secret", "token", "key", "credential", "signature"} {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// postgresURL masks a postgres:// DSN with pgx's own redaction (the text of
// its parse errors), which follows its URL parser: the user information's
// password and the password and sslpassword parameters, however encoded.
func postgresURL(s string) string {
	const prefix, suffix = "cannot parse `", "`: "
	msg := pgconn.NewParseConfigError(s, "", nil).Error()
	if strings.HasPrefix(msg, prefix) && strings.HasSuffix(msg, suffix) {
		return msg[len(prefix) : len(msg)-len(suffix)]
	}
	return s // the format changed: otherURL still masks what it finds
}

// otherURL masks the user information's password and secret-named query
// parameters of a URL. The user information ends at the authority's last
// '@' (as Go's parser reads it; pgx's redaction has masked up to the first);
// in a URL that does not parse, at the last '@' before the query, since a
// '/' in a password may end the authority early.
func otherURL(s string) string {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return s
	}
	var end int
	if _, err := url.Parse(s); err == nil {
		end = strings.IndexAny(rest, "/?#")
	} else {
		end = strings.IndexAny(rest, "?#")
	}
	if end < 0 {
		end = len(rest)
	}
	if at := strings.LastIndex(rest[:end], "@"); at >= 0 {
		if c := strings.Index(rest[:at], ":"); c >= 0 {
			rest = rest[:c+1] + Mask + rest[at:]
		}
	}
	return queryParams(scheme + "://" + rest)
}

// queryParams masks the secret-named parameters of a URL's query.
func queryParams(s string) string {
	q := strings.IndexByte(s, '?')
	if q < 0 {
		return s
	}
	query, frag, hasFrag := strings.Cut(s[q+1:], "#")
	pairs := strings.Split(query, "&")
	for i, p := range pairs {
		k, _, has := strings.Cut(p, "=")
		if dk, err := url.QueryUnescape(k); err == nil {
			k = dk
		}
		if has && Secret(k) {
			pairs[i] = p[:strings.IndexByte(p, '=')+1] + Mask
		}
	}
	s = s[:q+1] + strings.Join(pairs, "&")
	if hasFrag {
		s += "#" + frag
	}
	return s
}

const spaces = " \t\n\r\v\f"

// keywordValue masks the secret values of a keyword/value DSN, read as pgx
// reads it (libpq's rules: keyword = value, a value either quoted with '
// and \ escapes, or running to the next white space with \ escapes). When
// the text does not follow those rules, everything from the first
// secret-named keyword on is masked.
func keywordValue(s string) string {
	var b strings.Builder
	rest := s
	for {
		trimmed := strings.TrimLeft(rest, spaces)
		b.WriteString(rest[:len(rest)-len(trimmed)])
		rest = trimmed
		if rest == "" {
			return b.String()
		}
		eq := strings.IndexByte(rest, '=')
		if eq < 0 {
			return maskFromSecret(s)
		}
		key := strings.Trim(rest[:eq], spaces)
		if key == "" || strings.ContainsAny(key, spaces) {
			return maskFromSecret(s)
		}
		b.WriteString(rest[:eq+1])
		rest = rest[eq+1:]
		afterEq := strings.TrimLeft(rest, spaces)
		b.WriteString(rest[:len(rest)-len(afterEq)])
		rest = afterEq
		n := valueLen(rest)
		if n < 0 {
			return maskFromSecret(s)
		}
		if Secret(key) {
			b.WriteString(Mask)
		} else {
			b.WriteString(rest[:n])
		}
		rest = rest[n:]
	}
}

// valueLen returns the length of the value at the start of s (quotes
// included), or -1 for an unterminated quoted value.
func valueLen(s string) int {
	if s == "" {
		return 0
	}
	if s[0] != '\'' {
		i := 0
		for ; i < len(s) && !strings.ContainsRune(spaces, rune(s[i])); i++ {
			if s[i] == '\\' {
				i++
				if i == len(s) {
					return len(s)
				}
			}
		}
		return i
	}
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '\'':
			return i + 1
		}
	}
	return -1
}

// maskFromSecret masks a malformed keyword/value text from its first
// secret-named keyword to its end; with none, it is returned as it is.
func maskFromSecret(s string) string {
	lower := strings.ToLower(s)
	first := -1
	for _, w := range []string{"pass", "secret", "token", "key", "credential", "signature"} {
		if i := strings.Index(lower, w); i >= 0 && (first < 0 || i < first) {
			first = i
		}
	}
	if first < 0 {
		return s
	}
	if eq := strings.IndexByte(s[first:], '='); eq >= 0 {
		return s[:first+eq+1] + Mask
	}
	return s[:first] + Mask
}

// Secrets returns the secret values s holds (the password of its user
// information, the values of secret-named parameters in a URL's query or a
// keyword/value DSN, and the password pgx reads from it), so that a message
// built by other code, which may quote them, can be scrubbed (Scrub).
func Secrets(s string) []string {
	seen := map[string]bool{}
	var out []string
	add := func(v string) {
		if v != "" && v != Mask && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	if cfg, err := pgconn.ParseConfig(s); err == nil {
		add(cfg.Password)
	}
	if u, err := url.Parse(s); err == nil && urlForm(s) {
		if p, ok := u.User.Password(); ok {
			add(p)
		}
		for k, vs := range u.Query() {
			if Secret(k) {
				for _, v := range vs {
					add(v)
				}
			}
		}
	}
	if !strings.HasPrefix(s, "postgres://") && !strings.HasPrefix(s, "postgresql://") {
		rest := strings.TrimLeft(s, spaces)
		for rest != "" {
			eq := strings.IndexByte(rest, '=')
			if eq < 0 {
				break
			}
			key := strings.Trim(rest[:eq], spaces)
			rest = strings.TrimLeft(rest[eq+1:], spaces)
			n := valueLen(rest)
			if n < 0 {
				break
			}
			if Secret(key) {
				v := strings.Trim(rest[:n], "'")
				add(v)
				add(strings.NewReplacer(`\\`, `\`, `\'`, `'`).Replace(v))
			}
			rest = strings.TrimLeft(rest[n:], spaces)
		}
	}
	return out
}

// Scrub replaces every occurrence of the secrets in msg by Mask; secrets of
// fewer than three bytes are left (they would mangle the message, and
// nothing quotes them whole).
func Scrub(msg string, secrets []string) string {
	for _, v := range secrets {
		if len(v) >= 3 {
			msg = strings.ReplaceAll(msg, v, Mask)
			if e := url.QueryEscape(v); e != v {
				msg = strings.ReplaceAll(msg, e, Mask)
			}
		}
	}
	return msg
}
