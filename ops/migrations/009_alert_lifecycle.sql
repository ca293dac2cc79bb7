-- The alert lifecycle: firing → resolved. ends_at: when the alert stops firing unless seen again
-- (the sender's endsAt, else the last sighting plus resolve_timeout_minutes); resolved_at: when it
-- was resolved (ends_at passed, or a resolve arrived), cleared by a new firing.
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS ends_at timestamptz;
ALTER TABLE alerts ADD COLUMN IF NOT EXISTS resolved_at timestamptz;
-- The resolve sweep reads unresolved alerts whose ends_at passed: only unresolved rows are indexed.
CREATE INDEX IF NOT EXISTS alerts_unresolved_ends_idx ON alerts (ends_at) WHERE resolved_at IS NULL AND ends_at IS NOT NULL;
