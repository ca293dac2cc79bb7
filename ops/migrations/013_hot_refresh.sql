-- A refresh (Prometheus re-sends every firing alert each evaluation with a new endsAt) changed
-- the one indexed column a refresh touches, ends_at, so no refresh could be a HOT update: each one
-- wrote a new entry into every index of `alerts`. The resolve sweep now finds unresolved alerts
-- through an index of what a refresh leaves alone (the ref, only of unresolved rows) and checks
-- ends_at on the rows: it reads the firing alerts, not just the expired ones, every tick.
CREATE INDEX IF NOT EXISTS alerts_unresolved_idx ON alerts (alert_ref) WHERE resolved_at IS NULL;
DROP INDEX IF EXISTS alerts_unresolved_ends_idx;
