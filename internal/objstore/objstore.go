// Package objstore provides the pipeline's zones (landing, working, processed,
// quarantine) on gocloud.dev/blob: local folders (file://) by default, any
// S3-compatible store (s3://) in production. Zone objects are only ever
// touched through this package.
package objstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
	"gocloud.dev/gcerrors"

	grpipe "github.com/grpipe/grpipe"
)

// Object describes one stored object.
type Object struct {
	Key     string
	Size    int64
	ModTime time.Time
}

// Store is the object store holding the zones.
type Store struct {
	bucket *blob.Bucket
	// root is the local folder behind a file:// store, empty for remote stores.
	root string
	// prefix is prepended to every key (the path part of an s3:// URL).
	prefix string
	url    string
}

// Open opens the store at rawURL: "file:///abs/dir" (created if missing) or
// "s3://bucket/prefix?endpoint=...&region=...".
func Open(ctx context.Context, rawURL string) (*Store, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("zones URL %q: %w", rawURL, err)
	}
	switch u.Scheme {
	case "file", "":
		dir := u.Path
		if u.Scheme == "" {
			dir = rawURL
		}
		if !filepath.IsAbs(dir) {
			if dir, err = filepath.Abs(dir); err != nil {
				return nil, err
			}
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("zones folder %s: %w", dir, err)
		}
		// Temporary files next to their final path, so that the rename that
		// publishes a finished object never crosses file systems; no sidecar files.
		b, err := fileblob.OpenBucket(dir, &fileblob.Options{NoTempDir: true, Metadata: fileblob.MetadataDontWrite})
		if err != nil {
			return nil, fmt.Errorf("open zones folder %s: %w", dir, err)
		}
		return &Store{bucket: b, root: dir, url: "file://" + dir}, nil
	case "s3":
		return openS3(ctx, u)
	default:
		return nil, fmt.Errorf("%w: zones URL %q: scheme %q is not supported (use file:///path or s3://bucket/prefix)", grpipe.ErrBadInput, rawURL, u.Scheme)
	}
}

// URL returns the store's URL without credentials.
func (s *Store) URL() string { return s.url }

// Local reports whether objects are plain files on this machine.
func (s *Store) Local() bool { return s.root != "" }

// LocalPath returns the file that holds key on a local store; false
// elsewhere, and for a key no object may have.
func (s *Store) LocalPath(key string) (string, bool) {
	if s.root == "" || s.checkKey(key) != nil {
		return "", false
	}
	return s.localPath(key), true
}

// Close closes the store.
func (s *Store) Close() error { return s.bucket.Close() }

func (s *Store) full(key string) string {
	if s.prefix == "" {
		return key
	}
	return s.prefix + "/" + key
}

func (s *Store) rel(key string) string {
	if s.prefix == "" {
		return key
	}
	return strings.TrimPrefix(key, s.prefix+"/")
}

// List returns the objects under prefix (recursively), sorted by key.
// Unfinished uploads (fileblob's *.tmp files) are left out.
func (s *Store) List(ctx context.Context, prefix string) ([]Object, error) {
	if err := s.checkPath(prefix, true); err != nil {
		return nil, fmt.Errorf("list %s: %w", prefix, err)
	}
	var out []Object
	it := s.bucket.List(&blob.ListOptions{Prefix: s.full(prefix)})
	for {
		obj, err := it.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", prefix, s.explain(err))
		}
		if obj.IsDir || strings.HasSuffix(obj.Key, ".tmp") {
			continue
		}
		out = append(out, Object{Key: s.rel(obj.Key), Size: obj.Size, ModTime: obj.ModTime})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// Stat returns the object at key; the error wraps grpipe.ErrNotFound when there is none.
func (s *Store) Stat(ctx context.Context, key string) (Object, error) {
	if err := s.checkKey(key); err != nil {
		return Object{}, fmt.Errorf("stat %s: %w", key, err)
	}
	a, err := s.bucket.Attributes(ctx, s.full(key))
	if err != nil {
		return Object{}, fmt.Errorf("stat %s: %w", key, s.explain(err))
	}
	return Object{Key: key, Size: a.Size, ModTime: a.ModTime}, nil
}

// Put writes r to key atomically: readers see the whole object or none.
func (s *Store) Put(ctx context.Context, key string, r io.Reader) (int64, error) {
	if err := s.checkKey(key); err != nil {
		return 0, fmt.Errorf("put %s: %w", key, err)
	}
	// Cancelling the writer's context before Close abandons the upload.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := s.bucket.NewWriter(wctx, s.full(key), &blob.WriterOptions{BufferSize: PartSize})
	if err != nil {
		return 0, fmt.Errorf("put %s: %w", key, s.explain(err))
	}
	n, err := io.Copy(w, ctxReader{ctx, r})
	if err != nil {
		cancel()
		_ = w.Close()
		return n, fmt.Errorf("put %s: %w", key, s.explain(err))
	}
	if err := w.Close(); err != nil {
		return n, fmt.Errorf("put %s: %w", key, s.explain(err))
	}
	return n, nil
}

// Writer writes one object; the object appears, whole, only when Close
// returns nil. Abort abandons it.
type Writer struct {
	w      *blob.Writer
	ctx    context.Context
	cancel context.CancelFunc
	key    string
	store  *Store
	// local is set for a new object on a local store (CreateNew): a
	// temporary file next to the object, linked to its name at Close.
	local *os.File
	final string
}

// Create returns a writer of key: readers see the whole object or none.
func (s *Store) Create(ctx context.Context, key string) (*Writer, error) {
	return s.create(ctx, key, false)
}

// CreateNew returns a writer of a new object at key: Close publishes it
// only if no object key exists by then, and otherwise fails with an error
// wrapping ErrExists and leaves the existing object untouched. The check
// and the publication are one atomic step, across processes and hosts: a
// hard link of a finished temporary file on local zones (it fails if the
// name exists), a conditional put (If-None-Match: *) on S3.
func (s *Store) CreateNew(ctx context.Context, key string) (*Writer, error) {
	return s.create(ctx, key, true)
}

func (s *Store) create(ctx context.Context, key string, exclusive bool) (*Writer, error) {
	if err := s.checkKey(key); err != nil {
		return nil, fmt.Errorf("put %s: %w", key, err)
	}
	wctx, cancel := context.WithCancel(ctx)
	if exclusive && s.root != "" {
		final := s.localPath(key)
		if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
			cancel()
			return nil, fmt.Errorf("put %s: %w", key, err)
		}
		// The temporary name ends in .tmp: List leaves it out.
		f, err := os.CreateTemp(filepath.Dir(final), "."+filepath.Base(final)+".*.tmp")
		if err != nil {
			cancel()
			return nil, fmt.Errorf("put %s: %w", key, err)
		}
		return &Writer{ctx: wctx, cancel: cancel, key: key, store: s, local: f, final: final}, nil
	}
	w, err := s.bucket.NewWriter(wctx, s.full(key), &blob.WriterOptions{BufferSize: PartSize, IfNotExist: exclusive})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("put %s: %w", key, s.explain(err))
	}
	return &Writer{w: w, ctx: wctx, cancel: cancel, key: key, store: s}, nil
}

// Write writes to the object.
func (w *Writer) Write(p []byte) (int, error) {
	if w.local != nil {
		n, err := w.local.Write(p)
		if err != nil {
			return n, fmt.Errorf("put %s: %w", w.key, err)
		}
		return n, nil
	}
	n, err := w.w.Write(p)
	if err != nil {
		return n, fmt.Errorf("put %s: %w", w.key, w.store.explain(err))
	}
	return n, nil
}

// ReadFrom copies r into the object (io.Copy uses it).
func (w *Writer) ReadFrom(r io.Reader) (int64, error) {
	if w.local != nil {
		n, err := w.local.ReadFrom(r)
		if err != nil {
			return n, fmt.Errorf("put %s: %w", w.key, err)
		}
		return n, nil
	}
	n, err := w.w.ReadFrom(r)
	if err != nil {
		return n, fmt.Errorf("put %s: %w", w.key, w.store.explain(err))
	}
	return n, nil
}

// Close publishes the object.
func (w *Writer) Close() error {
	defer w.cancel()
	if w.local != nil {
		return w.closeLocal()
	}
	if err := w.w.Close(); err != nil {
		return fmt.Errorf("put %s: %w", w.key, w.store.explain(err))
	}
	return nil
}

// closeLocal publishes a new local object: the finished temporary file is
// hard-linked to the object's name, which fails if the name exists.
func (w *Writer) closeLocal() error {
	tmp := w.local.Name()
	defer os.Remove(tmp)
	err := w.local.Sync()
	if cerr := w.local.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = w.ctx.Err()
	}
	if err != nil {
		return fmt.Errorf("put %s: %w", w.key, err)
	}
	if err := os.Link(tmp, w.final); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("put %s: %w", w.key, ErrExists)
		}
		return fmt.Errorf("put %s: %w", w.key, err)
	}
	return nil
}

// Abort abandons the object: nothing is published.
func (w *Writer) Abort() {
	w.cancel()
	if w.local != nil {
		_ = w.local.Close()
		_ = os.Remove(w.local.Name())
		return
	}
	_ = w.w.Close()
}

// PutFile uploads the local file at src to key atomically.
func (s *Store) PutFile(ctx context.Context, key, src string) (int64, error) {
	f, err := os.Open(src)
	if err != nil {
		return 0, fmt.Errorf("put %s: %w", key, err)
	}
	defer f.Close()
	return s.Put(ctx, key, f)
}

// PutFileNew uploads the local file at src to a new object at key: if an
// object key exists (or appears meanwhile), nothing is written and the error
// wraps ErrExists. See CreateNew.
func (s *Store) PutFileNew(ctx context.Context, key, src string) (int64, error) {
	f, err := os.Open(src)
	if err != nil {
		return 0, fmt.Errorf("put %s: %w", key, err)
	}
	defer f.Close()
	return s.PutNew(ctx, key, f)
}

// PutNew writes r to a new object at key; see CreateNew.
func (s *Store) PutNew(ctx context.Context, key string, r io.Reader) (int64, error) {
	w, err := s.CreateNew(ctx, key)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(w, ctxReader{ctx, r})
	if err != nil {
		w.Abort()
		return n, fmt.Errorf("put %s: %w", key, err)
	}
	return n, w.Close()
}

// ctxReader stops a copy when its context ends: a large upload is given up
// at the next read, not after the whole file.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// PutBytes writes b to key atomically.
func (s *Store) PutBytes(ctx context.Context, key string, b []byte) error {
	if err := s.checkKey(key); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return s.bucket.WriteAll(ctx, s.full(key), b, nil)
}

// ReadAll returns the object at key.
func (s *Store) ReadAll(ctx context.Context, key string) ([]byte, error) {
	if err := s.checkKey(key); err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	var b bytes.Buffer
	err := s.download(ctx, key, func() (io.Writer, error) { b.Reset(); return &b, nil })
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, s.explain(err))
	}
	return b.Bytes(), nil
}

// NewReader opens the object at key as a stream, for reading a large object
// without holding it in memory. On a remote store a transfer cut midway is
// resumed where it stopped (a ranged read), as often as a download is
// started again; Close releases the connection.
func (s *Store) NewReader(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := s.checkKey(key); err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	r, err := s.bucket.NewReader(ctx, s.full(key), nil)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, s.explain(err))
	}
	return &resumingReader{ctx: ctx, s: s, key: key, r: r}, nil
}

// resumingReader reads an object and, on a remote store, reopens it at the
// offset reached when a transfer is cut.
type resumingReader struct {
	ctx      context.Context
	s        *Store
	key      string
	r        *blob.Reader
	off      int64
	attempts int
}

func (r *resumingReader) Read(p []byte) (int, error) {
	for {
		n, err := r.r.Read(p)
		r.off += int64(n)
		if err == nil || err == io.EOF {
			return n, err
		}
		r.attempts++
		if r.s.root != "" || r.ctx.Err() != nil || r.attempts >= downloadAttempts {
			return n, fmt.Errorf("read %s: %w", r.key, r.s.explain(err))
		}
		r.r.Close()
		next, oerr := r.s.bucket.NewRangeReader(r.ctx, r.s.full(r.key), r.off, -1, nil)
		if oerr != nil {
			return n, fmt.Errorf("read %s: %w", r.key, r.s.explain(oerr))
		}
		r.r = next
		if n > 0 {
			return n, nil
		}
	}
}

func (r *resumingReader) Close() error { return r.r.Close() }

// downloadAttempts is how often a download cut midway is started again.
const downloadAttempts = 4

// download copies the object at key into the writer that reset returns
// (emptied by reset before each try). Failed requests are retried by the
// S3 client; a transfer cut midway through the body (a reset connection,
// an unexpected EOF) is started again from the beginning here.
func (s *Store) download(ctx context.Context, key string, reset func() (io.Writer, error)) error {
	for attempt := 1; ; attempt++ {
		w, err := reset()
		if err != nil {
			return err
		}
		r, err := s.bucket.NewReader(ctx, s.full(key), nil)
		if err != nil {
			return err
		}
		_, err = io.Copy(w, r)
		r.Close()
		if err == nil || ctx.Err() != nil || attempt == downloadAttempts || s.root != "" {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt) * 200 * time.Millisecond):
		}
	}
}

// Delete removes key; a missing key is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.checkKey(key); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	err := s.bucket.Delete(ctx, s.full(key))
	if err != nil && gcerrors.Code(err) != gcerrors.NotFound {
		return fmt.Errorf("delete %s: %w", key, s.explain(err))
	}
	return nil
}

// DeletePrefix removes every object under prefix. On a local store it also
// removes the temporary files of unfinished writes under prefix (a process
// killed while it wrote an object leaves one; no reader ever sees it, see
// List) and the folders left empty. A writer still writing there then fails
// when it publishes; nobody writes into a folder being deleted.
func (s *Store) DeletePrefix(ctx context.Context, prefix string) error {
	if err := s.checkFolder(prefix); err != nil {
		return err
	}
	objs, err := s.List(ctx, prefix)
	if err != nil {
		return err
	}
	for _, o := range objs {
		if err := s.Delete(ctx, o.Key); err != nil {
			return err
		}
	}
	if s.root != "" {
		dir := filepath.Join(s.root, filepath.FromSlash(prefix))
		if err := removeLeftovers(dir); err != nil {
			return fmt.Errorf("delete %s: %w", prefix, err)
		}
		s.removeEmptyDirs(dir)
	}
	return nil
}

// removeLeftovers removes the temporary files (*.tmp) of unfinished writes
// under dir, then the folders below dir that are left empty.
func removeLeftovers(dir string) error {
	var dirs []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			if p != dir {
				dirs = append(dirs, p)
			}
			return nil
		}
		if strings.HasSuffix(d.Name(), ".tmp") {
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
		return nil
	})
	for i := len(dirs) - 1; i >= 0; i-- {
		_ = os.Remove(dirs[i]) // fails, and is kept, when not empty
	}
	return err
}

// Move moves src to dst and verifies that dst has the expected size before
// the source is deleted. On a local store it is a rename (atomic, no copy);
// elsewhere a server-side copy, a size check, then a delete.
func (s *Store) Move(ctx context.Context, src, dst string, size int64) error {
	for _, k := range []string{src, dst} {
		if err := s.checkKey(k); err != nil {
			return fmt.Errorf("move %s to %s: %w", src, dst, err)
		}
	}
	if s.root != "" {
		from, to := s.localPath(src), s.localPath(dst)
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			return fmt.Errorf("move %s: %w", src, err)
		}
		if err := os.Rename(from, to); err != nil {
			return fmt.Errorf("move %s to %s: %w", src, dst, err)
		}
	} else {
		if err := s.bucket.Copy(ctx, s.full(dst), s.full(src), nil); err != nil {
			return fmt.Errorf("copy %s to %s: %w", src, dst, s.explain(err))
		}
	}
	got, err := s.Stat(ctx, dst)
	if err != nil {
		return fmt.Errorf("verify %s: %w", dst, err)
	}
	if got.Size != size {
		return fmt.Errorf("verify %s: size %d, expected %d: the source %s is kept", dst, got.Size, size, src)
	}
	if s.root == "" {
		return s.Delete(ctx, src)
	}
	s.removeEmptyDirs(filepath.Dir(s.localPath(src)))
	return nil
}

// Fetch makes the object at key available as a local file. On a local store
// it returns the object's own path and a no-op cleanup; elsewhere it streams
// the object into dir and the cleanup removes the copy.
func (s *Store) Fetch(ctx context.Context, key, dir string) (string, func(), error) {
	if err := s.checkKey(key); err != nil {
		return "", nil, fmt.Errorf("fetch %s: %w", key, err)
	}
	if s.root != "" {
		p := s.localPath(key)
		if _, err := os.Stat(p); err != nil {
			return "", nil, fmt.Errorf("fetch %s: %w", key, err)
		}
		return p, func() {}, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", nil, fmt.Errorf("fetch %s: %w", key, err)
	}
	f, err := os.CreateTemp(dir, "fetch-*-"+path.Base(key))
	if err != nil {
		return "", nil, fmt.Errorf("fetch %s: %w", key, err)
	}
	cleanup := func() { _ = os.Remove(f.Name()) }
	err = s.download(ctx, key, func() (io.Writer, error) {
		if err := f.Truncate(0); err != nil {
			return nil, err
		}
		_, err := f.Seek(0, io.SeekStart)
		return f, err
	})
	if err != nil {
		f.Close()
		cleanup()
		return "", nil, fmt.Errorf("fetch %s: %w", key, s.explain(err))
	}
	if err := f.Close(); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("fetch %s: %w", key, err)
	}
	return f.Name(), cleanup, nil
}

// Checksum returns the SHA-256 of the object at key, hex-encoded.
func (s *Store) Checksum(ctx context.Context, key string) (string, error) {
	if err := s.checkKey(key); err != nil {
		return "", fmt.Errorf("read %s: %w", key, err)
	}
	h := sha256.New()
	if err := s.download(ctx, key, func() (io.Writer, error) { h.Reset(); return h, nil }); err != nil {
		return "", fmt.Errorf("read %s: %w", key, s.explain(err))
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func (s *Store) localPath(key string) string {
	return filepath.Join(s.root, filepath.FromSlash(key))
}

// removeEmptyDirs removes dir and its empty parents below the zone folders
// (a zone's own folder, such as landing/, is kept).
func (s *Store) removeEmptyDirs(dir string) {
	for {
		rel, err := filepath.Rel(s.root, dir)
		if err != nil || rel == "." || strings.HasPrefix(rel, "..") || !strings.Contains(rel, string(filepath.Separator)) {
			return
		}
		if err := os.Remove(dir); err != nil {
			return
		}
		dir = filepath.Dir(dir)
	}
}

// IsNotFound reports whether err says an object does not exist.
func IsNotFound(err error) bool {
	return errors.Is(err, grpipe.ErrNotFound) || gcerrors.Code(err) == gcerrors.NotFound
}

// explain maps store errors to sentinel errors and adds what to do.
func (s *Store) explain(err error) error {
	switch gcerrors.Code(err) {
	case gcerrors.NotFound:
		return fmt.Errorf("%w: %w", grpipe.ErrNotFound, err)
	case gcerrors.FailedPrecondition:
		return fmt.Errorf("%w: %w", ErrExists, err)
	case gcerrors.PermissionDenied:
		return fmt.Errorf("%w (check the credentials for %s)", err, s.url)
	}
	if conditionalConflict(err) {
		return fmt.Errorf("%w: another upload of the same name was in progress: %w", ErrExists, err)
	}
	return err
}
