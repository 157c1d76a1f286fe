-- Several processes on several machines (executor: distributed): which
-- worker ran each try, what a try hands to the tasks after it (output, for
-- the run summary), whether its error is worth a retry (error_kind), the
-- instances of mapped tasks (one per landed file of the fanned-out
-- transform), and the workers with their heartbeats. The SQL is the subset
-- SQLite and PostgreSQL both accept. Times are RFC 3339 in UTC.
ALTER TABLE task_instances ADD COLUMN worker TEXT NOT NULL DEFAULT '';
ALTER TABLE task_instances ADD COLUMN output TEXT NOT NULL DEFAULT '';
ALTER TABLE task_instances ADD COLUMN error_kind TEXT NOT NULL DEFAULT '';

-- One row per try of one instance of a mapped task (Airflow's map_index);
-- the task's own tries stay in task_instances.
CREATE TABLE mapped_instances (
  run_id     TEXT NOT NULL REFERENCES dag_runs (run_id) ON DELETE CASCADE,
  task_id    TEXT NOT NULL,
  map_index  INTEGER NOT NULL,
  try_number INTEGER NOT NULL,
  label      TEXT NOT NULL DEFAULT '',   -- what the instance works on (a file, an entity)
  state      TEXT NOT NULL,
  queued_at  TEXT,
  started_at TEXT,
  ended_at   TEXT,
  error      TEXT NOT NULL DEFAULT '',
  error_kind TEXT NOT NULL DEFAULT '',
  log        TEXT NOT NULL DEFAULT '',
  worker     TEXT NOT NULL DEFAULT '',
  output     TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (run_id, task_id, map_index, try_number)
);

-- The grpipe worker processes: one row per worker name, kept after it stops.
CREATE TABLE workers (
  name        TEXT PRIMARY KEY,
  hostname    TEXT NOT NULL,
  pid         INTEGER NOT NULL,
  concurrency INTEGER NOT NULL,
  state       TEXT NOT NULL,             -- running, stopping, stopped
  started_at  TEXT NOT NULL,
  beat_at     TEXT NOT NULL,
  running     TEXT NOT NULL DEFAULT '',  -- the tries running at the last beat, one key a line
  tries_done  INTEGER NOT NULL DEFAULT 0
);
