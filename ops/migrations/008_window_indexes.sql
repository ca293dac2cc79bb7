-- Indexed window reads for the bridge, graph runs, monitor status and the work reaper, so their
-- cost follows the batch or the window, never every incident or alert (issue 11, finding 8).
-- Correlation and recurrence read one service's or one signature's incidents over a window,
-- newest first: a backward scan of these stops at the LIMIT instead of sorting the key's rows.
CREATE INDEX IF NOT EXISTS incidents_service_started_idx ON incidents (service, started_at DESC, id COLLATE "C" DESC);
CREATE INDEX IF NOT EXISTS incidents_signature_started_idx ON incidents (signature, started_at DESC, id COLLATE "C" DESC)
  WHERE signature IS NOT NULL;
-- Superseded by the one above (same leading column).
DROP INDEX IF EXISTS incidents_signature_idx;
-- A time window alone (correlation's neighbourhood, newest first up to a page): in the list order,
-- so the LIMIT ends the scan instead of sorting every incident of the window.
CREATE INDEX IF NOT EXISTS incidents_started_id_idx ON incidents (started_at DESC, id COLLATE "C" DESC);
DROP INDEX IF EXISTS incidents_started_at_idx;
-- The work reaper reads claimed alerts whose lock lapsed: only rows in 'processing' are indexed,
-- so the index stays as small as the set of claims outstanding.
CREATE INDEX IF NOT EXISTS alerts_claimed_lock_idx ON alerts (lock_until) WHERE status = 'processing';
