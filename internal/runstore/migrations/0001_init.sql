-- Runs of the DAG, their task instances (one row per try), and each run's
-- ledger and check results. Times are RFC 3339 in UTC.
CREATE TABLE dag_runs (
  run_id              TEXT PRIMARY KEY,
  dag_id              TEXT NOT NULL,
  run_type            TEXT NOT NULL,           -- manual, scheduled, backfill
  state               TEXT NOT NULL,
  logical_date        TEXT,
  data_interval_start TEXT,
  data_interval_end   TEXT,
  queued_at           TEXT,
  started_at          TEXT,
  ended_at            TEXT,
  error               TEXT NOT NULL DEFAULT '',
  summary             TEXT NOT NULL DEFAULT '{}'  -- the run's JSON summary
);
CREATE INDEX dag_runs_started ON dag_runs (dag_id, started_at);

CREATE TABLE task_instances (
  run_id     TEXT NOT NULL REFERENCES dag_runs (run_id) ON DELETE CASCADE,
  task_id    TEXT NOT NULL,
  try_number INTEGER NOT NULL,
  state      TEXT NOT NULL,
  started_at TEXT,
  ended_at   TEXT,
  error      TEXT NOT NULL DEFAULT '',
  log        TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (run_id, task_id, try_number)
);

CREATE TABLE run_ledger (
  run_id     TEXT NOT NULL REFERENCES dag_runs (run_id) ON DELETE CASCADE,
  entity     TEXT NOT NULL,
  read_rows  INTEGER NOT NULL,
  rejected   INTEGER NOT NULL,
  superseded INTEGER NOT NULL,
  staged     INTEGER NOT NULL,
  inserted   INTEGER NOT NULL,
  updated    INTEGER NOT NULL,
  stale      INTEGER NOT NULL,
  PRIMARY KEY (run_id, entity)
);

CREATE TABLE run_checks (
  run_id     TEXT NOT NULL REFERENCES dag_runs (run_id) ON DELETE CASCADE,
  seq        INTEGER NOT NULL,
  name       TEXT NOT NULL,
  table_name TEXT NOT NULL,
  passed     INTEGER NOT NULL,
  detail     TEXT NOT NULL,
  PRIMARY KEY (run_id, seq)
);
