/** The alert spine end to end on a real nats-server: ingest, dedupe, reject, claim/ack/fail. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { startStack, type Stack } from "../harness/stack.js";
import { waitFor } from "../harness/wait.js";
import { AlertWork } from "../../src/alerts/work.js";
import { EventPublisher } from "../../src/nats/events.js";
import type { AlertDedupedData } from "../../src/subjects/index.js";

let s: Stack;
const alert = (over: Record<string, unknown> = {}) => ({ service: "checkout", title: "p95 latency over SLO", kind: "latency", severity: "high", env: "prod", source: "monitor@node1", ...over });

// A fresh server and stack per test: the work queue is shared state, and leftovers would leak between tests.
test.before.each(async () => {
  s = await startStack({ policies: { alertRouting: { work: { ack_wait_seconds: 2, max_deliver: 3, backoff_seconds: [1] } } } });
});
test.after.each(async () => s.stop());

type ListResult = { count: number; alerts: Array<{ alert_ref: string; occurrences: number; status: string; fingerprint: string; meta: Record<string, unknown>; attempts: number; dead: boolean; last_error?: string }> };
async function list(params: Record<string, unknown>) {
  const r = await s.call<ListResult>("alert_ingest_tool", "list", params, { agent: "sofiia" });
  assert.ok(r.ok, JSON.stringify(r));
  return (r as { result: ListResult }).result;
}
async function claim(limit: number, owner = "loop-a") {
  const r = await s.call<{ alerts: Array<{ alert_ref: string; claim_id: string }> }>("alert_ingest_tool", "claim", { limit, owner }, { agent: "helion" });
  assert.ok(r.ok, JSON.stringify(r));
  return (r as { result: { alerts: Array<{ alert_ref: string; claim_id: string }> } }).result.alerts;
}

test("stream path: the same fingerprint N times → one alert with occurrences N, one work item", async () => {
  for (let i = 0; i < 7; i++) await s.publishAlert(alert({ fingerprint: "fp-dedupe", title: `storm ${i}` }));
  const found = await waitFor(async () => {
    const l = await list({ fingerprint: "fp-dedupe" });
    return l.alerts[0]?.occurrences === 7 ? l : null;
  }, { message: "7 occurrences persisted" });
  assert.is(found.count, 1);
  await waitFor(() => s.events("alert.accepted").some((e) => e.data.fingerprint === "fp-dedupe"), { message: "alert.accepted" });
  assert.is(s.events("alert.accepted").filter((e) => e.data.fingerprint === "fp-dedupe").length, 1);
  const ref = found.alerts[0]!.alert_ref;
  const dups = await waitFor(() => {
    const entries = s.events("alert.deduped").flatMap((e) => (e.data as unknown as AlertDedupedData).alerts).filter((a) => a.alert_ref === ref);
    return entries.some((a) => a.occurrences === 7) ? entries : null;
  }, { message: "alert.deduped events up to 7 occurrences" });
  assert.is(dups.reduce((n, a) => n + a.count, 0), 6, "six duplicates reported across alert.deduped events");
  const claimed = await claim(50);
  assert.equal(claimed.map((c) => c.alert_ref), [found.alerts[0]!.alert_ref]);
  const ack = await s.call("alert_ingest_tool", "ack", { alert_ref: claimed[0]!.alert_ref, note: "handled" }, { agent: "helion" });
  assert.ok(ack.ok, JSON.stringify(ack));
});

test("tool path shares the code path: answers {accepted, deduped, alert_ref, occurrences}; unknown fields kept in meta", async () => {
  const a = alert({ fingerprint: "fp-tool", runbook_url: "https://wiki/x" });
  const first = await s.call<{ accepted: boolean; deduped: boolean; alert_ref: string; occurrences: number }>("alert_ingest_tool", "ingest", a, { agent: "monitor" });
  const second = await s.call<{ accepted: boolean; deduped: boolean; alert_ref: string; occurrences: number }>("alert_ingest_tool", "ingest", a, { agent: "monitor" });
  assert.ok(first.ok && second.ok);
  if (!first.ok || !second.ok) return;
  assert.equal([first.result.accepted, first.result.deduped, first.result.occurrences], [true, false, 1]);
  assert.equal([second.result.deduped, second.result.occurrences, second.result.alert_ref], [true, 2, first.result.alert_ref]);
  const l = await list({ fingerprint: "fp-tool" });
  assert.is(l.alerts[0]!.meta.runbook_url, "https://wiki/x");
  // the same idempotency key twice counts once
  const k1 = await s.call<{ occurrences: number }>("alert_ingest_tool", "ingest", { ...a, idempotency_key: "retry-1" }, { agent: "monitor" });
  const k2 = await s.call<{ occurrences: number }>("alert_ingest_tool", "ingest", { ...a, idempotency_key: "retry-1" }, { agent: "monitor" });
  assert.ok(k1.ok && k2.ok);
  if (k1.ok && k2.ok) assert.equal([k1.result.occurrences, k2.result.occurrences], [3, 3]);
});

test("invalid alerts: the tool answers accepted=false with reasons; the stream path terminates with alert.rejected keeping the raw payload", async () => {
  const r = await s.call<{ accepted: boolean; reasons: string[] }>("alert_ingest_tool", "ingest", { title: "no service", kind: "nope" }, { agent: "monitor" });
  assert.ok(r.ok);
  if (!r.ok) return;
  assert.is(r.result.accepted, false);
  assert.ok(r.result.reasons.some((x) => x.startsWith("service")), r.result.reasons.join());
  assert.ok(r.result.reasons.some((x) => x.startsWith("kind")), r.result.reasons.join());

  const seq = await s.publishAlert("{not json", undefined);
  const bad = await waitFor(() => s.events("alert.rejected").find((e) => e.data.stream_seq === seq), { message: "rejected event for the garbage message" });
  assert.is(bad.data.raw, "{not json");
  assert.ok((bad.data.reasons as string[])[0]!.includes("not valid JSON"));
  const jsm = await jetstreamManager(s.client);
  await waitFor(async () => (await jsm.consumers.info(s.running.ctx.subjects.alerts.stream, "alerts-ingest")).num_ack_pending === 0, { message: "terminated, not pending" });
  assert.ok(await jsm.streams.getMessage(s.running.ctx.subjects.alerts.stream, { seq }), "the raw message stays in OPS_ALERTS for inspection");
});

test("lock expiry requeues: an unacked claim is handed out again after ack_wait, and the stale claim cannot ack", async () => {
  await s.publishAlert(alert({ fingerprint: "fp-lock" }));
  const first = await waitFor(async () => (await claim(1, "loop-a"))[0], { message: "first claim" });
  const listed = await list({ fingerprint: "fp-lock", status_in: ["processing"] });
  assert.is(listed.count, 1);
  const second = await waitFor(async () => (await claim(1, "loop-b"))[0], { timeoutMs: 8000, message: "redelivery after lock expiry" });
  assert.is(second.alert_ref, first.alert_ref);
  assert.is.not(second.claim_id, first.claim_id);
  const stale = await s.call("alert_ingest_tool", "ack", { alert_ref: first.alert_ref, claim_id: first.claim_id }, { agent: "helion" });
  assert.ok(!stale.ok && stale.error.code === "conflict", JSON.stringify(stale));
  const ok = await s.call("alert_ingest_tool", "ack", { alert_ref: second.alert_ref, claim_id: second.claim_id }, { agent: "helion" });
  assert.ok(ok.ok, JSON.stringify(ok));
});

test("fail → status failed, redelivered after retry_after; max_deliver exhausted → failed for good + alert.dead", async () => {
  await s.publishAlert(alert({ fingerprint: "fp-fail" }));
  let c = await waitFor(async () => (await claim(1))[0], { message: "claim 1" });
  const ref = c.alert_ref;
  for (let attempt = 1; attempt <= 3; attempt++) {
    if (attempt > 1) c = await waitFor(async () => (await claim(1))[0], { timeoutMs: 8000, message: `redelivery ${attempt}` });
    assert.is(c.alert_ref, ref);
    const f = await s.call<{ status: string; dead: boolean; attempts: number }>("alert_ingest_tool", "fail", { alert_ref: ref, error: `boom ${attempt}`, retry_after_seconds: 1 }, { agent: "helion" });
    assert.ok(f.ok, JSON.stringify(f));
    if (f.ok) assert.equal([f.result.status, f.result.dead, f.result.attempts], ["failed", attempt === 3, attempt]);
  }
  const dead = await waitFor(() => s.events("alert.dead").find((e) => e.data.alert_ref === ref), { message: "alert.dead" });
  assert.is(dead.data.last_error, "boom 3");
  const l = await list({ fingerprint: "fp-fail" });
  assert.equal([l.alerts[0]!.status, l.alerts[0]!.dead, l.alerts[0]!.last_error], ["failed", true, "boom 3"]);
  assert.is((await claim(5)).length, 0, "a dead alert is not handed out again");
});

test("max_deliver exhausted by lock expiry (no fail call) → failed for good via the server's advisory", async () => {
  await s.publishAlert(alert({ fingerprint: "fp-expire" }));
  let ref = "";
  for (let i = 0; i < 3; i++) ref = (await waitFor(async () => (await claim(1))[0], { timeoutMs: 8000, message: `delivery ${i + 1}` })).alert_ref;
  const dead = await waitFor(() => s.events("alert.dead").find((e) => e.data.alert_ref === ref), { timeoutMs: 10_000, message: "alert.dead from advisory" });
  assert.match(String(dead.data.last_error), /max_deliver/);
});

test("two concurrent claimers over 200 alerts get disjoint sets whose union is all 200", async () => {
  for (let i = 0; i < 200; i++) await s.publishAlert(alert({ fingerprint: `fp-race-${i}` }));
  await waitFor(async () => (await list({ service: "checkout", limit: 500 })).alerts.filter((a) => a.fingerprint.startsWith("fp-race-")).length === 200, { message: "200 persisted" });
  const a: string[] = [];
  const b: string[] = [];
  const loop = async (into: string[], owner: string) => {
    for (let empty = 0; empty < 3; ) {
      const got = await claim(7, owner);
      if (!got.length) empty++;
      into.push(...got.map((g) => g.alert_ref));
    }
  };
  await Promise.all([loop(a, "A"), loop(b, "B")]);
  const overlap = a.filter((x) => b.includes(x));
  assert.is(overlap.length, 0);
  assert.is(new Set([...a, ...b]).size, 200);
  assert.ok(a.length > 0 && b.length > 0, `both claimers served (${a.length}/${b.length})`);
});

test("ack from another connection than the claimer settles the JetStream delivery", async () => {
  const ctx = s.running.ctx;
  const nc2 = await connect({ servers: s.nats.url });
  const other = new AlertWork({ nc: nc2, js: ctx.js, jsm: await jetstreamManager(nc2), store: ctx.stores.alerts, events: new EventPublisher(ctx.js, ctx.subjects, "t", ctx.now), subjects: ctx.subjects, policy: ctx.policies.alertRouting, logger: ctx.logger, now: ctx.now });
  await s.publishAlert(alert({ fingerprint: "fp-cross" }));
  const c = await waitFor(async () => (await claim(1, "gateway-a"))[0], { message: "claim" });
  await other.ack(c.alert_ref, { note: "from B" });
  const jsm = await jetstreamManager(s.client);
  await waitFor(async () => (await jsm.consumers.info(ctx.subjects.alerts.workStream, "alerts-work")).num_ack_pending === 0, { message: "no delivery left pending" });
  const l = await list({ fingerprint: "fp-cross" });
  assert.is(l.alerts[0]!.status, "acked");
  await nc2.close();
});

test("a committed alert whose work item never reached JetStream gets one by the repair sweep, and only once", async () => {
  const ctx = s.running.ctx;
  const past = new Date(Date.now() - 60_000);
  const item = { alert: { fingerprint: "fp-orphan", service: "checkout", title: "orphan", kind: "custom", severity: "P2" as const, env: "prod" as const, source: "t", labels: {}, meta: {}, starts_at: past.toISOString() }, dedupe_ttl_minutes: 30 };
  const [r] = await ctx.stores.alerts.ingestBatch([item], past); // committed, but no work was published
  assert.is((await claim(5)).length, 0, "nothing to claim yet");
  const work = new AlertWork({ nc: ctx.nc, js: ctx.js, jsm: ctx.jsm, store: ctx.stores.alerts, events: new EventPublisher(ctx.js, ctx.subjects, "t", ctx.now), subjects: ctx.subjects, policy: ctx.policies.alertRouting, logger: ctx.logger, now: ctx.now });
  assert.is(await work.republishMissingWork(), 1);
  assert.is(await work.republishMissingWork(), 0, "a second sweep is dropped by the duplicate window");
  const claimed = await waitFor(async () => (await claim(5))[0], { message: "the repaired work item is claimable" });
  assert.is(claimed.alert_ref, r!.alert_ref);
  assert.is((await claim(5)).length, 0, "exactly one work item");
});

test.run();
