import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "../../src/config/errors.js";
import { createAlertStore } from "../../src/stores/factory.js";
import { captureLogger } from "../harness/logs.js";

test("auto with an unreachable Postgres falls back to JSONL, says so, and never logs the DSN password", async () => {
  const dataDir = mkdtempSync(join(tmpdir(), "factory-"));
  const logs = captureLogger("debug");
  const store = await createAlertStore({
    env: { backend: "auto", databaseUrl: "postgres://opsbus:s3cr3t-pw@127.0.0.1:1/opsbus" },
    opsEnv: "dev",
    dataDir,
    logger: logs.logger,
    retryIntervalMs: 60_000,
  });
  try {
    assert.is(store.backendName, "JsonlAlertStore");
    assert.ok(logs.lines().some((l) => l.msg === "alert_store: using JsonlAlertStore"), logs.text());
    assert.not.match(logs.text(), "s3cr3t-pw");
    assert.match(logs.text(), "opsbus:***@127.0.0.1:1");
  } finally {
    await store.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test("memory is refused in prod, and postgres without a DSN names the variables to set", async () => {
  const base = { opsEnv: "prod" as const, dataDir: tmpdir(), logger: captureLogger().logger, retryIntervalMs: 1000 };
  const memory = await createAlertStore({ ...base, env: { backend: "memory", databaseUrl: undefined } }).catch((e: unknown) => e);
  assert.ok(memory instanceof ConfigError, String(memory));
  assert.match((memory as Error).message, /memory/);
  const pg = await createAlertStore({ ...base, env: { backend: "postgres", databaseUrl: undefined } }).catch((e: unknown) => e);
  assert.ok(pg instanceof ConfigError);
  assert.match((pg as Error).message, /ALERT_DATABASE_URL/);
});

test("a pool error logs the error, not the pg client it carries (connection parameters, password)", () => {
  const logs = captureLogger("debug");
  const err = Object.assign(new Error("terminating connection due to administrator command"), {
    code: "57P01",
    client: { connectionParameters: { user: "opsbus", password: "s3cr3t-pw", database: "opsbus" } },
  });
  logs.logger.warn({ err }, "postgres: idle connection lost");
  const line = logs.lines().find((l) => l.msg === "postgres: idle connection lost") as { err: Record<string, unknown> };
  assert.is(line.err.code, "57P01");
  assert.is(line.err.client, undefined);
  assert.not.match(logs.text(), "s3cr3t-pw");
});

test.run();
