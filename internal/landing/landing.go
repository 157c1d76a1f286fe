// Package landing is the one way into the landing zone: `grpipe land`
// (Land, files from disk), `grpipe fake --land` (Create, files written as
// streams) and `grpipe capture` (Put, a spooled batch) go through it, and so
// do its rules: accepted file names (grpipe.InputForFile: the entities' CSV
// files, the UCSD Book Graph dumps, library exports), a header naming the
// entity's key (a gzip or JSON start for a dump), read from regular files
// only (a FIFO or device is refused before it is opened), names of at most
// MaxNameLen bytes, whole files only (a run never sees half a file), and no
// file landed over one of the same name still waiting to be claimed: the
// name is taken atomically when the file is published (objstore's
// CreateNew), so of two lands of one name at once exactly one lands.
//
// The run's claim (internal/pipeline) reads landing through List and Key.
// An input format extends the accepted names (grpipe.InputForFile) and the
// check of a file's start here (sniffInput), and its reader in
// internal/transform (the format seam).
package landing

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/objstore"
	"github.com/grpipe/grpipe/internal/split"
)

// ErrWaiting is wrapped (with grpipe.ErrBadInput) by the error for a file
// whose name is already waiting in the landing zone.
var ErrWaiting = errors.New("already waiting in the landing zone")

// Key returns the object key of the landing file name.
func Key(name string) string { return objstore.Key(grpipe.Landing, name) }

// Waiting reports whether a file of that name waits in the landing zone.
func Waiting(ctx context.Context, zones *objstore.Store, name string) (bool, error) {
	_, err := zones.Stat(ctx, Key(name))
	switch {
	case err == nil:
		return true, nil
	case objstore.IsNotFound(err):
		return false, nil
	}
	return false, fmt.Errorf("landing %s: %w", name, err)
}

// free returns an error wrapping ErrWaiting and grpipe.ErrBadInput when a
// file of that name waits in the landing zone. It is an early check, before
// anything is copied; the name is taken atomically when the file is
// published (taken, below).
func free(ctx context.Context, zones *objstore.Store, name string) error {
	waiting, err := Waiting(ctx, zones, name)
	if err != nil || !waiting {
		return err
	}
	return waitingError(name, "has not been processed yet")
}

func waitingError(name, why string) error {
	hint := strings.TrimSuffix(name, ".csv") + "-<batch>.csv"
	if in, err := grpipe.InputForFile(name); err == nil {
		hint = batchHint(in)
	}
	return fmt.Errorf("%w: %s is %w and %s: run `grpipe run` first, or land this file under a batch name such as %s",
		grpipe.ErrBadInput, name, ErrWaiting, why, hint)
}

// taken maps the store's refusal to publish over an existing object (a
// concurrent land of the same name won) to ErrWaiting.
func taken(name string, err error) error {
	if errors.Is(err, objstore.ErrExists) {
		return waitingError(name, "was landed by another process just now (this copy was not landed)")
	}
	return fmt.Errorf("land %s: %w", name, err)
}

// MaxNameLen is the longest landing file name, in bytes: the run derives
// longer names from it (quarantine/<run_id>/<name>.rejects.csv, its work
// files), which must stay within the 255-byte limit of a file name.
const MaxNameLen = 200

// checkName returns what an accepted landing name says, and refuses a name
// that is too long or that cannot name an object.
func checkName(name string) (grpipe.Input, error) {
	in, err := grpipe.InputForFile(name)
	if err != nil {
		return in, err
	}
	if len(name) > MaxNameLen {
		return in, fmt.Errorf("%w: file name %.60q... is %d bytes long; a landing file name may have at most %d (the run derives longer names from it): rename it, e.g. %s",
			grpipe.ErrBadInput, name, len(name), MaxNameLen, batchHint(in))
	}
	if err := objstore.CheckKeyElement(name); err != nil {
		return in, err
	}
	return in, nil
}

// Options tune Land.
type Options struct {
	// Link hard-links the files into a local landing zone instead of
	// copying them (grpipe bench); on other zones, or when linking fails,
	// the files are copied.
	Link bool
	// Split, when positive, cuts each CSV file at record boundaries into
	// parts of about that many bytes, landed as <entity>-<name>-NNNN.csv
	// (grpipe land --split), so that several workers share one file.
	Split int64
	// ExportUserID is the member's own Goodreads user id, needed to land a
	// library export (goodreads_library_export*.csv): it lands under a name
	// carrying the id (grpipe.ExportLandingName), so that a run, however
	// much later, knows whose shelves it holds.
	ExportUserID int64
}

// Land puts local files into the landing zone, each atomically. Every file
// is checked before any is landed: an accepted name, a readable regular
// file whose first line names the entity's key column, no two files landing
// under one name, and no file of the same name already waiting. It returns
// the names landed (those landed before a failure, too).
func Land(ctx context.Context, zones *objstore.Store, files []string, opts *Options) ([]string, error) {
	if opts == nil {
		opts = &Options{}
	}
	if opts.ExportUserID < 0 {
		return nil, fmt.Errorf("%w: --export-user-id %d: give your Goodreads user id, a positive number", grpipe.ErrBadInput, opts.ExportUserID)
	}
	if opts.Split > 0 {
		dir, err := os.MkdirTemp("", "grpipe-split-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		if files, err = splitFiles(ctx, files, opts.Split, dir); err != nil {
			return nil, err
		}
	}
	type item struct {
		path, name string
	}
	var items []item
	seen := map[string]string{}
	for _, f := range files {
		name := filepath.Base(f)
		if grpipe.IsLibraryExportName(name) {
			n, err := grpipe.ExportLandingName(name, opts.ExportUserID)
			if err != nil {
				return nil, err
			}
			name = n
		}
		in, err := checkName(name)
		if err != nil {
			return nil, err
		}
		if other, dup := seen[name]; dup {
			return nil, fmt.Errorf("%w: %s and %s would both land as %s: rename one (e.g. %s)", grpipe.ErrBadInput, other, f, name, batchHint(in))
		}
		seen[name] = f
		if err := sniffInput(f, in); err != nil {
			return nil, err
		}
		if err := free(ctx, zones, name); err != nil {
			return nil, err
		}
		items = append(items, item{f, name})
	}
	var landed []string
	for _, it := range items {
		if err := ctx.Err(); err != nil {
			return landed, fmt.Errorf("land %s: %w", it.name, err)
		}
		linked := false
		if opts.Link {
			var err error
			if linked, err = link(zones, it.path, it.name); err != nil {
				return landed, err
			}
		}
		if !linked {
			if _, err := putNew(ctx, zones, it.name, it.path); err != nil {
				return landed, taken(it.name, err)
			}
		}
		landed = append(landed, it.name)
	}
	return landed, nil
}

// putNew copies the regular file at path into the landing zone as a new
// object; a FIFO swapped in since the checks is still refused.
func putNew(ctx context.Context, zones *objstore.Store, name, path string) (int64, error) {
	f, err := openRegular(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return zones.PutNew(ctx, Key(name), f)
}

// link hard-links path into a local landing zone as name (false when it
// could not: the caller copies); a name that exists there is refused.
func link(zones *objstore.Store, path, name string) (bool, error) {
	dst, ok := zones.LocalPath(Key(name))
	if !ok {
		return false, nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return false, nil
	}
	err := os.Link(path, dst)
	if errors.Is(err, fs.ErrExist) {
		return false, waitingError(name, "was landed by another process just now (this copy was not landed)")
	}
	return err == nil, nil
}

// Put lands the local file path under name, atomically; a name already
// waiting is refused (ErrWaiting). It does not read the file: the caller
// wrote it (capture's spool).
func Put(ctx context.Context, zones *objstore.Store, name, path string) error {
	if _, err := grpipe.EntityForFile(name); err != nil {
		return err
	}
	if _, err := checkName(name); err != nil {
		return err
	}
	if err := free(ctx, zones, name); err != nil {
		return err
	}
	if _, err := zones.PutFileNew(ctx, Key(name), path); err != nil {
		return taken(name, err)
	}
	return nil
}

// Batch is a set of landing files written as streams (grpipe fake --land):
// each becomes visible whole when the batch is committed.
type Batch struct {
	names   []string
	writers []*objstore.Writer
}

// Create opens one writer per name; a name that is not accepted, or that is
// already waiting, is refused before anything is written.
func Create(ctx context.Context, zones *objstore.Store, names []string) (*Batch, error) {
	for _, name := range names {
		if _, err := grpipe.EntityForFile(name); err != nil {
			return nil, err
		}
		if _, err := checkName(name); err != nil {
			return nil, err
		}
		if err := free(ctx, zones, name); err != nil {
			return nil, err
		}
	}
	b := &Batch{names: names}
	for _, name := range names {
		w, err := zones.CreateNew(ctx, Key(name))
		if err != nil {
			b.Abort()
			return nil, fmt.Errorf("land %s: %w", name, err)
		}
		b.writers = append(b.writers, w)
	}
	return b, nil
}

// Writer returns the writer of the i-th name.
func (b *Batch) Writer(i int) io.Writer { return b.writers[i] }

// Commit publishes every file of the batch.
func (b *Batch) Commit() error {
	var errs []error
	for i, w := range b.writers {
		if err := w.Close(); err != nil {
			errs = append(errs, taken(b.names[i], err))
		}
	}
	return errors.Join(errs...)
}

// Abort discards every file of the batch.
func (b *Batch) Abort() {
	for _, w := range b.writers {
		w.Abort()
	}
}

// File is one landing file waiting to be claimed.
type File struct {
	objstore.Object
	// Name is the file name in the landing zone.
	Name string
	// Entity is the entity the name belongs to (a file of several
	// entities: its primary one, Input.Entity).
	Entity grpipe.Entity
	// Input is what the name says: the format and every entity of the file.
	Input grpipe.Input
}

// List returns the files waiting in the landing zone, and the keys of the
// objects there that are not landing files (a run ignores them).
func List(ctx context.Context, zones *objstore.Store) (files []File, ignored []string, err error) {
	objs, err := zones.List(ctx, string(grpipe.Landing)+"/")
	if err != nil {
		return nil, nil, fmt.Errorf("list the landing zone: %w", err)
	}
	for _, o := range objs {
		name := strings.TrimPrefix(o.Key, string(grpipe.Landing)+"/")
		in, err := checkName(name) // put there by other means than Land: the same rules
		if err != nil || strings.Contains(name, "/") {
			ignored = append(ignored, o.Key)
			continue
		}
		files = append(files, File{Object: o, Name: name, Entity: in.Entity, Input: in})
	}
	return files, ignored, nil
}

// maxHeader is how much of a file is read for its header.
const maxHeader = 64 << 10

// openRegular opens path for reading only if it is a regular file (or a
// link to one): a FIFO, a device or a folder is refused before it is opened
// (opening a FIFO would wait for a writer, forever), and the file opened is
// checked again (it may have been swapped meanwhile).
func openRegular(path string) (*os.File, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", grpipe.ErrBadInput, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is not a regular file (%s): land the data as a file", grpipe.ErrBadInput, path, kind(st.Mode()))
	}
	f, err := os.OpenFile(path, openFlags, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", grpipe.ErrBadInput, err)
	}
	if st2, err := f.Stat(); err != nil || !st2.Mode().IsRegular() || !os.SameFile(st, st2) {
		f.Close()
		return nil, fmt.Errorf("%w: %s changed while it was opened: land it again", grpipe.ErrBadInput, path)
	}
	return f, nil
}

// kind names a file mode that is not a regular file's.
func kind(m os.FileMode) string {
	switch {
	case m&os.ModeNamedPipe != 0:
		return "a named pipe"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeDevice != 0:
		return "a device"
	case m.IsDir():
		return "a folder"
	}
	return "not a plain file"
}

// sniff checks that path is a readable regular file whose header names e's key column.
func sniff(path string, e grpipe.Entity) error {
	f, err := openRegular(path)
	if err != nil {
		return err
	}
	defer f.Close()
	head := make([]byte, maxHeader)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: read %s: %w", grpipe.ErrBadInput, path, err)
	}
	head = head[:n]
	nl := bytes.IndexByte(head, '\n')
	if nl < 0 && bytes.IndexByte(head, '\r') >= 0 {
		return fmt.Errorf("%w: %s ends its lines with a carriage return only (old Mac style): convert it to LF or CRLF line ends (e.g. tr '\\r' '\\n')", grpipe.ErrBadInput, path)
	}
	if nl < 0 && n == maxHeader {
		return fmt.Errorf("%w: %s has no line end in its first %d KiB: its first line should be a CSV header", grpipe.ErrBadInput, path, maxHeader>>10)
	}
	line := string(head)
	if nl >= 0 {
		line = line[:nl]
	}
	line = strings.TrimPrefix(line, "\ufeff")
	for _, col := range strings.Split(line, ",") {
		// As the run reads a header: quotes removed, then white space.
		if strings.EqualFold(strings.TrimSpace(strings.Trim(strings.TrimSpace(col), `"`)), e.Key) {
			return nil
		}
	}
	return fmt.Errorf("%w: %s does not look like a %s file: its first line should be a header naming %s (columns: %s)",
		grpipe.ErrBadInput, path, e.FilePrefix, e.Key, strings.Join(e.ColumnNames(), ","))
}

// sniffInput checks that path looks like a file of in's format: a CSV
// header naming the key, a gzip stream or a JSON object for a dump, a
// header naming Book Id for an export.
func sniffInput(path string, in grpipe.Input) error {
	switch in.Format {
	case grpipe.FormatCSV:
		return sniff(path, in.Entity)
	case grpipe.FormatLibraryExport:
		return sniff(path, grpipe.Entity{FilePrefix: "goodreads_library_export", Key: "Book Id", Columns: []grpipe.Column{{Name: "Book Id"}}})
	}
	f, err := openRegular(path)
	if err != nil {
		return err
	}
	defer f.Close()
	head := make([]byte, 64)
	n, _ := io.ReadFull(f, head)
	head = head[:n]
	gz := len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b
	if !gz && !strings.HasPrefix(strings.TrimLeft(string(head), " \t\r\n"), "{") {
		return fmt.Errorf("%w: %s does not look like a UCSD Book Graph dump: it should be gzip (.json.gz) or JSON Lines starting with '{'", grpipe.ErrBadInput, path)
	}
	return nil
}

// batchHint is an example of another accepted name for a file like in.
func batchHint(in grpipe.Input) string {
	switch in.Format {
	case grpipe.FormatCSV:
		return in.Entity.FilePrefix + "-<batch>.csv"
	case grpipe.FormatLibraryExport:
		return "goodreads_library_export-<batch>.csv"
	}
	ext := ".json"
	if strings.HasSuffix(in.Name, ".json.gz") {
		ext = ".json.gz"
	}
	return strings.TrimSuffix(in.Name, ext) + "-<batch>" + ext
}

// splitFiles cuts each file into parts of about size in dir and returns
// the parts' paths, in order.
func splitFiles(ctx context.Context, files []string, size int64, dir string) ([]string, error) {
	var out []string
	for _, f := range files {
		parts, err := split.File(ctx, f, filepath.Base(f), size, func(part string) (io.WriteCloser, error) {
			return os.Create(filepath.Join(dir, part))
		})
		if err != nil {
			return nil, err
		}
		for _, p := range parts {
			out = append(out, filepath.Join(dir, p.Name))
		}
	}
	return out, nil
}
