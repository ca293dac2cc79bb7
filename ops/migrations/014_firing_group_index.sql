-- Inhibition reads, per new firing, the firing alerts of the target's env and service whose
-- severity and kind a rule's sources name. Through the last-seen window that read walked every
-- alert of the week and kept a handful: most of the Postgres work an ingest batch did besides its
-- own writes. This index holds only unresolved rows, keyed by what that read names and by what a
-- refresh never changes (a refresh stays a HOT update); severity leads, so a fresh table without
-- statistics is read through it too. It also serves the resolve sweep, which reads the unresolved
-- rows, so it replaces the index 013 made for that.
CREATE INDEX IF NOT EXISTS alerts_firing_group_idx ON alerts (severity, kind, env, service) WHERE resolved_at IS NULL;
DROP INDEX IF EXISTS alerts_unresolved_idx;
