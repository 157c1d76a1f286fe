package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/dag"
	"github.com/grpipe/grpipe/internal/duckdb"
	"github.com/grpipe/grpipe/internal/objstore"
	"github.com/grpipe/grpipe/internal/quarantine"
	"github.com/grpipe/grpipe/internal/transform"
)

// etl is the GoodReadsETLJob task: finish the batches of runs that died,
// claim what waits in landing, then transform, stage and upsert each batch.
//
// The batch is named after the run; a later try of the task (a retry, or the
// run resumed after a crash) claims into <run_id>_try<N> and finishes the
// earlier tries' batches like those of any interrupted run.
func (p *Pipeline) etl(ctx context.Context, c *dag.Call) error {
	log := c.Log
	if err := grpipe.ValidateRunID(c.Run.RunID); err != nil {
		// A run id that could leave its folder (a run recorded by an older
		// grpipe) never names a batch: its folders would not be its own.
		return fmt.Errorf("run %q cannot claim a batch: %w", c.Run.RunID, err)
	}
	batch := c.Run.RunID
	if c.Number > 1 {
		batch = fmt.Sprintf("%s_try%d", c.Run.RunID, c.Number)
	}
	earlier, err := p.pendingBatches(ctx, batch, log)
	if err != nil {
		return err
	}
	// An earlier batch that fails is set aside: it never keeps this run's
	// batch from loading (see strike).
	failed := map[*Manifest]error{}
	var pending []*Manifest
	for _, m := range earlier {
		log.Warn("resuming the batch of an interrupted run", "batch", m.Batch)
		if err := p.finishClaim(ctx, m, log); err != nil {
			failed[m] = err
			continue
		}
		c.AddRecovered(m.Batch)
		pending = append(pending, m)
	}

	t0 := time.Now()
	p.started("claim", 0)
	own, err := p.claim(ctx, batch, log)
	if err != nil {
		return err
	}
	var claimed int64
	if own != nil {
		for _, f := range own.Files {
			claimed += f.Size
		}
		pending = append(pending, own)
	}
	p.ended(c, "claim", grpipe.StageTiming{Stage: "claim", Seconds: time.Since(t0).Seconds(), Bytes: claimed})

	var refused []error
	for _, m := range pending {
		err := p.processBatch(ctx, c, m, log)
		var fe *transform.FileError
		if err != nil && !errors.As(err, &fe) {
			if m != own {
				failed[m] = err
				continue
			}
			return errors.Join(append([]error{fmt.Errorf("batch %s: %w", m.Batch, err)}, p.failures(failed)...)...)
		}
		if err != nil {
			refused = append(refused, err)
		}
	}

	if len(pending) > 0 {
		// Reviews that came without their author (UCSD) take their book's
		// first author, from this batch's books or any stored before.
		t1 := time.Now()
		p.started("fill_authors", 0)
		n, err := p.wh.FillReviewAuthors(ctx)
		if err != nil {
			return err
		}
		if n > 0 {
			log.Info("reviews given their book's first author", "rows", n)
		}
		p.ended(c, "fill_authors", grpipe.StageTiming{Stage: "fill_authors", Seconds: time.Since(t1).Seconds(), Rows: n})
	}
	if len(failed) > 0 {
		// This run's own work went through: the earlier batches that failed
		// are at fault, not the system; each takes a strike (when this run
		// had a batch of its own to prove it).
		errs := p.strike(ctx, failed, own != nil, log)
		if err := errFiles(refused); err != nil {
			errs = append(errs, err)
		}
		return errors.Join(errs...)
	}
	return errFiles(refused)
}

// maxStrikes is how many runs may fail to finish a batch, while finishing
// their own, before it is held.
const maxStrikes = 3

// failures describes the earlier batches that failed, without striking them
// (this run's own batch failed too: the system may be at fault).
func (p *Pipeline) failures(failed map[*Manifest]error) []error {
	var errs []error
	for m, err := range failed {
		errs = append(errs, fmt.Errorf("earlier batch %s: %w", m.Batch, err))
	}
	return errs
}

// strike records the failure of each earlier batch that failed; with proof
// that the system works (this run loaded a batch of its own), it counts a
// strike, and at maxStrikes the batch is held: later runs leave it alone.
// The errors say which batches failed and what happens to them.
func (p *Pipeline) strike(ctx context.Context, failed map[*Manifest]error, proof bool, log *slog.Logger) []error {
	var errs []error
	for m, err := range failed {
		m.LastError = err.Error()
		if proof {
			m.Strikes++
		}
		what := fmt.Sprintf("it will be tried again (%d of %d failures while other batches loaded)", m.Strikes, maxStrikes)
		if m.Strikes >= maxStrikes {
			m.Held = fmt.Sprintf("%d runs failed to finish it while loading their own batches; last: %s", m.Strikes, m.LastError)
			what = fmt.Sprintf("it is held: later runs leave it alone; its files stay in %s/ for an operator (land them again once fixed, then delete the folder)",
				path.Join(string(grpipe.Working), m.Batch))
			log.Error("batch held after repeated failures", "batch", m.Batch, "strikes", m.Strikes, "error", err.Error())
		}
		if werr := p.writeManifest(ctx, m); werr != nil {
			errs = append(errs, werr)
		}
		errs = append(errs, fmt.Errorf("earlier batch %s could not be finished: %w; %s", m.Batch, err, what))
	}
	return errs
}

// processBatch transforms, stages and upserts the claimed files of one
// batch, entity by entity, skipping entities whose load already committed.
// Files refused whole are marked held in the manifest before anything loads,
// and the error names them.
func (p *Pipeline) processBatch(ctx context.Context, c *dag.Call, m *Manifest, log *slog.Logger) error {
	log = log.With("batch", m.Batch)
	for _, f := range m.Files {
		if f.State == fileClaimed {
			c.AddFiles(f.Name)
		}
	}

	// Entities whose rows of this batch are already in the warehouse (a crash
	// after their commit) are done: take the recorded ledger.
	need := map[string]bool{}
	checked := map[string]bool{}
	for i := range m.Files {
		f := &m.Files[i]
		if f.State != fileClaimed {
			continue
		}
		for _, e := range fileEntities(f) {
			if checked[e.Name] {
				continue
			}
			checked[e.Name] = true
			l, loaded, err := p.wh.Loaded(ctx, m.Batch, e)
			if err != nil {
				return err
			}
			if loaded {
				log.Info("already loaded before the interruption", "table", e.Name)
				c.AddLedger(e.Name, l)
				p.markLoaded(m, e.Name)
				continue
			}
			need[e.Name] = true
		}
	}

	if err := objstore.CheckKeyElement(m.Batch); err != nil {
		return fmt.Errorf("batch %q: %w", m.Batch, err)
	}
	workDir := filepath.Join(p.opts.WorkDir, m.Batch)
	defer os.RemoveAll(workDir)
	var sources []transform.Source
	var bytes int64
	for _, f := range m.Files {
		if f.State != fileClaimed {
			continue
		}
		needed := false
		for _, e := range fileEntities(&f) {
			needed = needed || need[e.Name]
		}
		if !needed {
			continue
		}
		in, err := grpipe.InputForFile(f.Name)
		if err != nil {
			return fmt.Errorf("batch %s: %w", m.Batch, err)
		}
		sources = append(sources, transform.Source{Entity: in.Entity, Input: in, Name: f.Name})
		bytes += f.Size
	}
	if len(sources) == 0 {
		return p.cleanupBatch(ctx, m, log)
	}
	fan := p.fanOut(sources)
	if !fan {
		// Transformed here: the files must be local. (A batch that fans out
		// leaves that to each mapped instance, for its own file.)
		for i := range sources {
			local, cleanup, err := p.zones.Fetch(ctx, workingKey(m.Batch, sources[i].Name), filepath.Join(workDir, "fetch"))
			if err != nil {
				return err
			}
			defer cleanup()
			sources[i].Path = local
		}
	}

	t0 := time.Now()
	p.started("transform", bytes)
	var res *transform.Result
	var err error
	if fan {
		res, err = p.fanTransform(ctx, c, m, sources, workDir)
	} else {
		res, err = p.transformHere(ctx, sources, workDir, log)
	}
	if err != nil {
		return err
	}
	if err := p.publish(ctx, m.Batch, res); err != nil {
		return err
	}
	// On local zones, stage from the published copies: they outlive the
	// working files (a warehouse may stage by reading them in place).
	for name, er := range res.Entities {
		if lp, ok := p.zones.LocalPath(processedKey(m.Batch, name)); ok && er.Parquet != "" {
			er.Parquet = lp
		}
		if lp, ok := p.zones.LocalPath(rejectedKey(m.Batch, name)); ok && er.Rejects != "" {
			er.Rejects = lp
		}
	}
	p.crashPoint("transform")
	var rows int64
	for _, er := range res.Entities {
		rows += er.Read
	}
	p.ended(c, "transform", grpipe.StageTiming{Stage: "transform", Seconds: time.Since(t0).Seconds(), Bytes: res.Bytes, Rows: rows})

	// Hold refused files before any load commits, so that a resumed batch
	// never mistakes them for loaded.
	var refused []error
	for _, fe := range res.FileErrors {
		for i := range m.Files {
			if m.Files[i].Name == fe.Source {
				m.Files[i].State, m.Files[i].Reason = fileHeld, fe.Reason
			}
		}
		refused = append(refused, fmt.Errorf("%w (it stays in %s)", fe, path.Join(string(grpipe.Working), m.Batch)))
	}
	if len(refused) > 0 {
		if err := p.writeManifest(ctx, m); err != nil {
			return err
		}
	}

	for _, e := range grpipe.Entities() {
		if !need[e.Name] {
			continue
		}
		er := res.Entities[e.Name]
		if er == nil { // no rows: every file of the entity was refused, or its files yield none
			p.markLoaded(m, e.Name)
			continue
		}
		ledger := grpipe.Ledger{Read: er.Read, Rejected: er.Rejected, Superseded: er.Superseded, Staged: er.Staged}
		t1 := time.Now()
		p.started("stage "+e.Name, 0)
		if err := p.wh.Stage(ctx, e, er.Parquet, er.Rejects, ledger); err != nil {
			return err
		}
		keys := res.SourceKeys[e.Name]
		if keys != "" {
			if err := p.wh.StageSourceKeys(ctx, keys); err != nil {
				return err
			}
		}
		p.ended(c, "stage "+e.Name, grpipe.StageTiming{Stage: "stage", Seconds: time.Since(t1).Seconds(), Rows: er.Staged})
		p.crashPoint("stage")
		t2 := time.Now()
		p.started("upsert "+e.Name, 0)
		if keys != "" {
			ledger, err = p.wh.UpsertWithKeys(ctx, m.Batch, e, ledger)
		} else {
			ledger, err = p.wh.Upsert(ctx, m.Batch, e, ledger)
		}
		if err != nil {
			return err
		}
		p.ended(c, "upsert "+e.Name, grpipe.StageTiming{Stage: "upsert", Seconds: time.Since(t2).Seconds(), Rows: er.Staged})
		p.crashPoint("upsert")
		c.AddLedger(e.Name, ledger)
		p.markLoaded(m, e.Name)
	}
	p.crashPoint("cleanup")
	if err := p.cleanupBatch(ctx, m, log); err != nil {
		return err
	}
	if err := p.pruneProcessed(ctx, m.Batch, log); err != nil {
		return err
	}
	if len(refused) > 0 {
		return errors.Join(refused...)
	}
	return nil
}

// pruneProcessed deletes the processed Parquet of all but the newest
// ProcessedRetention batches (by time written); the current batch is always kept.
func (p *Pipeline) pruneProcessed(ctx context.Context, current string, log *slog.Logger) error {
	keep := p.opts.ProcessedRetention
	if keep <= 0 {
		return nil
	}
	objs, err := p.zones.List(ctx, string(grpipe.Processed)+"/")
	if err != nil {
		return err
	}
	newest := map[string]time.Time{}
	for _, o := range objs {
		parts := strings.SplitN(o.Key, "/", 3)
		if len(parts) < 3 {
			continue
		}
		if t, ok := newest[parts[1]]; !ok || o.ModTime.After(t) {
			newest[parts[1]] = o.ModTime
		}
	}
	batches := make([]string, 0, len(newest))
	for b := range newest {
		if b != current {
			batches = append(batches, b)
		}
	}
	sort.Slice(batches, func(i, j int) bool {
		if !newest[batches[i]].Equal(newest[batches[j]]) {
			return newest[batches[i]].After(newest[batches[j]])
		}
		return batches[i] > batches[j]
	})
	for i, b := range batches {
		if i < keep-1 {
			continue
		}
		if err := p.zones.DeletePrefix(ctx, objstore.Key(grpipe.Processed, b)+"/"); err != nil {
			return err
		}
		log.Info("processed batch removed (processed_retention)", "batch", b)
	}
	return nil
}

// markLoaded records that entity's rows of the batch are committed: a
// claimed file is loaded once every entity it yields rows of is.
func (p *Pipeline) markLoaded(m *Manifest, entity string) {
	if m.loaded == nil {
		m.loaded = map[string]bool{}
	}
	m.loaded[entity] = true
	for i := range m.Files {
		f := &m.Files[i]
		if f.State != fileClaimed {
			continue
		}
		all := true
		for _, e := range fileEntities(f) {
			all = all && m.loaded[e.Name]
		}
		if all {
			f.State = fileLoaded
		}
	}
}

// fileEntities lists the entities a claimed file yields rows of (its
// recorded entity for a name no longer accepted).
func fileEntities(f *ManifestFile) []grpipe.Entity {
	if in, err := grpipe.InputForFile(f.Name); err == nil {
		return in.Entities
	}
	e, _ := grpipe.EntityByName(f.Entity)
	return []grpipe.Entity{e}
}

// cleanupBatch removes the working copies of loaded files, and the batch's
// working folder when nothing in it is held.
func (p *Pipeline) cleanupBatch(ctx context.Context, m *Manifest, log *slog.Logger) error {
	held := false
	for _, f := range m.Files {
		switch f.State {
		case fileLoaded:
			if err := p.zones.Delete(ctx, workingKey(m.Batch, f.Name)); err != nil {
				return err
			}
		case fileHeld, fileClaimed, fileClaiming:
			held = true
		}
	}
	if held {
		return p.writeManifest(ctx, m)
	}
	log.Info("batch done: working folder removed")
	return p.zones.DeletePrefix(ctx, objstore.Key(grpipe.Working, m.Batch)+"/")
}

// publish uploads the batch's Parquet to processed/<batch>/<entity>/ and its
// rejected rows to quarantine/<batch>/.
func (p *Pipeline) publish(ctx context.Context, batch string, res *transform.Result) error {
	for name, er := range res.Entities {
		if er.Parquet != "" {
			if _, err := p.zones.PutFile(ctx, processedKey(batch, name), er.Parquet); err != nil {
				return err
			}
		}
		if er.Rejects != "" {
			if _, err := p.zones.PutFile(ctx, rejectedKey(batch, name), er.Rejects); err != nil {
				return err
			}
		}
	}
	for source, local := range res.RejectFiles {
		if _, err := p.zones.PutFile(ctx, quarantine.Key(batch, source), local); err != nil {
			return err
		}
	}
	return nil
}

// processedKey is the object of entity's staged rows of batch.
func processedKey(batch, entity string) string {
	return objstore.Key(grpipe.Processed, batch, entity, "part-0.parquet")
}

// rejectedKey is the object of entity's rejected rows of batch.
func rejectedKey(batch, entity string) string { return quarantine.ParquetKey(batch, entity) }

// transformHere transforms the sources in this process.
func (p *Pipeline) transformHere(ctx context.Context, sources []transform.Source, workDir string, log *slog.Logger) (*transform.Result, error) {
	engine, err := duckdb.Open(ctx, "", p.opts.Transform)
	if err != nil {
		return nil, fmt.Errorf("transform engine: %w", err)
	}
	defer engine.Close()
	return transform.Run(ctx, engine, sources, transform.Options{
		WorkDir: filepath.Join(workDir, "out"), MaxRejectRatio: p.opts.MaxRejectRatio, Parallelism: p.opts.Parallelism, Compression: p.opts.Compression,
		Snapshot: p.opts.Snapshot, Log: log, Progress: p.advanced(), CSVMemoryLimit: p.opts.TransformCSVMemoryLimit,
	})
}
