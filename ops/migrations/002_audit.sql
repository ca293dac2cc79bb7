-- Audit log of every tool call: append only, queried by time, agent and tool/action.
CREATE TABLE IF NOT EXISTS audit_log (
  id             text PRIMARY KEY,
  ts             timestamptz NOT NULL,
  agent_id       text NOT NULL,
  role           text NOT NULL,
  tool           text NOT NULL,
  action         text NOT NULL,
  decision       text NOT NULL CONSTRAINT audit_log_decision_check CHECK (decision IN ('allow', 'deny')),
  status         text NOT NULL,
  duration_ms    double precision NOT NULL DEFAULT 0,
  params         jsonb NOT NULL DEFAULT '{}'::jsonb,
  error_message  text,
  channel        text NOT NULL,
  node_id        text NOT NULL,
  request_id     text
);
CREATE INDEX IF NOT EXISTS audit_log_ts_idx ON audit_log (ts);
CREATE INDEX IF NOT EXISTS audit_log_agent_id_idx ON audit_log (agent_id);
CREATE INDEX IF NOT EXISTS audit_log_tool_action_idx ON audit_log (tool, action);
