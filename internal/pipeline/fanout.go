package pipeline

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/dag"
	"github.com/grpipe/grpipe/internal/duckdb"
	"github.com/grpipe/grpipe/internal/objstore"
	"github.com/grpipe/grpipe/internal/quarantine"
	"github.com/grpipe/grpipe/internal/transform"
)

// The transform that fans out per file (executor distributed): each claimed
// file of a batch is transformed on its own, as a mapped instance of
// GoodReadsETLJob that any worker may run, its Parquet part (one row per id,
// the file's own winners) and rejected rows written under
// processed/<batch>/_parts/; the ETL's own try then reduces the parts of
// each entity to the winner per id across files (transform.Reduce: the
// greatest timestamp, then the later file) and loads as ever.

// Part is one file of a batch to transform on its own.
type Part struct {
	Batch string `json:"batch"`
	File  string `json:"file"`
}

// PartOutput is what the transform of one part left in the zones.
type PartOutput struct {
	Entity   string `json:"entity"`
	Read     int64  `json:"read"`
	Rejected int64  `json:"rejected"`
	Bytes    int64  `json:"bytes"`
	// Parquet and Rejects are zone keys ("" when there are none).
	Parquet string `json:"parquet,omitempty"`
	Rejects string `json:"rejects,omitempty"`
	// Refused is why the file was refused whole ("" when it was not).
	Refused string `json:"refused,omitempty"`
}

// Mapper runs parts as mapped instances of the ETL's current try, wherever
// they run, and returns their outputs in order.
type Mapper interface {
	Map(ctx context.Context, c *dag.Call, parts []Part) ([]PartOutput, error)
}

// fanOut reports whether the batch's sources are transformed per file: a
// mapper is set and every source is one entity's CSV file.
func (p *Pipeline) fanOut(sources []transform.Source) bool {
	if p.opts.Mapper == nil || len(sources) < 2 {
		return false
	}
	for _, s := range sources {
		if s.Input.Format != grpipe.FormatCSV {
			return false
		}
	}
	return true
}

// partCompression is the codec of a part's Parquet: parts are intermediate,
// written once and read once by the reduce, which writes the processed
// zone's Parquet with the parquet_compression setting; a cheap codec spares
// each row a zstd encoding and decoding (BENCHMARKS.md, issue 11).
const partCompression = grpipe.LZ4Raw

func partKey(batch, file, name string) string {
	return objstore.Key(grpipe.Processed, batch, "_parts", file, name)
}

// TransformPart is the work of one mapped instance: fetch the file from the
// working zone, transform it alone and put its part into the processed zone.
// Running it again writes the same objects.
func (p *Pipeline) TransformPart(ctx context.Context, part Part, log *slog.Logger) (PartOutput, error) {
	in, err := grpipe.InputForFile(part.File)
	if err != nil {
		return PartOutput{}, err
	}
	out := PartOutput{Entity: in.Entity.Name}
	dir, err := os.MkdirTemp(p.opts.WorkDir, "part-")
	if err != nil && os.MkdirAll(p.opts.WorkDir, 0o755) == nil {
		dir, err = os.MkdirTemp(p.opts.WorkDir, "part-")
	}
	if err != nil {
		return out, fmt.Errorf("part %s: %w", part.File, err)
	}
	defer os.RemoveAll(dir)
	local, cleanup, err := p.zones.Fetch(ctx, workingKey(part.Batch, part.File), filepath.Join(dir, "fetch"))
	if err != nil {
		return out, err
	}
	defer cleanup()
	engine, err := duckdb.Open(ctx, "", p.opts.Transform)
	if err != nil {
		return out, fmt.Errorf("transform engine: %w", err)
	}
	defer engine.Close()
	res, err := transform.Run(ctx, engine, []transform.Source{{Entity: in.Entity, Input: in, Name: part.File, Path: local}},
		transform.Options{WorkDir: filepath.Join(dir, "out"), MaxRejectRatio: p.opts.MaxRejectRatio, Parallelism: p.opts.Parallelism, Compression: partCompression, Snapshot: p.opts.Snapshot, Log: log, CSVMemoryLimit: p.opts.TransformCSVMemoryLimit})
	if err != nil {
		return out, err
	}
	out.Bytes = res.Bytes
	for _, fe := range res.FileErrors {
		out.Refused = fe.Reason
	}
	if q := res.RejectFiles[part.File]; q != "" {
		if _, err := p.zones.PutFile(ctx, quarantine.Key(part.Batch, part.File), q); err != nil {
			return out, err
		}
	}
	if er := res.Entities[in.Entity.Name]; er != nil {
		out.Read, out.Rejected = er.Read, er.Rejected
		if er.Parquet != "" {
			out.Parquet = partKey(part.Batch, part.File, in.Entity.Name+".parquet")
			if _, err := p.zones.PutFile(ctx, out.Parquet, er.Parquet); err != nil {
				return out, err
			}
		}
		if er.Rejects != "" {
			out.Rejects = partKey(part.Batch, part.File, "rejects.parquet")
			if _, err := p.zones.PutFile(ctx, out.Rejects, er.Rejects); err != nil {
				return out, err
			}
		}
	}
	log.Info("part transformed", "file", part.File, "read", out.Read, "rejected", out.Rejected)
	return out, nil
}

// RunPart runs a part from its JSON (a worker's mapped instance) and returns its output as JSON.
func (p *Pipeline) RunPart(ctx context.Context, part json.RawMessage, log *slog.Logger) ([]byte, error) {
	var pt Part
	if err := json.Unmarshal(part, &pt); err != nil {
		return nil, fmt.Errorf("part: %w", err)
	}
	out, err := p.TransformPart(ctx, pt, log)
	if err != nil {
		return nil, err
	}
	return json.Marshal(out)
}

// fanTransform is transform.Run over the sources of a batch, the files
// transformed as mapped instances and their parts reduced here, entity by
// entity, once every part is done. (Reducing an entity as soon as its own
// parts were done, beside the later entities' parts, was tried: on the
// 2-core machine the reduce only took cores from the parts, and the
// transform stage was longer; BENCHMARKS.md, issue 11.)
func (p *Pipeline) fanTransform(ctx context.Context, c *dag.Call, m *Manifest, sources []transform.Source, workDir string) (*transform.Result, error) {
	parts := make([]Part, len(sources))
	for i, s := range sources {
		parts[i] = Part{Batch: m.Batch, File: s.Name}
	}
	outs, err := p.opts.Mapper.Map(ctx, c, parts)
	if err != nil {
		return nil, err
	}
	engine, err := duckdb.Open(ctx, "", p.opts.Transform)
	if err != nil {
		return nil, fmt.Errorf("transform engine: %w", err)
	}
	defer engine.Close()
	if err := os.MkdirAll(filepath.Join(workDir, "out"), 0o755); err != nil {
		return nil, err
	}
	res := &transform.Result{Entities: map[string]*transform.EntityResult{}, RejectFiles: map[string]string{}}
	for i, o := range outs {
		res.Bytes += o.Bytes
		if o.Refused != "" {
			res.FileErrors = append(res.FileErrors, &transform.FileError{Source: sources[i].Name, Reason: o.Refused})
		}
	}
	for _, e := range grpipe.Entities() {
		var eouts []PartOutput
		for i, s := range sources {
			if s.Entity.Name == e.Name {
				eouts = append(eouts, outs[i])
			}
		}
		if len(eouts) == 0 {
			continue
		}
		er, err := p.reduceEntity(ctx, c, engine, e, eouts, workDir)
		if err != nil {
			return nil, err
		}
		if er != nil {
			res.Entities[e.Name] = er
		}
	}
	return res, nil
}

// reduceEntity makes the result of entity e from its parts' outputs outs
// (in landing order): their ledgers summed, their Parquet fetched and
// reduced to the winner per id, their rejected rows gathered. It returns
// nil when every part of e was refused whole.
func (p *Pipeline) reduceEntity(ctx context.Context, c *dag.Call, engine *sql.DB, e grpipe.Entity, outs []PartOutput, workDir string) (*transform.EntityResult, error) {
	local, err := p.fetchParts(ctx, outs, filepath.Join(workDir, "parts"))
	if err != nil {
		return nil, err
	}
	var er *transform.EntityResult
	var pq, rj []string
	for _, o := range outs {
		if o.Refused != "" {
			continue
		}
		if er == nil {
			er = &transform.EntityResult{Entity: e}
		}
		er.Read += o.Read
		er.Rejected += o.Rejected
		if o.Parquet != "" {
			pq = append(pq, local[o.Parquet])
		}
		if o.Rejects != "" {
			rj = append(rj, local[o.Rejects])
		}
	}
	if er == nil {
		return nil, nil
	}
	t0 := time.Now()
	if len(pq) > 0 {
		er.Parquet = filepath.Join(workDir, "out", e.Name+".parquet")
		if er.Staged, err = transform.Reduce(ctx, engine, e, pq, er.Parquet, p.opts.Compression); err != nil {
			return nil, err
		}
		er.Superseded = er.Read - er.Rejected - er.Staged
	}
	if len(rj) > 0 {
		er.Rejects = filepath.Join(workDir, "out", e.Name+".rejects.parquet")
		if err := transform.Union(ctx, engine, rj, er.Rejects); err != nil {
			return nil, err
		}
	}
	c.Log.Info("reduced", "table", e.Name, "parts", len(pq), "read", er.Read, "rejected", er.Rejected, "staged", er.Staged, "seconds", time.Since(t0).Seconds())
	return er, nil
}

// partFetches is how many parts fetchParts downloads at once: a remote
// store's latency, not its bandwidth, bounds one download of a small object.
const partFetches = 4

// fetchParts makes the Parquet and rejected rows of the parts outs local
// files (in dir, for a remote store) and returns them by zone key; it
// downloads partFetches objects at once.
func (p *Pipeline) fetchParts(ctx context.Context, outs []PartOutput, dir string) (map[string]string, error) {
	var keys []string
	for _, o := range outs {
		if o.Refused != "" {
			continue
		}
		for _, k := range []string{o.Parquet, o.Rejects} {
			if k != "" {
				keys = append(keys, k)
			}
		}
	}
	local := make(map[string]string, len(keys))
	paths := make([]string, len(keys))
	errs := make([]error, len(keys))
	sem := make(chan struct{}, partFetches)
	var wg sync.WaitGroup
	for i, k := range keys {
		if lp, ok := p.zones.LocalPath(k); ok {
			paths[i] = lp
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			paths[i], _, errs[i] = p.zones.Fetch(ctx, k, dir)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for i, k := range keys {
		local[k] = paths[i]
	}
	return local, nil
}
