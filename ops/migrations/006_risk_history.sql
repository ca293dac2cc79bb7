-- Risk history: one snapshot of a service's risk score per (env, service, hour); never updated.
CREATE TABLE IF NOT EXISTS risk_history (
  id           text PRIMARY KEY,
  env          text NOT NULL,
  service      text NOT NULL,
  hour         timestamptz NOT NULL,
  ts           timestamptz NOT NULL,
  score        double precision NOT NULL CONSTRAINT risk_history_score_check CHECK (score >= 0),
  band         text NOT NULL CONSTRAINT risk_history_band_check CHECK (band IN ('low', 'medium', 'high', 'critical')),
  attribution  jsonb NOT NULL DEFAULT '[]'::jsonb,
  CONSTRAINT risk_history_hour_key UNIQUE (env, service, hour)
);
-- Series and latest-per-service reads; cleanup by hour.
CREATE INDEX IF NOT EXISTS risk_history_service_hour_idx ON risk_history (env, service, hour DESC);
CREATE INDEX IF NOT EXISTS risk_history_hour_idx ON risk_history (hour);
