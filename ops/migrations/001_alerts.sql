-- Alerts: one row per alert (a fingerprint's dedupe window), a per-fingerprint pointer that
-- serialises concurrent ingesters, and idempotency receipts (JetStream redeliveries).
CREATE TABLE IF NOT EXISTS alerts (
  alert_ref     text PRIMARY KEY,
  fingerprint   text NOT NULL,
  service       text NOT NULL,
  title         text NOT NULL,
  kind          text NOT NULL,
  severity      text NOT NULL CONSTRAINT alerts_severity_check CHECK (severity IN ('P0', 'P1', 'P2', 'P3')),
  env           text NOT NULL CONSTRAINT alerts_env_check CHECK (env IN ('dev', 'staging', 'prod')),
  source        text NOT NULL,
  message       text,
  labels        jsonb NOT NULL DEFAULT '{}'::jsonb,
  meta          jsonb NOT NULL DEFAULT '{}'::jsonb,
  starts_at     timestamptz NOT NULL,
  created_at    timestamptz NOT NULL,
  last_seen_at  timestamptz NOT NULL,
  dedupe_until  timestamptz NOT NULL,
  occurrences   integer NOT NULL DEFAULT 1 CONSTRAINT alerts_occurrences_check CHECK (occurrences >= 1),
  status        text NOT NULL DEFAULT 'new'
                CONSTRAINT alerts_status_check CHECK (status IN ('new', 'processing', 'acked', 'failed')),
  owner         text,
  lock_until    timestamptz,
  attempts      integer NOT NULL DEFAULT 0,
  last_error    text,
  retry_at      timestamptz,
  dead          boolean NOT NULL DEFAULT false,
  ack_note      text,
  acked_at      timestamptz,
  delivery      jsonb,
  -- last_seen_at to the hour (UTC), indexed instead of last_seen_at itself: counting an alert
  -- moves last_seen_at on every batch, and an indexed column that changes forbids HOT updates
  -- (which touch no index). This one changes once an hour per alert; window queries use both.
  last_seen_hour timestamp GENERATED ALWAYS AS (date_trunc('hour', last_seen_at AT TIME ZONE 'UTC')) STORED
) WITH (fillfactor = 80); -- room on each page for the new row versions of HOT updates
CREATE INDEX IF NOT EXISTS alerts_last_seen_hour_idx ON alerts (last_seen_hour);
CREATE INDEX IF NOT EXISTS alerts_status_idx ON alerts (status);
CREATE INDEX IF NOT EXISTS alerts_service_idx ON alerts (service);
CREATE INDEX IF NOT EXISTS alerts_fingerprint_idx ON alerts (fingerprint);

-- The alert currently holding each fingerprint. Ingest locks these rows (sorted) for its batch.
CREATE TABLE IF NOT EXISTS alert_fingerprints (
  fingerprint   text PRIMARY KEY,
  alert_ref     text,
  dedupe_until  timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS alert_fingerprints_alert_ref_idx ON alert_fingerprints (alert_ref);

-- One row per idempotency key; holds the first result so a replay answers the same.
CREATE TABLE IF NOT EXISTS alert_receipts (
  receipt_key   text PRIMARY KEY,
  alert_ref     text NOT NULL DEFAULT '',
  deduped       boolean NOT NULL DEFAULT false,
  occurrences   integer NOT NULL DEFAULT 0,
  created       boolean NOT NULL DEFAULT false,
  at            timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS alert_receipts_at_idx ON alert_receipts (at);
