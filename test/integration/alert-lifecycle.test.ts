/**
 * Batch messages and the alert lifecycle on a real nats-server and Postgres: a 256-alert batch
 * with 2 bad entries stores 254 once and rejects 2, a redelivered batch stores nothing twice; a
 * re-send of the same firing is not an occurrence, a resolve announces alert.resolved, a refire
 * counts and opens new work, and the sweep resolves an alert whose ends_at passed once; an
 * Alertmanager firing re-sent for longer than the dedupe window stays one alert.
 */
import pg from "pg";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { publishAlertBatch } from "../../src/alerts/batch.js";
import { processAlertBatch, type IngestHelpers } from "../../src/alerts/incoming.js";
import { ingestDeps } from "../../src/app/alerts-in.js";
import { createTestDatabase, type TestDatabase, testPool } from "../harness/postgres.js";
import { startStack, testClock, type Stack } from "../harness/stack.js";
import { ALERTMANAGER_VIA } from "../../src/subjects/index.js";
import { waitFor } from "../harness/wait.js";

let s: Stack;
let db: TestDatabase;
let sql: pg.Pool;
// Real time until the last test moves it on.
const clock = testClock();

test.before(async () => {
  db = await createTestDatabase();
  sql = testPool(db.url);
  s = await startStack({
    roles: ["gateway", "alerts-in"],
    env: { ALERT_BACKEND: "postgres", ALERT_DATABASE_URL: db.url },
    policies: { alertRouting: { alerts: { resolve_sweep_seconds: 1 } } },
    now: clock.now,
  });
});
test.after(async () => {
  await s?.stop();
  await sql?.end();
  await db?.drop();
});

const count = async (where: string, params: unknown[] = []) => Number((await sql.query(`SELECT count(*) AS n FROM alerts WHERE ${where}`, params)).rows[0].n);
const firing = (fp: string, over: Record<string, unknown> = {}) => ({ service: "checkout", title: `latency ${fp}`, kind: "latency", fingerprint: fp, ...over });

test("a batch of 256 with 2 bad entries: 254 stored once, 2 rejected; a redelivery stores nothing twice", async () => {
  const alerts: unknown[] = Array.from({ length: 256 }, (_, i) => firing(`batch-${i}`));
  alerts[17] = { service: "checkout", fingerprint: "no-title" };
  alerts[200] = firing("bad-severity", { severity: "sev9" });
  const ctx = s.running.ctx;
  const batch = { v: 1 as const, via: "alertmanager", received_at: new Date().toISOString(), alerts };
  const { stream_seq } = await publishAlertBatch(s.js, ctx.subjects, batch);
  await waitFor(async () => (await count("fingerprint LIKE 'batch-%'")) === 254, { timeoutMs: 30_000, message: "254 alerts stored" });
  const rejected = await waitFor(() => {
    const r = s.events("alert.rejected").filter((e) => e.data.stream_seq === stream_seq);
    return r.length === 2 ? r : null;
  }, { message: "2 alert.rejected events" });
  assert.ok(rejected.some((e) => String(e.data.raw).includes("no-title")));

  // The same delivery handled again (a redelivery after a lost ack): every entry replays.
  const info = await ctx.jsm.streams.info(ctx.subjects.alerts.stream);
  const helpers: IngestHelpers = { deps: ingestDeps(ctx), logger: ctx.logger, receiptPrefix: `${ctx.subjects.alerts.stream}@${Date.parse(info.created)}`, maxPayloadBytes: 65536 };
  const again = await processAlertBatch([{ subject: ctx.subjects.alerts.batch("alertmanager"), stream_seq, data: new TextEncoder().encode(JSON.stringify(batch)) }], helpers);
  assert.equal(again.settlements, [{ kind: "ack" }]);
  assert.ok(again.outcomes.every((o) => !o.accepted || o.replayed), "every stored entry replays its receipt");
  assert.is(await count("fingerprint LIKE 'batch-%'"), 254);
  assert.is(Number((await sql.query("SELECT sum(occurrences) AS n FROM alerts WHERE fingerprint LIKE 'batch-%'")).rows[0].n), 254);
});

test("re-send of the same firing → occurrences 1; resolve → alert.resolved; refire → occurrences 2 and new work", async () => {
  const starts = new Date(Date.now() - 60_000).toISOString();
  for (let i = 0; i < 3; i++) await s.publishAlert(firing("life-1", { starts_at: starts }));
  await waitFor(async () => (await sql.query("SELECT last_seen_at FROM alerts WHERE fingerprint = 'life-1'")).rowCount === 1, { message: "stored" });
  const settled = async () => {
    const c = await s.running.ctx.jsm.consumers.info(s.running.ctx.subjects.alerts.stream, s.running.ctx.subjects.alerts.ingestConsumer);
    return c.num_pending === 0 && c.num_ack_pending === 0;
  };
  await waitFor(settled, { message: "ingest settled" });
  const row = async () => (await sql.query("SELECT alert_ref, occurrences, resolved_at, ends_at FROM alerts WHERE fingerprint = 'life-1'")).rows;
  assert.is((await row()).length, 1);
  assert.is((await row())[0].occurrences, 1, "re-sends are not occurrences");
  const ref = (await row())[0].alert_ref as string;

  await s.publishAlert({ service: "checkout", fingerprint: "life-1", status: "resolved" });
  const resolved = await waitFor(() => s.events("alert.resolved").find((e) => e.data.alert_ref === ref) ?? null, { message: "alert.resolved" });
  assert.equal([resolved.data.reason, resolved.data.known], ["resolve", true]);
  assert.ok((await row())[0].resolved_at);

  await s.publishAlert({ service: "checkout", fingerprint: "nobody-knows", status: "resolved" });
  await waitFor(() => s.events("alert.resolved").some((e) => e.data.fingerprint === "nobody-knows" && e.data.known === false), { message: "unknown resolve recorded" });

  await s.publishAlert(firing("life-1", { starts_at: new Date().toISOString() }));
  await waitFor(async () => (await row())[0].occurrences === 2, { message: "refire counted" });
  assert.is((await row())[0].resolved_at, null);
  await waitFor(() => s.events("alert.accepted").filter((e) => e.data.alert_ref === ref).length === 2 || null, { message: "new work announced for the refire" });
  const work = await s.running.ctx.jsm.streams.info(s.running.ctx.subjects.alerts.workStream, { subjects_filter: s.running.ctx.subjects.alerts.work("checkout") });
  assert.ok((work.state.messages ?? 0) >= 1);
});

test("the sweep resolves an alert whose ends_at passed, once", async () => {
  await s.publishAlert(firing("sweep-1", { ends_at: new Date(Date.now() + 1500).toISOString() }));
  const ev = await waitFor(() => s.events("alert.resolved").find((e) => e.data.fingerprint === "sweep-1") ?? null, { timeoutMs: 15_000, message: "swept" });
  assert.is(ev.data.reason, "ends_at");
  await new Promise((r) => setTimeout(r, 2500)); // two more sweeps: nothing more to announce
  assert.is(s.events("alert.resolved").filter((e) => e.data.fingerprint === "sweep-1").length, 1);
  assert.is(await count("fingerprint = 'sweep-1' AND resolved_at IS NOT NULL"), 1);
});

test("sweeps racing (several gateways): every expired alert is resolved by exactly one of them", async () => {
  const ends = new Date(Date.now() + 1000).toISOString();
  const fps = Array.from({ length: 60 }, (_, i) => `race-${i}`);
  await publishAlertBatch(s.js, s.running.ctx.subjects, { v: 1, via: "test", received_at: new Date().toISOString(), alerts: fps.map((fp) => firing(fp, { ends_at: ends })) });
  await waitFor(async () => (await count("fingerprint LIKE 'race-%'")) === 60, { message: "60 stored" });
  await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(ends) - Date.now())));
  // This process's own sweep (every second) races four more sweeps on separate connections.
  const store = ingestDeps(s.running.ctx).store;
  const direct = (await Promise.all(Array.from({ length: 4 }, () => store.resolveExpired(new Date(), 500)))).flat().filter((a) => a.fingerprint.startsWith("race-"));
  await waitFor(async () => (await count("fingerprint LIKE 'race-%' AND resolved_at IS NOT NULL")) === 60, { message: "all resolved" });
  await new Promise((r) => setTimeout(r, 1500)); // one more sweep tick: nothing is announced twice
  const announced = s.events("alert.resolved").filter((e) => String(e.data.fingerprint).startsWith("race-")).map((e) => String(e.data.fingerprint));
  const all = [...direct.map((a) => a.fingerprint), ...announced].sort();
  assert.equal(all, [...fps].sort(), "each alert resolved by exactly one sweep");
});

test("alert_ingest_tool.resolve by fingerprint or alert_ref: resolves once, announces alert.resolved (tool), unknown refs not found", async () => {
  const ing = await s.call<{ alert_ref: string }>("alert_ingest_tool", "ingest", firing("tool-1"), { agent: "monitor" });
  assert.ok(ing.ok, JSON.stringify(ing));
  const ref = (ing as { result: { alert_ref: string } }).result.alert_ref;
  const first = await s.call<{ resolved: boolean; alert_ref: string }>("alert_ingest_tool", "resolve", { fingerprint: "tool-1" }, { agent: "monitor" });
  assert.ok(first.ok, JSON.stringify(first));
  assert.equal((first as { result: { resolved: boolean; alert_ref: string } }).result.resolved, true);
  const again = await s.call<{ resolved: boolean }>("alert_ingest_tool", "resolve", { alert_ref: ref }, { agent: "monitor" });
  assert.ok(again.ok && (again as { result: { resolved: boolean } }).result.resolved === false, JSON.stringify(again));
  const ev = await waitFor(() => s.events("alert.resolved").find((e) => e.data.alert_ref === ref) ?? null, { message: "alert.resolved (tool)" });
  assert.is(ev.data.reason, "tool");
  const missing = await s.call("alert_ingest_tool", "resolve", { alert_ref: "alrt_nope" }, { agent: "monitor" });
  assert.ok(!missing.ok, JSON.stringify(missing));
  const both = await s.call("alert_ingest_tool", "resolve", { alert_ref: ref, fingerprint: "tool-1" }, { agent: "monitor" });
  assert.ok(!both.ok, "exactly one of alert_ref or fingerprint");
  const denied = await s.call("alert_ingest_tool", "resolve", { alert_ref: ref }, { agent: "aistalk" });
  assert.ok(!denied.ok, "resolve needs tools.alerts.ingest");
});

// Last: it moves the stack's clock on.
test("an Alertmanager firing re-sent for longer than the dedupe window (30 min) stays one alert, not counted", async () => {
  const startsAt = new Date(clock.now().getTime() - 60_000).toISOString();
  const send = () => {
    const now = clock.now();
    const alert = { labels: { alertname: "DiskFull", service: "checkout", instance: "db-1" }, annotations: { summary: "disk full" }, startsAt, endsAt: new Date(now.getTime() + 4 * 60_000).toISOString() };
    return publishAlertBatch(s.js, s.running.ctx.subjects, { v: 1, via: ALERTMANAGER_VIA, format: "alertmanager-v2", received_at: now.toISOString(), alerts: [alert] });
  };
  const rows = async () => (await sql.query("SELECT alert_ref, occurrences, last_seen_at, resolved_at FROM alerts WHERE labels->>'instance' = 'db-1'")).rows;
  await send();
  const [first] = await waitFor(async () => ((await rows()).length === 1 ? rows() : null), { message: "stored" });
  // Re-sent every 3 minutes for 45 minutes, each re-send moving its end on, as Prometheus does.
  let after = [first];
  for (let min = 3; min <= 45; min += 3) {
    clock.advance(3);
    const seen = after[0].last_seen_at;
    await send();
    after = await waitFor(async () => {
      const r = await rows();
      return r.length > 1 || r[0].last_seen_at > seen ? r : null;
    }, { message: `the re-send at minute ${min} stored` });
  }
  assert.equal(after.map((r) => [r.alert_ref, r.occurrences, r.resolved_at]), [[first.alert_ref, 1, null]], "one alert, counted once, still firing");
  assert.is(s.events("alert.accepted").filter((e) => e.data.alert_ref === first.alert_ref).length, 1, "no new work");
});

test.run();
