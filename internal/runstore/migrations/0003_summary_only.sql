-- A run's ledger and check results live in its summary (dag_runs.summary),
-- which has always held them; the two tables that repeated them go.
DROP TABLE run_ledger;
DROP TABLE run_checks;
