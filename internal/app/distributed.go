package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	grpipe "github.com/grpipe/grpipe"
	"github.com/grpipe/grpipe/internal/config"
	"github.com/grpipe/grpipe/internal/dag"
	"github.com/grpipe/grpipe/internal/distributed"
	"github.com/grpipe/grpipe/internal/queue"
	"github.com/grpipe/grpipe/internal/runstore"
	"github.com/grpipe/grpipe/internal/worker"
)

// The wiring of executor: distributed: the scheduler's workspace puts tries
// on the queue (it opens no zones and no warehouse), workers run them, and
// schedulers elect a leader.

// distributedWorkspace gives each execution the distributed executor over
// the queue in the metadata database.
type distributedWorkspace struct {
	cfg   config.Config
	store *runstore.Store
	log   *slog.Logger
}

func (w distributedWorkspace) Open(ctx context.Context, _ grpipe.Run) (dag.Executor, func() error, error) {
	pool, err := openQueuePool(ctx, w.cfg)
	if err != nil {
		return nil, nil, err
	}
	q, err := queue.Open(pool, "", w.log)
	if err != nil {
		pool.Close()
		return nil, nil, err
	}
	x := distributed.New(w.store, q, distributed.Options{Log: w.log})
	return x, func() error {
		err := x.Close()
		pool.Close()
		return err
	}, nil
}

// openQueuePool opens a connection pool on the metadata database, with
// River's tables migrated.
func openQueuePool(ctx context.Context, cfg config.Config) (*pgxpool.Pool, error) {
	if !cfg.MetadataOnPostgres() {
		return nil, fmt.Errorf("%w: the distributed executor's queue lives in PostgreSQL metadata: set metadata to a postgres:// URL (env GRPIPE_METADATA, flag --metadata)", grpipe.ErrBadInput)
	}
	pool, err := pgxpool.New(ctx, cfg.Metadata)
	if err != nil {
		return nil, fmt.Errorf("metadata %s (setting metadata, env GRPIPE_METADATA): %w", config.Redact(cfg.Metadata), err)
	}
	if err := queue.Migrate(ctx, pool, ""); err != nil {
		pool.Close()
		return nil, fmt.Errorf("metadata %s: %w", config.Redact(cfg.Metadata), err)
	}
	return pool, nil
}

// WorkerOptions are the settings of one `grpipe worker` process.
type WorkerOptions struct {
	// Name identifies the worker (default host:pid).
	Name string
	// Concurrency is how many tries it runs at once (0: 1).
	Concurrency int
}

// RunWorker runs a worker until ctx ends: it opens the zones and the
// warehouse cfg names, and runs the tries the schedulers put on the queue
// with the pipeline's work. It needs the shared settings of executor:
// distributed (cfg.Validate refuses others).
func RunWorker(ctx context.Context, cfg config.Config, wo WorkerOptions, log *slog.Logger, options ...Option) error {
	if wo.Concurrency < 1 || wo.Concurrency > 1024 {
		return fmt.Errorf("%w: --concurrency %d must be between 1 and 1024", grpipe.ErrBadInput, wo.Concurrency)
	}
	if cfg.Executor != config.ExecutorDistributed {
		return fmt.Errorf("%w: grpipe worker runs the tries of executor distributed: set executor: distributed (env GRPIPE_EXECUTOR) and the shared settings metadata, warehouse and zones", grpipe.ErrBadInput)
	}
	st, err := OpenStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	pool, err := openQueuePool(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	zones, err := OpenZones(ctx, cfg)
	if err != nil {
		return err
	}
	defer zones.Close()
	wh, err := OpenWarehouse(ctx, cfg, false, log)
	if err != nil {
		return err
	}
	defer wh.Close()
	// The ETL tries this worker runs fan their files out to all workers.
	mapper := &worker.Mapper{}
	o := collect(options)
	o.mapper = mapper
	p, err := newPipeline(cfg, o, zones, wh, log)
	if err != nil {
		return err
	}
	return worker.Run(ctx, st, pool, p.Executor(), worker.Options{Name: wo.Name, Concurrency: wo.Concurrency, Grace: cfg.Orchestrator.GracePeriod, Log: log,
		Parts: p.RunPart, Mapper: mapper})
}

// Lead runs lead while this process leads the schedulers of the metadata
// database (a PostgreSQL advisory lock, see queue.Elector): with several
// schedulers (high availability) one schedules, the others stand by and
// take over within seconds of its death. It returns when ctx ends.
func Lead(ctx context.Context, cfg config.Config, log *slog.Logger, lead func(ctx context.Context)) error {
	if !cfg.MetadataOnPostgres() {
		return errors.New("leader election needs PostgreSQL metadata")
	}
	pc, err := pgx.ParseConfig(cfg.Metadata)
	if err != nil {
		return fmt.Errorf("metadata %s (setting metadata, env GRPIPE_METADATA): %w", config.Redact(cfg.Metadata), err)
	}
	e := &queue.Elector{Config: pc, Key: queue.SchedulerLockKey, Log: log}
	return e.Run(ctx, lead)
}
