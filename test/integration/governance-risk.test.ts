/**
 * risk_history_tool and architecture_pressure_tool through the gateway on a suite-owned nats-server
 * and a fresh Postgres database: scores from incidents and alerts made through the tools, snapshots
 * in Postgres (once per hour), the digest files, RBAC.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { existsSync, readFileSync } from "node:fs";
import pg from "pg";
import { formatIsoWeek, isoWeekOf } from "../../src/util/iso-week.js";
import type { ToolReply } from "../../src/subjects/index.js";
import { createTestDatabase } from "../harness/postgres.js";
import { startStack, testClock, type Stack } from "../harness/stack.js";

const db = await createTestDatabase();
const clock = testClock();
const s: Stack = await startStack({
  roles: ["gateway"],
  now: clock.now,
  env: { ALERT_BACKEND: "postgres", INCIDENT_BACKEND: "postgres", RISK_BACKEND: "postgres", DATABASE_URL: db.url },
});
const sql = new pg.Client({ connectionString: db.url });
await sql.connect();
test.after(async () => {
  await sql.end();
  await s.stop();
  await db.drop();
});

function ok<T>(r: ToolReply<T>): T {
  assert.ok(r.ok, JSON.stringify(r).slice(0, 500));
  return (r as { ok: true; result: T }).result;
}
type Snap = { hour: string; inserted: number; existing: number; snapshots: Array<{ service: string; score: number; stored: string }> };

test("snapshot → Postgres once per hour; get, digest files and the platform digest through the gateway", async () => {
  assert.is(s.running.ctx.stores.risk.backendName, "PostgresRiskHistoryStore");
  ok(await s.call("oncall_tool", "incident_create", { service: "checkout", severity: "P1", title: "checkout 5xx", env: "prod" }, { agent: "sofiia" }));
  ok(await s.call("alert_ingest_tool", "ingest", { service: "checkout", title: "availability SLO burn", kind: "slo_breach", severity: "high" }, { agent: "monitor" }));

  // checkout: open P1 → 25; one slo_breach alert → 5; 1 occurrence / 24 h × 2 = 0.083 → 0.08; 30.08 → medium
  const first = ok(await s.call<Snap>("risk_history_tool", "snapshot", {}, { agent: "scheduler" }));
  assert.equal(first.snapshots.map((x) => [x.service, x.score, x.stored]), [["checkout", 30.08, "inserted"]]);
  const again = ok(await s.call<Snap>("risk_history_tool", "snapshot", {}, { agent: "scheduler" }));
  assert.equal([again.hour, again.inserted, again.existing], [first.hour, 0, 1]);
  const rows = await sql.query("SELECT service, env, score, band, hour FROM risk_history");
  assert.equal(rows.rows.map((r) => [r.service, r.env, r.score, r.band, r.hour.toISOString()]), [["checkout", "prod", 30.08, "medium", first.hour]]);

  const got = ok(await s.call<{ scores: Array<{ score: number; band: string }> }>("risk_history_tool", "get", { service: "checkout" }, { agent: "aistalk" }));
  assert.equal(got.scores.map((x) => [x.score, x.band]), [[30.08, "medium"]]);
  const forbidden = await s.call("risk_history_tool", "snapshot", {}, { agent: "aistalk" });
  assert.is(!forbidden.ok && forbidden.error.code, "forbidden");

  const digest = ok(await s.call<{ files: { json: string; md: string }; services: Array<{ service: string }> }>("risk_history_tool", "digest", {}, { agent: "scheduler" }));
  assert.ok(digest.files.json.startsWith(`${s.dataDir}/reports/risk/`));
  assert.equal(JSON.parse(readFileSync(digest.files.json, "utf8")).services.map((x: { service: string }) => x.service), ["checkout"]);
  assert.ok(existsSync(digest.files.md));

  // The current week (the incident opened in it): 1×P1 → 5 points, low; dry_run first writes nothing.
  const week = formatIsoWeek(isoWeekOf(clock.now()));
  const dry = ok(await s.call<{ files: { json: string } }>("architecture_pressure_tool", "digest", { week, dry_run: true }, { agent: "scheduler" }));
  assert.not.ok(existsSync(dry.files.json));
  ok(await s.call("architecture_pressure_tool", "digest", { week }, { agent: "scheduler" }));
  const list = ok(await s.call<{ week: string; services: Array<{ service: string; score: number; band: string; categories: string[] }> }>(
    "architecture_pressure_tool", "list", {}, { agent: "helion" },
  ));
  assert.equal([list.week, list.services.map((x) => [x.service, x.score, x.band, x.categories])], [week, [["checkout", 5, "low", ["incidents"]]]]);

  // An hour later the next snapshot is a new row; cleanup keeps both (90-day retention).
  clock.advance(60);
  assert.is(ok(await s.call<Snap>("risk_history_tool", "snapshot", {}, { agent: "scheduler" })).inserted, 1);
  assert.is(ok(await s.call<{ deleted: number }>("risk_history_tool", "cleanup", {}, { agent: "scheduler" })).deleted, 0);
  assert.is((await sql.query("SELECT count(*)::int AS n FROM risk_history")).rows[0].n, 2);
});

test.run();
