package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path"
	"sort"
	"strings"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/landing"
	"github.com/grpipe/grpipe/internal/objstore"
)

// File states in a claim manifest.
const (
	fileClaiming = "claiming" // being moved from landing
	fileClaimed  = "claimed"  // in working, not yet loaded
	fileLoaded   = "loaded"   // committed to the warehouse, working copy removed
	fileHeld     = "held"     // refused whole; kept in working for an operator
	fileMissing  = "missing"  // vanished from landing before it could be moved
)

// manifestName is the claim manifest's name inside working/<batch>/.
const manifestName = "_manifest.json"

// Manifest is the one record of what a batch (the files one run claimed)
// owns. It is written before any file moves, so that a crash at any point
// leaves enough to resume.
type Manifest struct {
	Batch     string         `json:"batch"`
	ClaimedAt time.Time      `json:"claimed_at"`
	Files     []ManifestFile `json:"files"`
	// Strikes counts the runs that failed to finish this batch while they
	// finished their own: evidence that the batch, not the system, is at
	// fault. LastError is the last failure's message.
	Strikes   int    `json:"strikes,omitempty"`
	LastError string `json:"last_error,omitempty"`
	// Held, when set, says why the batch was given up after maxStrikes:
	// runs leave it alone (its files stay in working/<batch>/ for an
	// operator) and go on with later batches.
	Held string `json:"held,omitempty"`
	// loaded marks the entities of the batch committed in this process.
	loaded map[string]bool
}

// ManifestFile is one claimed file.
type ManifestFile struct {
	Name    string    `json:"name"`
	Entity  string    `json:"entity"`
	Size    int64     `json:"size"`
	ModTime time.Time `json:"mod_time"`
	State   string    `json:"state"`
	Reason  string    `json:"reason,omitempty"`
}

func manifestKey(batch string) string { return objstore.Key(grpipe.Working, batch, manifestName) }

func workingKey(batch, name string) string { return objstore.Key(grpipe.Working, batch, name) }

func (p *Pipeline) writeManifest(ctx context.Context, m *Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := p.zones.PutBytes(ctx, manifestKey(m.Batch), b); err != nil {
		return fmt.Errorf("write claim manifest of %s: %w", m.Batch, err)
	}
	return nil
}

func (p *Pipeline) readManifest(ctx context.Context, batch string) (*Manifest, error) {
	b, err := p.zones.ReadAll(ctx, manifestKey(batch))
	if err != nil {
		return nil, err
	}
	m := &Manifest{}
	if err := json.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("claim manifest %s: %w (the file is damaged: inspect working/%s/ by hand)", manifestKey(batch), err, batch)
	}
	return m, nil
}

// claim moves the accepted files waiting in landing into working/<batch>/,
// oldest first, and returns the batch's manifest (nil when landing is empty).
func (p *Pipeline) claim(ctx context.Context, batch string, log *slog.Logger) (*Manifest, error) {
	files, ignored, err := landing.List(ctx, p.zones)
	if err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	for _, key := range ignored {
		log.Warn("landing object ignored: not a landing file name (or longer than 200 bytes)", "key", key, "accepted", grpipe.AcceptedInputNames)
	}
	m := &Manifest{Batch: batch, ClaimedAt: p.now().UTC()}
	for _, f := range files {
		m.Files = append(m.Files, ManifestFile{Name: f.Name, Entity: f.Entity.Name, Size: f.Size, ModTime: f.ModTime, State: fileClaiming})
	}
	if len(m.Files) == 0 {
		log.Info("nothing to claim: the landing zone holds no files")
		return nil, nil
	}
	// Oldest first: when two rows tie on id and timestamp, the later file wins.
	sort.SliceStable(m.Files, func(i, j int) bool {
		if !m.Files[i].ModTime.Equal(m.Files[j].ModTime) {
			return m.Files[i].ModTime.Before(m.Files[j].ModTime)
		}
		return m.Files[i].Name < m.Files[j].Name
	})
	if err := p.writeManifest(ctx, m); err != nil {
		return nil, err
	}
	if err := p.finishClaim(ctx, m, log); err != nil {
		return nil, err
	}
	return m, nil
}

// finishClaim moves every file of m still in state claiming: copy, verify the
// size, delete the source. It is safe to repeat after a crash.
func (p *Pipeline) finishClaim(ctx context.Context, m *Manifest, log *slog.Logger) error {
	changed := false
	for i := range m.Files {
		f := &m.Files[i]
		if f.State != fileClaiming {
			continue
		}
		src := landing.Key(f.Name)
		dst := workingKey(m.Batch, f.Name)
		if got, err := p.zones.Stat(ctx, dst); err == nil && got.Size == f.Size {
			// Already copied: remove the source if it is still the same file.
			if s, err := p.zones.Stat(ctx, src); err == nil && s.Size == f.Size && s.ModTime.Equal(f.ModTime) {
				if err := p.zones.Delete(ctx, src); err != nil {
					return fmt.Errorf("claim %s: %w", f.Name, err)
				}
			}
		} else {
			s, err := p.zones.Stat(ctx, src)
			switch {
			case objstore.IsNotFound(err):
				f.State, f.Reason = fileMissing, "removed from landing before it was claimed"
				log.Warn("claimed file vanished from landing", "file", f.Name)
				changed = true
				continue
			case err != nil:
				return fmt.Errorf("claim %s: %w", f.Name, err)
			case s.Size != f.Size:
				// Replaced in landing since the manifest was written: claim it as it is now.
				f.Size, f.ModTime = s.Size, s.ModTime
			}
			if err := p.zones.Move(ctx, src, dst, f.Size); err != nil {
				return fmt.Errorf("claim %s: %w", f.Name, err)
			}
			p.crashPoint("claim")
		}
		f.State = fileClaimed
		changed = true
		log.Info("claimed", "file", f.Name, "bytes", f.Size)
	}
	if changed {
		return p.writeManifest(ctx, m)
	}
	return nil
}

// pendingBatches returns the manifests of earlier batches that still have
// files to load (their run died), oldest first. Batches whose only remaining
// files are held are reported in the log and left alone.
func (p *Pipeline) pendingBatches(ctx context.Context, current string, log *slog.Logger) ([]*Manifest, error) {
	objs, err := p.zones.List(ctx, string(grpipe.Working)+"/")
	if err != nil {
		return nil, fmt.Errorf("look for unfinished batches: %w", err)
	}
	seen := map[string]bool{}
	var out []*Manifest
	for _, o := range objs {
		rel := strings.TrimPrefix(o.Key, string(grpipe.Working)+"/")
		batch, rest, ok := strings.Cut(rel, "/")
		if !ok || batch == current || seen[batch] {
			continue
		}
		seen[batch] = true
		if _, err := p.zones.Stat(ctx, manifestKey(batch)); err != nil {
			if objstore.IsNotFound(err) {
				log.Warn("working folder without a claim manifest left alone: inspect it by hand", "folder", path.Join(string(grpipe.Working), batch), "object", rest)
				continue
			}
			return nil, err
		}
		m, err := p.readManifest(ctx, batch)
		if err != nil {
			// A damaged manifest would fail every later run: leave it to an operator.
			log.Warn("batch left alone: its claim manifest cannot be read; inspect it by hand", "batch", batch, "error", err.Error())
			continue
		}
		if m.Held != "" {
			log.Warn("batch held: later runs leave it alone; its files stay for an operator", "batch", batch,
				"folder", path.Join(string(grpipe.Working), batch), "why", m.Held)
			continue
		}
		pending := false
		for _, f := range m.Files {
			switch f.State {
			case fileClaiming, fileClaimed:
				pending = true
			case fileHeld:
				log.Warn("file held in working after it was refused", "batch", batch, "file", f.Name, "reason", f.Reason)
			}
		}
		if pending {
			out = append(out, m)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ClaimedAt.Before(out[j].ClaimedAt) })
	return out, nil
}
