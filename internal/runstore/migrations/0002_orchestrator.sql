-- Orchestration: the kind of each task instance, the DAG's paused flag, the
-- scheduler's heartbeat, and an index for the run queue. Times are RFC 3339 in UTC.
ALTER TABLE task_instances ADD COLUMN kind TEXT NOT NULL DEFAULT '';

CREATE TABLE dag_state (
  dag_id     TEXT PRIMARY KEY,
  paused     INTEGER NOT NULL DEFAULT 0,
  updated_at TEXT NOT NULL
);

-- One row: the live scheduler (or the last one), updated every few seconds.
CREATE TABLE scheduler_heartbeat (
  id         INTEGER PRIMARY KEY CHECK (id = 1),
  pid        INTEGER NOT NULL,
  hostname   TEXT NOT NULL,
  schedule   TEXT NOT NULL,
  state      TEXT NOT NULL,             -- running, stopping, stopped
  started_at TEXT NOT NULL,
  beat_at    TEXT NOT NULL
);

CREATE INDEX dag_runs_queue ON dag_runs (state, logical_date);
