-- Suppression: an alert silenced, inhibited or muted at ingest is stored with status 'suppressed'
-- and what held it back; it gets no work until the release sweep finds it no longer suppressed.
ALTER TABLE alerts DROP CONSTRAINT IF EXISTS alerts_status_check;
ALTER TABLE alerts ADD CONSTRAINT alerts_status_check CHECK (status IN ('new', 'processing', 'acked', 'failed', 'suppressed'));
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS suppression jsonb;
-- The release sweep reads the suppressed alerts that still fire: only those rows are indexed. On
-- last_seen_hour, not last_seen_at: every count rewrites last_seen_at, and an index on it would make
-- no count update a HOT update (measured: a 1,000-row count update 46-70 ms instead of 15-17 ms).
CREATE INDEX IF NOT EXISTS alerts_suppressed_idx ON alerts (last_seen_hour) WHERE status = 'suppressed' AND resolved_at IS NULL;
