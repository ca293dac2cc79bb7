-- The run ledger of the job runner (src/stores/jobs): append-only. job_runs holds each run's
-- header once; job_run_transitions one row per status change (the current status is the row with
-- the highest n); job_run_leases is the lock of a running run, deleted when it ends.
-- Idempotent (IF NOT EXISTS throughout): running it twice changes nothing.
CREATE TABLE IF NOT EXISTS job_runs (
  id text PRIMARY KEY,
  task_id text NOT NULL,
  trigger text NOT NULL CHECK (trigger IN ('schedule', 'manual')),
  slot timestamptz NOT NULL,
  key text NOT NULL UNIQUE,
  run_token text,
  tool text NOT NULL,
  action text NOT NULL,
  inputs jsonb NOT NULL DEFAULT '{}'::jsonb,
  inputs_hash text NOT NULL,
  dry_run boolean NOT NULL DEFAULT false,
  requested_by text NOT NULL,
  rerun_of text,
  created_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS job_runs_created_idx ON job_runs (created_at DESC, id);
CREATE INDEX IF NOT EXISTS job_runs_task_slot_idx ON job_runs (task_id, slot DESC);

CREATE TABLE IF NOT EXISTS job_run_transitions (
  run_id text NOT NULL REFERENCES job_runs (id) ON DELETE CASCADE,
  n integer NOT NULL CHECK (n >= 1),
  status text NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'canceled', 'skipped')),
  at timestamptz NOT NULL,
  reason text,
  error_code text,
  error_message text,
  outputs jsonb,
  node_id text,
  PRIMARY KEY (run_id, n)
);

CREATE TABLE IF NOT EXISTS job_run_leases (
  run_id text PRIMARY KEY REFERENCES job_runs (id) ON DELETE CASCADE,
  task_id text NOT NULL,
  holder text NOT NULL,
  lease_until timestamptz NOT NULL,
  cancel_requested_at timestamptz
);
CREATE INDEX IF NOT EXISTS job_run_leases_task_idx ON job_run_leases (task_id, lease_until);
