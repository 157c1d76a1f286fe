package objstore

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	grpipe "github.com/grpipe/grpipe"
)

// Key limits.
const (
	// MaxKeyElemLen is the longest element of a key (a folder or file name),
	// in bytes: the file-name limit of local file systems.
	MaxKeyElemLen = 255
	// MaxKeyLen is the longest key, in bytes, with the store's prefix: S3's limit.
	MaxKeyLen = 1024
)

// ErrExists reports that an object a caller meant to create exists already.
var ErrExists = errors.New("object exists")

// Key joins a zone and path elements into an object key. It does not clean
// the result: an element such as "." or ".." stays visible, and every Store
// method refuses such a key (see CheckKeyElement), so no element can lead
// out of its folder.
func Key(z grpipe.Zone, elems ...string) string {
	return strings.Join(append([]string{string(z)}, elems...), "/")
}

// CheckKeyElement checks one element of a key (a run id, a batch folder, a
// file name): 1 to MaxKeyElemLen bytes of UTF-8, not "." or "..", without
// '/', '\' or control characters. The error wraps grpipe.ErrBadInput.
func CheckKeyElement(e string) error {
	switch {
	case e == "":
		return fmt.Errorf("%w: an empty name in an object key", grpipe.ErrBadInput)
	case e == "." || e == "..":
		return fmt.Errorf("%w: %q cannot name an object or folder: it would leave its folder", grpipe.ErrBadInput, e)
	case len(e) > MaxKeyElemLen:
		return fmt.Errorf("%w: name %.40q... is %d bytes long; at most %d are allowed in a zone", grpipe.ErrBadInput, e, len(e), MaxKeyElemLen)
	case !utf8.ValidString(e):
		return fmt.Errorf("%w: name %q is not valid UTF-8", grpipe.ErrBadInput, e)
	}
	for _, c := range e {
		if c == '/' || c == '\\' || c < 0x20 || c == 0x7f {
			return fmt.Errorf("%w: name %q holds %q, which a zone object's name may not hold", grpipe.ErrBadInput, e, c)
		}
	}
	return nil
}

// checkKey checks a whole key: a zone, then valid elements.
func (s *Store) checkKey(key string) error {
	return s.checkPath(key, false)
}

// checkPath checks a key, or with prefix a listing prefix: "" (everything),
// or a zone and elements of which the last may be empty (a trailing '/')
// or the start of a name.
func (s *Store) checkPath(p string, prefix bool) error {
	if prefix && p == "" {
		return nil
	}
	if n := len(s.full(p)); n > MaxKeyLen {
		return fmt.Errorf("%w: object key %.60q... is %d bytes long with the zones prefix; at most %d are allowed", grpipe.ErrBadInput, p, n, MaxKeyLen)
	}
	elems := strings.Split(p, "/")
	if !isZone(elems[0]) && !(prefix && len(elems) == 1 && isZonePrefix(elems[0])) {
		return fmt.Errorf("%w: object key %q is not in a zone (landing, working, processed, quarantine)", grpipe.ErrBadInput, p)
	}
	for i, e := range elems[1:] {
		last := i == len(elems)-2
		if prefix && last && e == "" {
			break
		}
		if err := CheckKeyElement(e); err != nil {
			return fmt.Errorf("object key %q: %w", p, err)
		}
	}
	return nil
}

// checkFolder checks the prefix of a delete: a folder inside a zone,
// "<zone>/<folder>/...", ending in '/'. A whole zone is never deleted.
func (s *Store) checkFolder(p string) error {
	if !strings.HasSuffix(p, "/") || strings.Count(p, "/") < 2 {
		return fmt.Errorf("%w: %q is not a folder inside a zone (<zone>/<folder>/): refusing to delete under it", grpipe.ErrBadInput, p)
	}
	if err := s.checkKey(strings.TrimSuffix(p, "/")); err != nil {
		return fmt.Errorf("delete under %s: %w", p, err)
	}
	return nil
}

func isZone(s string) bool {
	switch grpipe.Zone(s) {
	case grpipe.Landing, grpipe.Working, grpipe.Processed, grpipe.Quarantine:
		return true
	}
	return false
}

func isZonePrefix(s string) bool {
	for _, z := range []grpipe.Zone{grpipe.Landing, grpipe.Working, grpipe.Processed, grpipe.Quarantine} {
		if strings.HasPrefix(string(z), s) {
			return true
		}
	}
	return false
}
