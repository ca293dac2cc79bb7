-- Incidents: records, timelines, artifact metadata, per-signature bridge state and graph runs.
-- Idempotent (IF NOT EXISTS throughout): running it twice changes nothing.
CREATE TABLE IF NOT EXISTS incidents (
  id              text PRIMARY KEY,
  service         text NOT NULL,
  env             text NOT NULL CONSTRAINT incidents_env_check CHECK (env IN ('dev', 'staging', 'prod')),
  severity        text NOT NULL CONSTRAINT incidents_severity_check CHECK (severity IN ('P0', 'P1', 'P2', 'P3')),
  title           text NOT NULL,
  status          text NOT NULL CONSTRAINT incidents_status_check CHECK (status IN ('open', 'mitigating', 'closed')),
  signature       text,
  -- = signature while this incident takes the signature's alerts; the unique index below is the
  -- guard against two open incidents for one signature, whatever the writers do.
  signature_key   text,
  started_at      timestamptz NOT NULL,
  created_at      timestamptz NOT NULL,
  updated_at      timestamptz NOT NULL,
  closed_at       timestamptz,
  resolution      text,
  created_by      text NOT NULL,
  alert_count     integer NOT NULL DEFAULT 0,
  last_alert_at   timestamptz,
  reopened_count  integer NOT NULL DEFAULT 0,
  labels          jsonb NOT NULL DEFAULT '{}'::jsonb
) WITH (fillfactor = 80); -- the bridge updates counters on every batch: room for HOT updates
CREATE UNIQUE INDEX IF NOT EXISTS incidents_signature_key_idx ON incidents (signature_key) WHERE signature_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS incidents_started_at_idx ON incidents (started_at);
CREATE INDEX IF NOT EXISTS incidents_service_env_idx ON incidents (service, env);
CREATE INDEX IF NOT EXISTS incidents_signature_idx ON incidents (signature);
CREATE INDEX IF NOT EXISTS incidents_status_idx ON incidents (status);

-- Timeline. seq keeps insertion order among events of the same ts.
CREATE TABLE IF NOT EXISTS incident_events (
  seq          bigint GENERATED ALWAYS AS IDENTITY,
  id           text PRIMARY KEY,
  incident_id  text NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
  ts           timestamptz NOT NULL,
  type         text NOT NULL CONSTRAINT incident_events_type_check CHECK (type IN (
                 'created', 'alert', 'note', 'followup', 'status_change', 'escalated', 'reopened',
                 'superseded', 'artifact', 'triage', 'postmortem')),
  message      text NOT NULL,
  author       text NOT NULL,
  meta         jsonb NOT NULL DEFAULT '{}'::jsonb,
  dedupe_key   text CONSTRAINT incident_events_dedupe_key_key UNIQUE
);
CREATE INDEX IF NOT EXISTS incident_events_incident_idx ON incident_events (incident_id, ts, seq);
CREATE INDEX IF NOT EXISTS incident_events_ts_idx ON incident_events (ts);
CREATE INDEX IF NOT EXISTS incident_events_type_idx ON incident_events (type);

CREATE TABLE IF NOT EXISTS incident_artifacts (
  incident_id  text NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
  name         text NOT NULL,
  format       text NOT NULL CONSTRAINT incident_artifacts_format_check CHECK (format IN ('json', 'md', 'txt')),
  path         text NOT NULL,
  bytes        bigint NOT NULL,
  sha256       text NOT NULL,
  created_at   timestamptz NOT NULL,
  created_by   text NOT NULL,
  run_id       text,
  PRIMARY KEY (incident_id, name)
);

-- The bridge's memory per signature. absorbAlerts locks these rows (sorted) for its batch.
CREATE TABLE IF NOT EXISTS incident_signature_state (
  signature         text PRIMARY KEY,
  open_incident_id  text,
  last_incident_id  text,
  last_alert_at     timestamptz,
  last_triage_at    timestamptz,
  updated_at        timestamptz NOT NULL
) WITH (fillfactor = 80);

CREATE TABLE IF NOT EXISTS graph_runs (
  id            text PRIMARY KEY,
  graph         text NOT NULL CONSTRAINT graph_runs_graph_check CHECK (graph IN ('incident_triage', 'postmortem_draft')),
  incident_id   text NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
  status        text NOT NULL CONSTRAINT graph_runs_status_check CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
  requested_by  text NOT NULL,
  "trigger"     text NOT NULL CONSTRAINT graph_runs_trigger_check CHECK ("trigger" IN ('auto', 'manual')),
  created_at    timestamptz NOT NULL,
  updated_at    timestamptz NOT NULL,
  started_at    timestamptz,
  finished_at   timestamptz,
  attempts      integer NOT NULL DEFAULT 0,
  error         text,
  artifacts     jsonb NOT NULL DEFAULT '[]'::jsonb
);
CREATE INDEX IF NOT EXISTS graph_runs_status_updated_idx ON graph_runs (status, updated_at);
CREATE INDEX IF NOT EXISTS graph_runs_incident_idx ON graph_runs (incident_id);
