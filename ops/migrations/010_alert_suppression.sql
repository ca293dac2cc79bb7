-- Suppression: an alert silenced, inhibited or muted at ingest is stored with status 'suppressed'
-- and what held it back; it gets no work until the release sweep finds it no longer suppressed.
ALTER TABLE alerts DROP CONSTRAINT IF EXISTS alerts_status_check;
ALTER TABLE alerts ADD CONSTRAINT alerts_status_check CHECK (status IN ('new', 'processing', 'acked', 'failed', 'suppressed'));
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS suppression jsonb;
-- The release sweep reads the suppressed alerts that still fire: only those rows are indexed.
CREATE INDEX IF NOT EXISTS alerts_suppressed_idx ON alerts (last_seen_at) WHERE status = 'suppressed' AND resolved_at IS NULL;
