-- Acknowledgement: who is on an incident (no re-notifications while it holds), and its timeline
-- events. A reopen clears it. Idempotent: running it twice changes nothing.
ALTER TABLE incidents ADD COLUMN IF NOT EXISTS acknowledged_at timestamptz;
ALTER TABLE incidents ADD COLUMN IF NOT EXISTS acknowledged_by text;
ALTER TABLE incident_events DROP CONSTRAINT IF EXISTS incident_events_type_check;
ALTER TABLE incident_events ADD CONSTRAINT incident_events_type_check CHECK (type IN (
  'created', 'alert', 'note', 'followup', 'status_change', 'escalated', 'reopened',
  'superseded', 'artifact', 'triage', 'postmortem', 'acknowledged', 'unacknowledged'));
