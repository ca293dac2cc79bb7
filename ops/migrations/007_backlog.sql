-- Engineering backlog: items (unique by dedupe_key) and their events (cascade-deleted with the item).
-- Idempotent (IF NOT EXISTS throughout): running it twice changes nothing.
CREATE TABLE IF NOT EXISTS backlog_items (
  id           text PRIMARY KEY,
  -- <prefix>:YYYY-WW:<env>:<service>:<category> for generated items: a second run in the same
  -- week finds the item instead of adding one.
  dedupe_key   text NOT NULL CONSTRAINT backlog_items_dedupe_key_key UNIQUE,
  env          text NOT NULL CONSTRAINT backlog_items_env_check CHECK (env IN ('dev', 'staging', 'prod')),
  service      text NOT NULL,
  category     text NOT NULL,
  title        text NOT NULL,
  description  text NOT NULL DEFAULT '',
  priority     text NOT NULL CONSTRAINT backlog_items_priority_check CHECK (priority IN ('P0', 'P1', 'P2', 'P3')),
  status       text NOT NULL CONSTRAINT backlog_items_status_check CHECK (status IN ('open', 'in_progress', 'blocked', 'done', 'canceled')),
  owner        text NOT NULL,
  due_date     date NOT NULL,
  source       text NOT NULL,
  meta         jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_by   text NOT NULL,
  created_at   timestamptz NOT NULL,
  updated_at   timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS backlog_items_env_status_idx ON backlog_items (env, status);
CREATE INDEX IF NOT EXISTS backlog_items_service_idx ON backlog_items (service);
CREATE INDEX IF NOT EXISTS backlog_items_due_date_idx ON backlog_items (due_date);
CREATE INDEX IF NOT EXISTS backlog_items_owner_idx ON backlog_items (owner);
CREATE INDEX IF NOT EXISTS backlog_items_category_idx ON backlog_items (category);

-- seq keeps insertion order among events of the same ts.
CREATE TABLE IF NOT EXISTS backlog_events (
  seq      bigint GENERATED ALWAYS AS IDENTITY,
  id       text PRIMARY KEY,
  item_id  text NOT NULL REFERENCES backlog_items (id) ON DELETE CASCADE,
  ts       timestamptz NOT NULL,
  type     text NOT NULL CONSTRAINT backlog_events_type_check CHECK (type IN ('created', 'updated', 'status_change', 'comment')),
  message  text NOT NULL,
  actor    text NOT NULL,
  meta     jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX IF NOT EXISTS backlog_events_item_id_idx ON backlog_events (item_id);
CREATE INDEX IF NOT EXISTS backlog_events_ts_idx ON backlog_events (ts);
