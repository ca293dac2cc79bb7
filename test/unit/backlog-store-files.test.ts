/**
 * The backlog's JSONL file (reopen, torn last line, cleanup rewriting the file without the purged
 * items) and the factory: BACKLOG_BACKEND, memory refused in prod, auto falling back to JSONL.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { appendFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { BacklogPolicy } from "../../src/config/backlog-policy.js";
import { loadEnv } from "../../src/config/env.js";
import { ConfigError } from "../../src/config/errors.js";
import { createBacklogStore } from "../../src/stores/factory.js";
import { JsonlBacklogStore } from "../../src/stores/backlog/jsonl.js";
import type { BacklogUpsert } from "../../src/backlog/store.js";
import { captureLogger } from "../harness/logs.js";
import { tmpDir } from "./incident-fixtures.js";

const T0 = new Date("2026-03-10T12:00:00.000Z");
const transitions = BacklogPolicy.parse({}).workflow.transitions;
const input = (key: string): BacklogUpsert => ({ dedupe_key: key, env: "prod", service: "svc", category: "incidents", title: key, priority: "P2", owner: "oncall", due_date: "2026-03-20", source: "digest" });
const lines = (path: string) => readFileSync(path, "utf8").split("\n").filter(Boolean);

async function open(path: string, logger = captureLogger().logger) {
  const s = new JsonlBacklogStore({ path, logger });
  await s.init();
  return s;
}

test("items and events survive reopen and a torn last line; cleanup rewrites the file without the purged items", async () => {
  const path = join(tmpDir("backlog"), "backlog.jsonl");
  const a = await open(path);
  const [keep, gone] = await a.upsert([input("keep"), input("gone")], "x", T0);
  await a.setStatus(gone!.item.id, "canceled", { by: "x", transitions }, T0);
  await a.addComment(keep!.item.id, { by: "x", message: "hello" }, T0);
  const before = await a.exportRows();
  await a.close();
  appendFileSync(path, '{"kind":"item","data":{"id":"bl_torn","dedu'); // kill -9 mid-write

  const cap = captureLogger();
  const b = await open(path, cap.logger);
  assert.equal(await b.exportRows(), before);
  assert.match(cap.text(), /torn last line/);
  assert.equal(await b.purge(["canceled"], new Date(T0.getTime() + 1).toISOString()), [gone!.item.id]);
  const text = readFileSync(path, "utf8");
  assert.not.match(text, new RegExp(gone!.item.id));
  assert.not.match(text, /bl_torn/);
  assert.is(lines(path).length, 3, "keep: item + created + comment");
  await b.close();
  const c = await open(path);
  assert.equal((await c.list({})).map((i) => i.dedupe_key), ["keep"]);
  assert.equal((await c.events(keep!.item.id)).map((e) => e.type), ["created", "comment"]);
  await c.close();
});

test("factory: BACKLOG_BACKEND picks the backend, memory is refused in prod, auto without Postgres runs on JSONL and says so", async () => {
  const dataDir = tmpDir("backlog-factory");
  const opts = (vars: Record<string, string>, opsEnv: "dev" | "prod" = "dev") => {
    const cap = captureLogger();
    return { cap, o: { env: loadEnv(vars).stores.backlog, opsEnv, dataDir, logger: cap.logger, retryIntervalMs: 60_000 } };
  };
  const j = opts({ BACKLOG_BACKEND: "jsonl" });
  const jsonl = await createBacklogStore(j.o);
  assert.is(jsonl.backendName, "JsonlBacklogStore");
  assert.match(j.cap.text(), /backlog_store: using JsonlBacklogStore/);
  await jsonl.close();
  const m = opts({ BACKLOG_BACKEND: "memory" }, "prod");
  const refused = await createBacklogStore(m.o).then(() => undefined, (e: unknown) => e);
  assert.instance(refused, ConfigError);
  assert.match(String((refused as Error).message), /BACKLOG_BACKEND=memory is refused when OPS_ENV=prod/);
  // Nothing listens on port 1: auto starts on its JSONL fallback.
  const a = opts({ BACKLOG_BACKEND: "auto", BACKLOG_DATABASE_URL: "postgres://postgres@127.0.0.1:1/none" });
  const auto = await createBacklogStore(a.o);
  assert.is(auto.backendName, "JsonlBacklogStore");
  assert.match(a.cap.text(), /backlog_store: PostgresBacklogStore unreachable at start/);
  await auto.upsert([input("during-outage")], "x", T0);
  assert.ok(readFileSync(join(dataDir, "fallback", "backlog", "backlog.jsonl"), "utf8").includes("during-outage"));
  await auto.close();
});

test.run();
