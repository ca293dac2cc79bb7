/** createStores: every store of the context, and nothing left open when one of them cannot start. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import pg from "pg";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadEnv } from "../../src/config/env.js";
import { ConfigError } from "../../src/config/errors.js";
import { createLogger } from "../../src/log.js";
import { createStores } from "../../src/stores/factory.js";
import { createTestDatabase } from "../harness/postgres.js";
import { waitFor } from "../harness/wait.js";

const db = await createTestDatabase();
const dataDir = mkdtempSync(join(tmpdir(), "opsbus-stores-"));
test.after(async () => {
  await db.drop();
  rmSync(dataDir, { recursive: true, force: true });
});

const opts = { opsEnv: "dev" as const, dataDir, logger: createLogger({ level: "silent" }), retryIntervalMs: 60_000 };
const connections = async (): Promise<number> => {
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  const { rows } = await c.query<{ n: string }>("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE 'opsbus-%'", [db.name]);
  await c.end();
  return Number(rows[0]!.n);
};

test("every store starts on its configured backend and close() releases their pools", async () => {
  const env = loadEnv({ DATA_DIR: dataDir, DATABASE_URL: db.url, ALERT_BACKEND: "postgres", INCIDENT_BACKEND: "postgres", AUDIT_BACKEND: "jsonl", BACKLOG_BACKEND: "memory", JOB_BACKEND: "postgres", RISK_BACKEND: "jsonl" });
  const { stores, close } = await createStores(opts, env.stores);
  assert.equal(
    Object.fromEntries(Object.entries(stores).map(([k, s]) => [k, s.backendName])),
    { alerts: "PostgresAlertStore", audit: "JsonlAuditStore", incidents: "PostgresIncidentStore", backlog: "MemoryBacklogStore", jobs: "PostgresJobLedgerStore", risk: "JsonlRiskHistoryStore" },
  );
  assert.ok((await connections()) > 0);
  await close();
  await waitFor(async () => (await connections()) === 0, { message: "every pool ended" });
});

test("a store that cannot start closes the ones already open, then the error is thrown", async () => {
  // Alerts and incidents open on Postgres; the backlog (started after them) has no DSN for postgres.
  const env = loadEnv({ DATA_DIR: dataDir, ALERT_DATABASE_URL: db.url, INCIDENT_DATABASE_URL: db.url, ALERT_BACKEND: "postgres", INCIDENT_BACKEND: "postgres", AUDIT_BACKEND: "memory", BACKLOG_BACKEND: "postgres" });
  const err = await createStores(opts, env.stores).catch((e: unknown) => e);
  assert.instance(err, ConfigError);
  assert.match(String((err as Error).message), "BACKLOG_BACKEND=postgres needs");
  await waitFor(async () => (await connections()) === 0, { message: "the alert and incident pools ended" });
});

test.run();
