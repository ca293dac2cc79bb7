/**
 * Issue 11, finding 2, as reproduced: `{"service":"p","title":"t","message":"\u0000"}` passed
 * validation and failed its Postgres batch forever (max_deliver -1: nak'd for ever, batch-mates
 * with it); 10,000 of them filled max_ack_pending and no good alert behind them was stored. Now:
 * every NUL alert is terminated with an `alert.rejected` event and every good one is stored.
 * POISON_ALERTS scales the poison down on a slow machine (keep it ≥ max_ack_pending).
 */
import { readFileSync } from "node:fs";
import pg from "pg";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { persistAlerts } from "../../src/alerts/ingest.js";
import { deadLetterPath } from "../../src/util/dead-letter.js";
import { ingestDeps } from "../../src/app/alerts-in.js";
import { createTestDatabase, type TestDatabase, testPool } from "../harness/postgres.js";
import { startStack, type Stack } from "../harness/stack.js";
import { waitFor } from "../harness/wait.js";

const POISON = Number(process.env.POISON_ALERTS ?? 10_000);
const GOOD = 1_000;
/** The ingest consumer's max_ack_pending, as shipped: the poison alone can fill it. */
const MAX_ACK_PENDING = Math.min(10_000, POISON);

let s: Stack;
let db: TestDatabase;
let sql: pg.Pool;
let jsm: JetStreamManager;

test.before(async () => {
  db = await createTestDatabase();
  sql = testPool(db.url);
  s = await startStack({
    roles: ["alerts-in"],
    env: { ALERT_BACKEND: "postgres", ALERT_DATABASE_URL: db.url },
    policies: { alertRouting: { ingest: { max_ack_pending: MAX_ACK_PENDING } } },
  });
  jsm = await jetstreamManager(s.client);
});
test.after(async () => {
  await s?.stop();
  await sql?.end();
  await db?.drop();
});

/** Publishes `n` bodies on `service`'s subject, 200 PubAcks in flight at a time. */
async function publishAll(n: number, body: (i: number) => unknown): Promise<void> {
  for (let i = 0; i < n; i += 200) {
    await Promise.all(Array.from({ length: Math.min(200, n - i) }, (_, k) => s.publishAlert(body(i + k))));
  }
}

test(`${POISON} NUL alerts (≥ max_ack_pending ${MAX_ACK_PENDING}), then ${GOOD} good ones: every good one stored, every NUL one rejected`, async () => {
  const consumer = await jsm.consumers.info(s.running.ctx.subjects.alerts.stream, s.running.ctx.subjects.alerts.ingestConsumer);
  assert.is(consumer.config.max_ack_pending, MAX_ACK_PENDING);
  const started = Date.now();
  await publishAll(POISON, () => ({ service: "p", title: "t", message: "\u0000" }));
  await publishAll(GOOD, (i) => ({ service: "p", title: `good ${i}`, message: "fine" }));
  const published = Date.now() - started;

  await waitFor(async () => Number((await sql.query("SELECT count(*) AS n FROM alerts")).rows[0].n) === GOOD, {
    timeoutMs: 120_000,
    message: `${GOOD} good alerts stored in Postgres`,
  });
  const info = await waitFor(async () => {
    const c = await jsm.consumers.info(s.running.ctx.subjects.alerts.stream, s.running.ctx.subjects.alerts.ingestConsumer);
    return c.num_pending === 0 && c.num_ack_pending === 0 ? c : null;
  }, { timeoutMs: 60_000, message: "the ingest consumer to settle everything" });
  console.log(`alerts-poison: ${POISON} NUL + ${GOOD} good published in ${published} ms, all settled after ${Date.now() - started} ms`);
  assert.is(info.num_redelivered, 0, "no batch failed and came back");

  const events = s.running.ctx.subjects.events;
  const rejectedSubject = events.of("alert.rejected");
  await waitFor(async () => (await jsm.streams.info(events.stream, { subjects_filter: rejectedSubject })).state.subjects?.[rejectedSubject] === POISON, {
    timeoutMs: 30_000,
    message: `${POISON} alert.rejected events`,
  });
  const sample = s.events("alert.rejected")[0]?.data as { reasons?: string[] } | undefined;
  assert.match(String(sample?.reasons?.[0]), /^message: contains a NUL character/);
  const metrics = await s.running.ctx.metrics?.render();
  assert.match(String(metrics), new RegExp(`opsbus_alerts_rejected_total ${POISON}\\b`));
  assert.equal((await sql.query("SELECT count(*)::int AS n FROM alerts WHERE message LIKE '%fine%'")).rows[0].n, GOOD);
});

test("a record Postgres itself refuses (past the edge's checks) is isolated by splitting its batch: rejected, dead-lettered, batch-mates stored", async () => {
  const deps = ingestDeps(s.running.ctx);
  const ok = (i: number) => deps.normalize({ service: "q", title: `mate ${i}` });
  const inputs = Array.from({ length: 40 }, (_, i) => {
    const n = ok(i);
    if (!n.ok) throw new Error(n.reasons.join());
    // As if an older edge had let a NUL through: normalized by hand, straight to the store.
    if (i === 23) n.item.alert.message = "nul \u0000";
    return { decoded: { ok: true as const, value: {} }, normalized: n, receipt_key: `iso:${i}`, subject: s.running.ctx.subjects.alerts.in("q"), stream_seq: 100_000 + i, raw: "{}" };
  });
  const persisted = await persistAlerts(deps, inputs);
  await persisted.publish();
  assert.is(persisted.outcomes.filter((o) => o.accepted).length, 39);
  const bad = persisted.outcomes[23]!;
  assert.ok(!bad.accepted && bad.dead_lettered, JSON.stringify(bad));
  if (!bad.accepted) assert.match(bad.reasons[0]!, /^store refused the alert: 22[0-9A-Z]{3} /);
  assert.equal((await sql.query("SELECT count(*)::int AS n FROM alerts WHERE service = 'q'")).rows[0].n, 39);
  const letters = readFileSync(deadLetterPath(s.dataDir, "alerts-in"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
  assert.equal(letters.map((l) => l.record.stream_seq), [100_023]);
});

test("the worker: a record the store refuses is terminated with alert.rejected, dead-lettered and counted; batch-mates acked", async () => {
  const store = s.running.ctx.stores.alerts;
  const original = store.ingestBatch.bind(store);
  // Past the edge's checks, as an unforeseen store refusal would be: Postgres' own SQLSTATE class 22.
  store.ingestBatch = (items, at) =>
    items.some((i) => i.alert.title === "refused")
      ? Promise.reject(Object.assign(new Error("value too long for type character varying(8)"), { code: "22001" }))
      : original(items, at);
  try {
    const before = s.events("alert.rejected").length;
    const seqs: number[] = [];
    for (const title of ["mate 1", "mate 2", "refused", "mate 3"]) seqs.push(await s.publishAlert({ service: "w", title }));
    await waitFor(async () => Number((await sql.query("SELECT count(*) AS n FROM alerts WHERE service = 'w'")).rows[0].n) === 3, { message: "batch-mates stored" });
    await waitFor(() => s.events("alert.rejected").length === before + 1, { message: "one alert.rejected" });
    const rejected = s.events("alert.rejected").at(-1)!.data as { stream_seq?: number; reasons: string[] };
    assert.equal([rejected.stream_seq, rejected.reasons], [seqs[2], ["store refused the alert: 22001 value too long for type character varying(8)"]]);
    const info = await waitFor(async () => {
      const c = await jsm.consumers.info(s.running.ctx.subjects.alerts.stream, s.running.ctx.subjects.alerts.ingestConsumer);
      return c.num_pending === 0 && c.num_ack_pending === 0 ? c : null;
    }, { message: "everything settled" });
    assert.is(info.num_redelivered, 0);
    const letters = readFileSync(deadLetterPath(s.dataDir, "alerts-in"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(letters.at(-1).record.stream_seq, seqs[2]);
    const metrics = await s.running.ctx.metrics?.render();
    assert.match(String(metrics), /opsbus_alerts_dead_lettered_total 1\b/);
  } finally {
    store.ingestBatch = original;
  }
});

test("reads and state changes with a NUL in a filter, ref or note neither fail nor reach Postgres as a NUL", async () => {
  const store = s.running.ctx.stores.alerts;
  const now = new Date();
  assert.equal(await store.list({ service: "p\u0000" }, now), []);
  assert.equal(await store.list({ fingerprint: "\u0000", source: "x\ud800" }, now), []);
  assert.is(await store.get("alr\u0000"), null);
  assert.equal(await store.getMany(["alr\u0000"]), []);
  assert.is(await store.updateState("alr\u0000", {}, { status: "acked" }), null);
  const [some] = await store.list({ service: "p" }, now);
  const acked = await store.updateState(some!.alert_ref, {}, { ack_note: "seen \u0000 here" });
  assert.is(acked?.ack_note, "seen \\u0000 here");
});

test.run();
