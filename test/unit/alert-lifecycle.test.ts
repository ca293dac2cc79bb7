/** The lifecycle rules of ingest (planIngest, every backend) and the resolve sweep, on the memory and JSONL stores. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AlertRoutingPolicy } from "../../src/config/policies.js";
import { makeAlertNormalizer } from "../../src/alerts/normalize.js";
import { alertState } from "../../src/alerts/query-rules.js";
import type { IngestItem } from "../../src/alerts/store.js";
import { MemoryAlertStore } from "../../src/stores/alerts/memory.js";
import { JsonlAlertStore } from "../../src/stores/alerts/jsonl.js";

const t0 = Date.parse("2026-11-22T10:00:00Z");
const at = (min: number) => new Date(t0 + min * 60_000);
let clock = at(0);
const normalize = makeAlertNormalizer(AlertRoutingPolicy.parse({}), () => clock);
const item = (raw: Record<string, unknown>, key?: string): IngestItem => {
  const n = normalize({ service: "checkout", title: "High latency", fingerprint: "fp1", ...raw });
  if (!n.ok) throw new Error(n.reasons.join("; "));
  return key ? { ...n.item, receipt_key: key } : n.item;
};
const ingest = async (store: MemoryAlertStore, raw: Record<string, unknown>, key?: string) => {
  const [r] = await store.ingestBatch([item(raw, key)], clock);
  return r!;
};
const STARTS = "2026-11-22T09:59:00Z";

test("a re-send of the same firing (same starts_at) refreshes last_seen and ends_at, and is not an occurrence", async () => {
  const store = new MemoryAlertStore();
  clock = at(0);
  const first = await ingest(store, { starts_at: STARTS });
  assert.ok(first.created);
  clock = at(1);
  const again = await ingest(store, { starts_at: STARTS });
  assert.equal([again.lifecycle, again.occurrences, again.created], ["refresh", 1, false]);
  const a = (await store.get(first.alert_ref))!;
  assert.is(a.occurrences, 1);
  assert.is(a.last_seen_at, at(1).toISOString());
  assert.is(a.ends_at, at(6).toISOString(), "ends_at = last sighting + resolve_timeout_minutes (5)");
  clock = at(2);
  const other = await ingest(store, { starts_at: "2026-11-22T10:01:30Z" });
  assert.is(other.occurrences, 2, "a new starts_at while firing counts as an occurrence");
});

test("a firing re-sent for longer than the dedupe window stays one alert: Prometheus re-sends every minute for hours", async () => {
  const store = new MemoryAlertStore();
  clock = at(0);
  const first = await ingest(store, { starts_at: STARTS });
  // Every minute for 3 hours (the window is 30 minutes), each re-send moving ends_at on.
  for (let min = 1; min <= 180; min++) {
    clock = at(min);
    const r = await ingest(store, { starts_at: STARTS, ends_at: at(min + 4).toISOString() });
    assert.equal([r.alert_ref, r.lifecycle, r.occurrences, r.created], [first.alert_ref, "refresh", 1, false], `re-send at minute ${min}`);
  }
  assert.is((await store.list({ fingerprint: "fp1" }, clock)).length, 1, "no second alert for the same firing");
  // Past the window, a NATS alert that names no start still opens a new alert (its window has closed).
  clock = at(181);
  const plain = await ingest(store, { fingerprint: "fp-nats" });
  clock = at(212);
  const later = await ingest(store, { fingerprint: "fp-nats" });
  assert.ok(later.created && later.alert_ref !== plain.alert_ref);
  // Once it is resolved and the window has closed, a firing opens a new alert.
  clock = at(185);
  const resolve = await ingest(store, { starts_at: STARTS, status: "resolved" });
  assert.is(resolve.lifecycle, "resolved");
  clock = at(186);
  const next = await ingest(store, { starts_at: "2026-11-22T13:05:00Z" });
  assert.ok(next.created && next.alert_ref !== first.alert_ref);
});

test("an alert that names no start and joins the firing (Alertmanager's): a refresh while it fires, a refire once resolved, counted when NATS-native", async () => {
  const store = new MemoryAlertStore();
  const joining = (raw: Record<string, unknown>, receivedAt: Date): IngestItem => {
    const n = normalize({ service: "checkout", title: "High latency", fingerprint: "fp-am", ...raw }, { receivedAt, joinsFiring: true });
    if (!n.ok) throw new Error(n.reasons.join("; "));
    return n.item;
  };
  clock = at(0);
  const [first] = await store.ingestBatch([joining({}, at(0))], clock);
  assert.ok(first!.created);
  assert.is((await store.get(first!.alert_ref))!.starts_at, at(0).toISOString(), "started at the receipt time");
  clock = at(1);
  const [again] = await store.ingestBatch([joining({}, at(1))], clock);
  assert.equal([again!.lifecycle, again!.occurrences], ["refresh", 1], "a re-send while it fires joins it");
  const a = (await store.get(first!.alert_ref))!;
  assert.equal([a.starts_at, a.last_seen_at, a.ends_at], [at(0).toISOString(), at(1).toISOString(), at(6).toISOString()], "the first start kept, seen and ending later");
  clock = at(7);
  const [refire] = await store.ingestBatch([joining({}, at(7))], clock);
  assert.equal([refire!.lifecycle, refire!.occurrences], ["refire", 2], "after its end passed: a new firing");
  assert.is((await store.get(first!.alert_ref))!.starts_at, at(7).toISOString());
  // The same without joinsFiring (a monitor on NATS that names no start): every sighting counts.
  const plain = await ingest(store, { fingerprint: "fp-nats" });
  const plainAgain = await ingest(store, { fingerprint: "fp-nats" });
  assert.equal([plain.occurrences, plainAgain.occurrences, plainAgain.lifecycle], [1, 2, undefined]);
});

test("an HA pair's two starts of one firing (Alertmanager alerts): one alert, never counted, the earlier start kept, for hours; a start after its resolve fires again", async () => {
  const store = new MemoryAlertStore();
  const am = (startsAt: string, minute: number): IngestItem => {
    const n = normalize({ service: "checkout", title: "High latency", fingerprint: "fp-ha", starts_at: startsAt, ends_at: at(minute + 4).toISOString() }, { receivedAt: at(minute), joinsFiring: true });
    if (!n.ok) throw new Error(n.reasons.join("; "));
    return n.item;
  };
  const replicaA = "2026-11-22T09:59:20.000Z";
  const replicaB = "2026-11-22T09:59:05.000Z";
  clock = at(0);
  const [first] = await store.ingestBatch([am(replicaA, 0)], clock);
  // Both replicas re-send every minute for two hours, B's start 15 s before A's.
  for (let min = 1; min <= 120; min++) {
    clock = at(min);
    const rs = await store.ingestBatch([am(replicaB, min), am(replicaA, min)], clock);
    assert.equal(rs.map((r) => [r.alert_ref, r.lifecycle, r.occurrences]), [[first!.alert_ref, "refresh", 1], [first!.alert_ref, "refresh", 1]], `minute ${min}`);
  }
  const a = (await store.get(first!.alert_ref))!;
  assert.equal([a.starts_at, a.occurrences, a.ends_at], [replicaB, 1, at(124).toISOString()], "the earlier start, counted once, ending after the last re-send");
  assert.is((await store.list({ fingerprint: "fp-ha" }, clock)).length, 1);
  // Resolved (the sender's endsAt passed), then a new start inside the window: a new firing.
  clock = at(125);
  const n = normalize({ service: "checkout", fingerprint: "fp-ha", status: "resolved" }, { receivedAt: clock, joinsFiring: true });
  if (!n.ok) throw new Error(n.reasons.join("; "));
  await store.ingestBatch([n.item], clock);
  clock = at(126);
  const [again] = await store.ingestBatch([am("2026-11-22T12:05:30.000Z", 126)], clock);
  assert.ok(again!.created || again!.lifecycle === "refire", JSON.stringify(again));
});

/** An Alertmanager alert of fingerprint fp-hx as the worker normalises it: `endsAt` past makes it a resolve. */
const amAlert = (startsAt: string, endsAt: Date): IngestItem => {
  const resolved = endsAt.getTime() <= clock.getTime();
  const n = normalize(
    { service: "checkout", title: "High latency", fingerprint: "fp-hx", starts_at: startsAt, ends_at: endsAt.toISOString(), ...(resolved ? { status: "resolved" } : {}) },
    { receivedAt: clock, joinsFiring: true, mergesOverlap: true },
  );
  if (!n.ok) throw new Error(n.reasons.join("; "));
  return n.item;
};

test("an HA pair as its rule resolves: the later replica's last firing continues the resolved firing (not counted, no work) and its own resolve ends it", async () => {
  const store = new MemoryAlertStore();
  const replicaA = "2026-11-22T09:59:20.000Z";
  const replicaB = "2026-11-22T09:59:05.000Z";
  clock = at(0);
  const [first] = await store.ingestBatch([amAlert(replicaA, at(4))], clock);
  // Replica a resolves at minute 10; b, whose scrape lags, sends one more firing 10 s later.
  clock = new Date(at(10).getTime() + 5_000);
  const [resolved] = await store.ingestBatch([amAlert(replicaA, at(10))], clock);
  assert.is(resolved!.lifecycle, "resolved");
  clock = new Date(at(10).getTime() + 15_000);
  const [late] = await store.ingestBatch([amAlert(replicaB, at(14))], clock);
  assert.equal([late!.alert_ref, late!.lifecycle, late!.occurrences, late!.created], [first!.alert_ref, "refresh", 1, false]);
  let a = (await store.get(first!.alert_ref))!;
  assert.equal([alertState(a, clock), a.resolved_at, a.ends_at, a.starts_at], ["firing", undefined, at(14).toISOString(), replicaB], "firing again, as Alertmanager merges it");
  // Then b's own resolve ends it, once.
  clock = new Date(at(10).getTime() + 40_000);
  const [ended] = await store.ingestBatch([amAlert(replicaB, new Date(at(10).getTime() + 30_000))], clock);
  assert.equal([ended!.lifecycle, ended!.occurrences], ["resolved", 1]);
  a = (await store.get(first!.alert_ref))!;
  assert.equal([alertState(a, clock), a.occurrences], ["resolved", 1]);
});

test("a firing the sweep resolved (its sender went quiet past its endsAt) fires again on the same start: a new firing, not late news", async () => {
  const store = new MemoryAlertStore();
  clock = at(0);
  const [first] = await store.ingestBatch([amAlert("2026-11-22T09:59:20.000Z", at(4))], clock);
  clock = at(5);
  assert.equal((await store.resolveExpired(clock, 10)).map((a) => a.alert_ref), [first!.alert_ref]);
  // Prometheus is back a minute later, its rule still firing since the same start.
  clock = at(6);
  const [back] = await store.ingestBatch([amAlert("2026-11-22T09:59:20.000Z", at(10))], clock);
  assert.equal([back!.alert_ref, back!.lifecycle, back!.occurrences], [first!.alert_ref, "refire", 2]);
});

test("late news of a resolved firing after resolve_timeout_minutes (5), or a start after the resolve, is a new firing", async () => {
  for (const [label, startsAt, minute] of [
    ["an old start, 6 minutes after the resolve", "2026-11-22T09:59:05.000Z", 16],
    ["a start after the resolve, at once", "2026-11-22T10:10:10.000Z", 10.25],
  ] as const) {
    const store = new MemoryAlertStore();
    clock = at(0);
    const [first] = await store.ingestBatch([amAlert("2026-11-22T09:59:20.000Z", at(4))], clock);
    clock = at(10);
    await store.ingestBatch([amAlert("2026-11-22T09:59:20.000Z", at(10))], clock);
    clock = at(minute);
    const [again] = await store.ingestBatch([amAlert(startsAt, at(minute + 4))], clock);
    assert.equal([again!.alert_ref, again!.lifecycle, again!.occurrences], [first!.alert_ref, "refire", 2], label);
  }
});

test("an HA pair as its rule fires again: the other replica's resolve of the earlier firing, late, does not end the new one", async () => {
  const store = new MemoryAlertStore();
  clock = at(0);
  const [first] = await store.ingestBatch([amAlert("2026-11-22T09:59:20.000Z", at(4))], clock);
  clock = at(10);
  await store.ingestBatch([amAlert("2026-11-22T09:59:20.000Z", at(10))], clock);
  // Replica a fires again at minute 12; b re-sends its resolve of the first firing (ended 10:09:50).
  clock = at(12);
  const [refire] = await store.ingestBatch([amAlert("2026-11-22T10:11:50.000Z", at(16))], clock);
  assert.equal([refire!.lifecycle, refire!.occurrences], ["refire", 2]);
  clock = new Date(at(12).getTime() + 10_000);
  const [stale] = await store.ingestBatch([amAlert("2026-11-22T09:59:05.000Z", new Date(at(10).getTime() - 10_000))], clock);
  assert.equal([stale!.lifecycle, stale!.occurrences], ["noop", 2]);
  // b fires again too: it joins, not counted.
  clock = new Date(at(12).getTime() + 20_000);
  const [joined] = await store.ingestBatch([amAlert("2026-11-22T10:12:05.000Z", at(16))], clock);
  assert.equal([joined!.lifecycle, joined!.occurrences], ["refresh", 2]);
  const a = (await store.get(first!.alert_ref))!;
  assert.equal([alertState(a, clock), a.occurrences, a.starts_at], ["firing", 2, "2026-11-22T10:11:50.000Z"]);
});

test("a PagerDuty trigger (joinsFiring, openEnded): fires until resolved, a trigger while it fires is not counted whatever its timestamp, one after the resolve is", async () => {
  const store = new MemoryAlertStore();
  const trigger = (raw: Record<string, unknown>, receivedAt: Date): IngestItem => {
    const n = normalize({ service: "checkout", title: "db down", fingerprint: "pd-1", ...raw }, { receivedAt, joinsFiring: true, openEnded: true });
    if (!n.ok) throw new Error(n.reasons.join("; "));
    return n.item;
  };
  clock = at(0);
  const [first] = await store.ingestBatch([trigger({ starts_at: at(0).toISOString() }, at(0))], clock);
  assert.is((await store.get(first!.alert_ref))!.ends_at, undefined, "no end: it fires until a resolve");
  // A day later no sweep has ended it, and a trigger naming another timestamp (a re-notification) only refreshes it.
  clock = at(24 * 60);
  assert.is((await store.resolveExpired(clock, 10)).length, 0);
  assert.is(alertState(await store.get(first!.alert_ref) as never, clock), "firing");
  const [again] = await store.ingestBatch([trigger({ starts_at: at(24 * 60).toISOString() }, clock)], clock);
  assert.equal([again!.lifecycle, again!.occurrences], ["refresh", 1]);
  assert.is((await store.get(first!.alert_ref))!.starts_at, at(0).toISOString(), "the first trigger's start kept");
  // Its resolve ends it; the next trigger (the dedupe window long closed) opens a new alert.
  const n = normalize({ service: "checkout", fingerprint: "pd-1", status: "resolved" }, { receivedAt: clock, joinsFiring: true, openEnded: true });
  if (!n.ok) throw new Error(n.reasons.join("; "));
  assert.is((await store.ingestBatch([n.item], clock))[0]!.lifecycle, "resolved");
  clock = at(24 * 60 + 1);
  const [next] = await store.ingestBatch([trigger({ starts_at: clock.toISOString() }, clock)], clock);
  assert.equal([next!.created, next!.occurrences], [true, 1]);
  assert.is.not(next!.alert_ref, first!.alert_ref);
});

test("the sender's ends_at is kept; Prometheus's 0001-01-01 means unset", async () => {
  const store = new MemoryAlertStore();
  clock = at(0);
  const r = await ingest(store, { ends_at: "2026-11-22T10:30:00Z" });
  assert.is((await store.get(r.alert_ref))!.ends_at, "2026-11-22T10:30:00.000Z");
  const u = await ingest(store, { fingerprint: "fp2", ends_at: "0001-01-01T00:00:00Z" });
  assert.is((await store.get(u.alert_ref))!.ends_at, at(5).toISOString());
});

test("status resolved resolves; a resolve for an unknown fingerprint is recorded and harmless; a refire after resolve is occurrence +1 with its work state reset", async () => {
  const store = new MemoryAlertStore();
  clock = at(0);
  const first = await ingest(store, { starts_at: STARTS });
  await store.updateState(first.alert_ref, {}, { status: "acked", acked_at: at(0).toISOString() });
  clock = at(1);
  const res = await ingest(store, { status: "resolved", title: undefined });
  assert.equal([res.lifecycle, res.alert_ref], ["resolved", first.alert_ref]);
  const resolved = (await store.get(first.alert_ref))!;
  assert.is(resolved.resolved_at, at(1).toISOString());
  assert.is(alertState(resolved, at(1)), "resolved");
  const twice = await ingest(store, { status: "resolved" });
  assert.is(twice.lifecycle, "noop");
  const unknown = await ingest(store, { status: "resolved", fingerprint: "nobody", title: undefined });
  assert.equal([unknown.lifecycle, unknown.alert_ref, unknown.created], ["unknown", "", false]);
  assert.is((await store.list({ fingerprint: "nobody" }, clock)).length, 0);
  clock = at(2);
  const refire = await ingest(store, { starts_at: "2026-11-22T10:02:00Z" });
  assert.equal([refire.lifecycle, refire.occurrences, refire.alert_ref], ["refire", 2, first.alert_ref]);
  const a = (await store.get(first.alert_ref))!;
  assert.equal([a.resolved_at, a.status, a.acked_at, alertState(a, clock)], [undefined, "new", undefined, "firing"]);
  assert.equal((await store.list({ state: "firing" }, clock)).map((x) => x.alert_ref), [first.alert_ref]);
});

test("a resolve carrying the sender's past ends_at is resolved at it", async () => {
  const store = new MemoryAlertStore();
  clock = at(0);
  const r = await ingest(store, {});
  clock = at(3);
  await ingest(store, { status: "resolved", ends_at: at(2).toISOString() });
  const a = (await store.get(r.alert_ref))!;
  assert.equal([a.resolved_at, a.ends_at], [at(2).toISOString(), at(2).toISOString()]);
});

test("a firing whose ends_at passed is resolved by the sweep once; a resolve needs fingerprint or title", async () => {
  const store = new MemoryAlertStore();
  clock = at(0);
  const r = await ingest(store, {});
  assert.is((await store.resolveExpired(at(4), 10)).length, 0);
  const swept = await store.resolveExpired(at(6), 10);
  assert.equal(swept.map((x) => [x.alert_ref, x.resolved_at]), [[r.alert_ref, at(5).toISOString()]]);
  assert.is((await store.resolveExpired(at(7), 10)).length, 0, "exactly once");
  assert.is((await store.list({ state: "resolved" }, at(7))).length, 1);
  const bad = normalize({ service: "checkout", status: "resolved" });
  assert.ok(!bad.ok && bad.reasons[0]!.includes("fingerprint or title"));
  const noTitle = normalize({ service: "checkout", fingerprint: "x" });
  assert.ok(!noTitle.ok, "a firing needs its title");
});

test("JSONL: resolve and refire survive a restart in order, with a later claim kept", async () => {
  const path = join(mkdtempSync(join(tmpdir(), "lifecycle-")), "alerts.jsonl");
  const store = new JsonlAlertStore({ path });
  await store.init();
  clock = at(0);
  const first = await ingest(store, { starts_at: STARTS }, "k1");
  clock = at(1);
  await ingest(store, { status: "resolved" }, "k2");
  clock = at(2);
  await ingest(store, { starts_at: "2026-11-22T10:02:00Z" }, "k3");
  await store.updateState(first.alert_ref, {}, { status: "acked" });
  await store.close();
  const back = new JsonlAlertStore({ path });
  await back.init();
  const a = (await back.get(first.alert_ref))!;
  assert.equal([a.occurrences, a.resolved_at, a.status, a.starts_at], [2, undefined, "acked", "2026-11-22T10:02:00.000Z"]);
  await back.close();
});

test.run();
