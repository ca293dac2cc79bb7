/**
 * The AlertStore contract, run against every backend (memory, JSONL, Postgres). Each test gets a
 * fresh, empty store from `makeStore`.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import type { AlertQuery, AlertStore, IngestItem, NewAlert } from "../../src/alerts/store.js";
import { at, isoAt, item, sortRows, T0, type MakeStore, type StoreHandle } from "./fixtures.js";

export function runAlertStoreConformance(name: string, makeStore: MakeStore<AlertStore>): void {
  const test = suite(`${name} AlertStore`);
  let h: StoreHandle<AlertStore> | undefined;
  const open = async () => (h = await makeStore()).store;
  test.after.each(async () => {
    await h?.cleanup();
    h = undefined;
  });

  test("first ingest creates a new alert with every field", async () => {
    const s = await open();
    const it = item("fp-a", { alert: { message: "p95 900ms" }, ttl: 30 });
    const [r] = await s.ingestBatch([it], T0);
    assert.ok(r);
    assert.equal({ ...r, alert_ref: "" }, { alert_ref: "", deduped: false, occurrences: 1, created: true, replayed: false });
    assert.match(r.alert_ref, /^alrt_20260301_120000_[0-9a-f]{8}$/);
    const rec = await s.get(r.alert_ref);
    assert.equal(rec, {
      ...it.alert,
      alert_ref: r.alert_ref,
      created_at: T0.toISOString(),
      last_seen_at: T0.toISOString(),
      dedupe_until: isoAt(30),
      occurrences: 1,
      status: "new",
      attempts: 0,
      dead: false,
    });
    assert.is(await s.get("alrt_missing"), null);
  });

  test("the same fingerprint N times is one alert counted 1..N, within and across calls", async () => {
    const s = await open();
    const first = await s.ingestBatch([item("fp-a"), item("fp-a"), item("fp-a")], T0);
    const more = await s.ingestBatch([item("fp-a"), item("fp-a")], at(5));
    const all = [...first, ...more];
    assert.equal(all.map((r) => r.occurrences), [1, 2, 3, 4, 5]);
    assert.equal(all.map((r) => r.created), [true, false, false, false, false]);
    assert.equal(all.map((r) => r.deduped), [false, true, true, true, true]);
    assert.is(new Set(all.map((r) => r.alert_ref)).size, 1);
    const rec = await s.get(all[0]!.alert_ref);
    assert.is(rec?.occurrences, 5);
    assert.is(rec?.last_seen_at, isoAt(5));
    assert.is(rec?.created_at, T0.toISOString());
    assert.is((await s.list({ fingerprint: "fp-a" }, at(5))).length, 1);
  });

  test("after the dedupe window a new alert opens; the old one keeps its count", async () => {
    const s = await open();
    const [a] = await s.ingestBatch([item("fp-a", { ttl: 10 })], T0);
    const [b] = await s.ingestBatch([item("fp-a", { ttl: 10 })], at(9));
    const [c] = await s.ingestBatch([item("fp-a", { ttl: 10 })], at(10)); // dedupe_until is exclusive
    const [d] = await s.ingestBatch([item("fp-a", { ttl: 10 })], at(11));
    assert.is(b?.alert_ref, a?.alert_ref);
    assert.ok(c?.created);
    assert.is.not(c?.alert_ref, a?.alert_ref);
    assert.equal([d?.alert_ref, d?.occurrences, d?.deduped], [c?.alert_ref, 2, true]);
    assert.is((await s.get(a!.alert_ref))?.occurrences, 2);
    assert.is((await s.get(c!.alert_ref))?.dedupe_until, isoAt(20));
  });

  test("an alert without an end that dedupes while it fires (a PagerDuty trigger) is joined past its window, until resolved; then a new alert opens", async () => {
    const s = await open();
    const trigger = (): IngestItem => ({ ...item("fp-pd", { ttl: 10 }), joins_firing: true });
    const [a] = await s.ingestBatch([trigger()], T0);
    assert.is((await s.get(a!.alert_ref))?.ends_at, undefined);
    assert.equal((await s.resolveExpired(at(24 * 60), 100)).length, 0);
    const [b] = await s.ingestBatch([trigger()], at(60));
    assert.equal([b?.alert_ref, b?.occurrences, b?.lifecycle], [a?.alert_ref, 1, "refresh"]);
    assert.is((await s.get(a!.alert_ref))?.last_seen_at, isoAt(60));
    const [r] = await s.ingestBatch([{ ...item("fp-pd", { ttl: 10 }), resolve: true }], at(61));
    assert.equal([r?.alert_ref, r?.lifecycle], [a?.alert_ref, "resolved"]);
    const [c] = await s.ingestBatch([trigger()], at(62));
    assert.ok(c?.created);
    assert.is.not(c?.alert_ref, a?.alert_ref);
  });

  test("a re-send of the same firing (its start again) joins it past the window while it fires; another start then opens a new alert", async () => {
    const s = await open();
    const start = isoAt(-1);
    const resend = (endsMin: number, startsAt = start): IngestItem => ({ ...item("fp-prom", { ttl: 10, alert: { starts_at: startsAt } }), explicit_start: true, ends_at: isoAt(endsMin) });
    // Its end far enough ahead that it still fires an hour later, as steady re-sends keep it.
    const [a] = await s.ingestBatch([resend(61)], T0);
    const [b] = await s.ingestBatch([resend(64)], at(60));
    assert.equal([b?.alert_ref, b?.occurrences, b?.lifecycle], [a?.alert_ref, 1, "refresh"]);
    assert.equal([(await s.get(a!.alert_ref))?.last_seen_at, (await s.get(a!.alert_ref))?.ends_at], [isoAt(60), isoAt(64)]);
    const [c] = await s.ingestBatch([resend(66, isoAt(59))], at(61));
    assert.ok(c?.created, "a different start past the window: a new alert");
    // Once its end has passed, the same start past the window is not a re-send: a new alert.
    const [d] = await s.ingestBatch([{ ...item("fp-old", { ttl: 10, alert: { starts_at: start } }), explicit_start: true, ends_at: isoAt(4) }], T0);
    const [e] = await s.ingestBatch([{ ...item("fp-old", { ttl: 10, alert: { starts_at: start } }), explicit_start: true, ends_at: isoAt(70) }], at(60));
    assert.ok(e?.created && e.alert_ref !== d?.alert_ref);
  });

  test("a firing that joins whatever fires (Alertmanager's) with another start is merged: not counted, the earlier start kept, past the window too", async () => {
    const s = await open();
    const am = (startsAt: string, endsMin: number): IngestItem => ({ ...item("fp-ha", { ttl: 10, alert: { starts_at: startsAt } }), explicit_start: true, joins_firing: true, ends_at: isoAt(endsMin) });
    const [a] = await s.ingestBatch([am(isoAt(-1), 30)], T0);
    const [b, c] = await s.ingestBatch([am(isoAt(-2), 34), am(isoAt(-1), 34)], at(5));
    const [d] = await s.ingestBatch([am(isoAt(0), 64)], at(30));
    assert.equal([b, c, d].map((r) => [r?.alert_ref, r?.occurrences, r?.lifecycle]), Array(3).fill([a?.alert_ref, 1, "refresh"]));
    const rec = await s.get(a!.alert_ref);
    assert.equal([rec?.starts_at, rec?.ends_at, rec?.occurrences], [isoAt(-2), isoAt(64), 1]);
  });

  test("Alertmanager's late news of a firing (merges_overlap_ms): a firing that started before the resolve continues it; a resolve that ended before the firing started changes nothing", async () => {
    const s = await open();
    const am = (startsAt: string, endsMin: number, resolve = false): IngestItem => ({
      ...item("fp-late", { ttl: 30, alert: { starts_at: startsAt } }),
      explicit_start: true,
      joins_firing: true,
      merges_overlap_ms: 5 * 60_000,
      ends_at: isoAt(endsMin),
      ...(resolve ? { resolve: true as const } : {}),
    });
    const [a] = await s.ingestBatch([am(isoAt(-1), 4)], T0);
    await s.ingestBatch([am(isoAt(-1), 10, true)], at(10));
    const [late] = await s.ingestBatch([am(isoAt(-2), 14)], at(10.25));
    let rec = await s.get(a!.alert_ref);
    assert.equal([late?.alert_ref, late?.lifecycle, late?.occurrences], [a!.alert_ref, "refresh", 1]);
    assert.equal([rec?.resolved_at, rec?.ends_at, rec?.starts_at, rec?.occurrences], [undefined, isoAt(14), isoAt(-2), 1], "firing again, not counted");
    await s.ingestBatch([am(isoAt(-2), 10.5, true)], at(10.75));
    const [refire] = await s.ingestBatch([am(isoAt(12), 16)], at(12));
    const [stale] = await s.ingestBatch([am(isoAt(-2), 10.5, true)], at(12.25));
    rec = await s.get(a!.alert_ref);
    assert.equal([refire?.lifecycle, stale?.lifecycle, rec?.resolved_at, rec?.starts_at, rec?.occurrences], ["refire", "noop", undefined, isoAt(12), 2]);
  });

  test("late news merges only into a firing its sender resolved: one the sweep or a person resolved fires again", async () => {
    const s = await open();
    const am = (fp: string, startsAt: string, endsMin: number): IngestItem => ({
      ...item(fp, { ttl: 30, alert: { starts_at: startsAt } }),
      explicit_start: true,
      joins_firing: true,
      merges_overlap_ms: 5 * 60_000,
      ends_at: isoAt(endsMin),
    });
    // Its sender went quiet (Prometheus restarting): the sweep resolves it at its ends_at; a person resolves the other.
    const [swept, byHand] = await s.ingestBatch([am("fp-swept", isoAt(-1), 4), am("fp-hand", isoAt(-1), 30)], T0);
    assert.equal((await s.resolveExpired(at(5), 10)).map((r) => r.alert_ref), [swept!.alert_ref]);
    await s.resolve(byHand!.alert_ref, at(6));
    const back = await s.ingestBatch([am("fp-swept", isoAt(-1), 11), am("fp-hand", isoAt(-1), 11)], at(7));
    assert.equal(back.map((r) => [r.lifecycle, r.occurrences]), [["refire", 2], ["refire", 2]]);
  });

  test("a receipt key counts once and replays its first result", async () => {
    const s = await open();
    const r1 = await s.ingestBatch([item("fp-a", { key: "k1" }), item("fp-a", { key: "k1" }), item("fp-a", { key: "k2" })], T0);
    assert.equal(r1[1], { ...r1[0]!, replayed: true });
    assert.equal([r1[2]?.occurrences, r1[2]?.replayed], [2, false]);
    const r2 = await s.ingestBatch([item("fp-a", { key: "k1" }), item("fp-a", { key: "k2" }), item("fp-a", { key: "k3" }), item("fp-a")], at(1));
    assert.equal(r2[0], { ...r1[0]!, replayed: true });
    assert.equal(r2[1], { ...r1[2]!, replayed: true });
    assert.equal(r2.slice(2).map((r) => [r.occurrences, r.replayed]), [[3, false], [4, false]]);
    assert.is((await s.get(r1[0]!.alert_ref))?.occurrences, 4);
  });

  test("stream receipt keys (<stream>@<created>:<seq>) count once across batches, mixed with other keys", async () => {
    const s = await open();
    const key = (seq: number) => `OPS_ALERTS@1700000000000:${seq}`;
    // Non-contiguous sequences, as two workers on one consumer hold them, and a tool key.
    const first = await s.ingestBatch([1, 2, 5, 9].map((seq) => item("fp-s", { key: key(seq) })).concat(item("fp-s", { key: "tool:x" })), T0);
    assert.equal(first.map((r) => r.occurrences), [1, 2, 3, 4, 5]);
    const again = await s.ingestBatch([key(9), key(3), key(5), "tool:x", key(3), "OPS_ALERTS@1800000000000:9"].map((k) => item("fp-s", { key: k })), at(1));
    assert.equal(again.map((r) => [r.occurrences, r.replayed]), [[4, true], [6, false], [3, true], [5, true], [6, true], [7, false]]);
    assert.is((await s.get(first[0]!.alert_ref))?.occurrences, 7);
    const keys = (await s.exportRows()).flatMap((r) => (r.kind === "receipt" ? [r.data.receipt_key] : [])).sort();
    assert.equal(keys, [key(1), key(2), key(3), key(5), key(9), "OPS_ALERTS@1800000000000:9", "tool:x"].sort());
  });

  test("results follow input order across interleaved fingerprints", async () => {
    const s = await open();
    const fps = ["fp-a", "fp-b", "fp-a", "fp-c", "fp-b", "fp-a"];
    const rs = await s.ingestBatch(fps.map((fp) => item(fp)), T0);
    assert.equal(rs.map((r) => r.occurrences), [1, 1, 2, 1, 2, 3]);
    const refOf = new Map<string, string>();
    fps.forEach((fp, i) => {
      const ref = refOf.get(fp) ?? rs[i]!.alert_ref;
      refOf.set(fp, ref);
      assert.is(rs[i]!.alert_ref, ref, `item ${i} (${fp})`);
    });
    assert.is(new Set(refOf.values()).size, 3);
    assert.equal(await s.ingestBatch([], T0), []);
  });

  test("list: window, filters, newest first, limits", async () => {
    const s = await open();
    await s.ingestBatch([item("old")], at(-300));
    await s.ingestBatch([item("a", { alert: { env: "staging", service: "db" } })], at(-10));
    await s.ingestBatch([item("b", { alert: { source: "monitor@node2" } })], at(-5));
    await s.ingestBatch([item("c")], T0);
    const fp = (xs: { fingerprint: string }[]) => xs.map((x) => x.fingerprint);
    assert.equal(fp(await s.list({}, T0)), ["c", "b", "a"]);
    assert.equal(fp(await s.list({ window_minutes: 400 }, T0)), ["c", "b", "a", "old"]);
    assert.equal(fp(await s.list({ window_minutes: 7 }, T0)), ["c", "b"]);
    assert.equal(fp(await s.list({ env: "staging" }, T0)), ["a"]);
    assert.equal(fp(await s.list({ service: "db" }, T0)), ["a"]);
    assert.equal(fp(await s.list({ source: "monitor@node2" }, T0)), ["b"]);
    assert.equal(fp(await s.list({ fingerprint: "c" }, T0)), ["c"]);
    assert.equal(fp(await s.list({ limit: 2 }, T0)), ["c", "b"]);
    await s.ingestBatch(Array.from({ length: 510 }, (_, i) => item(`bulk-${i}`)), at(1));
    assert.is((await s.list({}, at(1))).length, 50);
    assert.is((await s.list({ limit: 10_000 }, at(1))).length, 500);
  });

  test("list filters by severities and kinds", async () => {
    const s = await open();
    await s.ingestBatch([item("p0-crash", { alert: { severity: "P0", kind: "crash" } }), item("p0-lat", { alert: { severity: "P0" } }), item("p3-crash", { alert: { severity: "P3", kind: "crash" } })], T0);
    const fps = async (q: { severity_in?: string[]; kind_in?: string[] }) => (await s.list(q, T0)).map((r) => r.fingerprint).sort();
    assert.equal(await fps({ severity_in: ["P0"] }), ["p0-crash", "p0-lat"]);
    assert.equal(await fps({ kind_in: ["crash"] }), ["p0-crash", "p3-crash"]);
    assert.equal(await fps({ severity_in: ["P0", "P1"], kind_in: ["crash"] }), ["p0-crash"]);
    assert.equal(await fps({ severity_in: [] }), []);
  });

  test("a read naming env and service gives what a window read filtered to them gives: state, severities, kinds, order, limit", async () => {
    const s = await open();
    const fire = (fp: string, alert: Partial<NewAlert>, over: Partial<IngestItem> = {}): IngestItem => ({ ...item(fp, { alert }), ends_at: isoAt(30), ...over });
    const apiCrash = { service: "api", severity: "P0", kind: "crash" } as const;
    await s.ingestBatch([fire("a1", apiCrash), fire("a2", { ...apiCrash, severity: "P3", kind: "latency" }), fire("b1", { ...apiCrash, service: "db" })], T0);
    await s.ingestBatch([fire("a3", apiCrash, { ends_at: isoAt(2) }), fire("a4", { ...apiCrash, kind: "latency" })], at(1));
    await s.ingestBatch([fire("a5", apiCrash), fire("a1", apiCrash, { resolve: true }), fire("s1", { ...apiCrash, env: "staging" })], at(3));
    const now = at(4);
    const fps = async (q: AlertQuery) => (await s.list(q, now)).map((r) => r.fingerprint);
    const prodApi = async (q: AlertQuery) => (await s.list(q, now)).filter((r) => r.env === "prod" && r.service === "api").map((r) => r.fingerprint);
    for (const q of [{ state: "firing", severity_in: ["P0"], kind_in: ["crash"] }, { state: "resolved" }, { severity_in: ["P0", "P3"] }, { kind_in: ["crash", "latency"] }, {}] as AlertQuery[]) {
      assert.equal(await fps({ ...q, env: "prod", service: "api" }), await prodApi(q), JSON.stringify(q));
    }
    // Newest first: a5 seen at 3, a4 at 1; a3's ends_at passed at 2 and a1 was resolved at 3.
    assert.equal(await fps({ env: "prod", service: "api", state: "firing", severity_in: ["P0"] }), ["a5", "a4"]);
    assert.equal((await fps({ env: "prod", service: "api", state: "resolved" })).sort(), ["a1", "a3"]);
    assert.equal(await fps({ env: "prod", service: "api", limit: 2 }), (await prodApi({})).slice(0, 2));
    assert.equal(await fps({ env: "prod", service: "none" }), []);
  });

  test("list and status_in use the effective status; get keeps the stored one", async () => {
    const s = await open();
    const refs = (await s.ingestBatch(["expired", "locked", "retry", "dead", "acked"].map((fp) => item(fp)), T0)).map((r) => r.alert_ref);
    const [expired, locked, retry, dead, acked] = refs as [string, string, string, string, string];
    await s.updateState(expired, {}, { status: "processing", lock_until: isoAt(1) });
    await s.updateState(locked, {}, { status: "processing", lock_until: isoAt(60) });
    await s.updateState(retry, {}, { status: "failed", retry_at: isoAt(1), last_error: "timeout" });
    await s.updateState(dead, {}, { status: "failed", dead: true, retry_at: isoAt(1) });
    await s.updateState(acked, {}, { status: "acked", ack_note: "ok" });
    const now = at(2);
    const statusOf = new Map((await s.list({}, now)).map((r) => [r.alert_ref, r.status]));
    assert.equal([expired, locked, retry, dead, acked].map((r) => statusOf.get(r)), ["new", "processing", "new", "failed", "acked"]);
    const only = async (st: ("new" | "processing" | "acked" | "failed")[]) =>
      (await s.list({ status_in: st }, now)).map((r) => r.alert_ref).sort();
    assert.equal(await only(["new"]), [expired, retry].sort());
    assert.equal(await only(["failed"]), [dead]);
    assert.equal(await only(["processing", "acked"]), [locked, acked].sort());
    const stored = await s.get(expired);
    assert.equal([stored?.status, stored?.lock_until], ["processing", isoAt(1)]);
    assert.is((await s.list({ fingerprint: "retry" }, now))[0]?.last_error, "timeout");
  });

  test("updateState: compare-and-set on status and delivery; null clears", async () => {
    const s = await open();
    const [r] = await s.ingestBatch([item("fp-a")], T0);
    const ref = r!.alert_ref;
    const delivery = { stream_seq: 7, delivery_count: 2, reply: "$JS.ACK.x" };
    const claimed = await s.updateState(ref, { status: "new" }, { status: "processing", owner: "w1", lock_until: isoAt(10), attempts: 1, delivery });
    assert.equal([claimed?.status, claimed?.owner, claimed?.attempts, claimed?.delivery], ["processing", "w1", 1, delivery]);
    assert.equal(await s.get(ref), claimed);
    assert.is(await s.updateState(ref, { status: "new" }, { status: "processing", owner: "w2" }), null, "status mismatch");
    assert.is(await s.updateState(ref, { status: "processing", delivery_count: 1 }, { status: "acked" }), null, "stale delivery");
    assert.is((await s.get(ref))?.owner, "w1");
    const acked = await s.updateState(ref, { status: "processing", delivery_count: 2 }, {
      status: "acked", owner: null, lock_until: null, delivery: null, ack_note: "done", acked_at: isoAt(3),
    });
    assert.ok(acked);
    assert.equal([acked.status, acked.ack_note, acked.acked_at, acked.attempts], ["acked", "done", isoAt(3), 1]);
    for (const gone of ["owner", "lock_until", "delivery"] as const) assert.not.ok(gone in acked, `${gone} cleared`);
    assert.equal(await s.get(ref), acked);
    assert.is(await s.updateState("alrt_missing", {}, { status: "acked" }), null);
  });

  test("updateStates: one patch per alert in one step; absent fields kept, null clears, unknown refs skipped", async () => {
    const s = await open();
    const [a, b] = await s.ingestBatch([item("fp-m1"), item("fp-m2")], T0);
    const delivery = { stream_seq: 3, delivery_count: 1, reply: "$JS.ACK.y" };
    await s.updateState(a!.alert_ref, {}, { status: "processing", owner: "w1", lock_until: isoAt(10), delivery, last_error: "first try" });
    const n = await s.updateStates([
      { alert_ref: a!.alert_ref, patch: { status: "acked", acked_at: isoAt(2), ack_note: "incident inc_1", lock_until: null, delivery: null, attempts: 2 } },
      { alert_ref: b!.alert_ref, patch: { status: "acked", acked_at: isoAt(2), ack_note: "incident inc_2", owner: "w2" } },
      { alert_ref: "alrt_missing", patch: { status: "acked" } },
    ]);
    assert.is(n, 2);
    const ga = (await s.get(a!.alert_ref))!;
    assert.equal([ga.status, ga.ack_note, ga.acked_at, ga.attempts, ga.owner, ga.last_error], ["acked", "incident inc_1", isoAt(2), 2, "w1", "first try"]);
    for (const gone of ["lock_until", "delivery"] as const) assert.not.ok(gone in ga, `${gone} cleared`);
    const gb = (await s.get(b!.alert_ref))!;
    assert.equal([gb.status, gb.ack_note, gb.owner, gb.occurrences], ["acked", "incident inc_2", "w2", 1]);
    assert.is(await s.updateStates([]), 0);
  });

  test("dashboard: counts by effective status, top signatures, latest", async () => {
    const s = await open();
    await s.ingestBatch([item("hot", { ttl: 5 }), item("hot", { ttl: 5 }), item("hot", { ttl: 5 })], at(-20));
    await s.ingestBatch([item("hot", { ttl: 5 }), item("warm"), item("warm"), item("cold")], at(-10));
    await s.ingestBatch([item("ancient")], at(-500));
    const [cold] = await s.list({ fingerprint: "cold" }, T0);
    await s.updateState(cold!.alert_ref, {}, { status: "processing", lock_until: isoAt(30) });
    const d = await s.dashboard(240, T0);
    assert.is(d.window_minutes, 240);
    assert.equal(d.counts_by_status, { new: 3, processing: 1, acked: 0, failed: 0, suppressed: 0 });
    assert.equal(
      d.top_signatures.map((t) => [t.fingerprint, t.alerts, t.occurrences, t.service, t.kind]),
      [["hot", 2, 4, "gateway", "latency"], ["warm", 1, 2, "gateway", "latency"], ["cold", 1, 1, "gateway", "latency"]],
    );
    assert.is(d.latest.length, 4);
    assert.is(d.latest.find((a) => a.fingerprint === "cold")?.status, "processing");
    assert.is((await s.dashboard(240, T0, 2)).latest.length, 2);
    const later = await s.dashboard(240, at(31));
    assert.equal(later.counts_by_status, { new: 4, processing: 0, acked: 0, failed: 0, suppressed: 0 }, "expired lock counts as new");
  });

  test("purgeOlderThan removes old alerts, their fingerprints and old receipts", async () => {
    const s = await open();
    const [old] = await s.ingestBatch([item("fp-old", { key: "k-old", ttl: 600 })], at(-100));
    const [fresh] = await s.ingestBatch([item("fp-new", { key: "k-new" })], T0);
    assert.is(await s.purgeOlderThan(at(-50)), 1);
    assert.is(await s.get(old!.alert_ref), null);
    assert.ok(await s.get(fresh!.alert_ref));
    // The purged alert's window was still open, but it is gone: a new alert opens.
    const [again] = await s.ingestBatch([item("fp-old", { key: "k-old" })], at(1));
    assert.equal([again?.created, again?.replayed], [true, false]);
    const [replay] = await s.ingestBatch([item("fp-new", { key: "k-new" })], at(1));
    assert.is(replay?.replayed, true);
    assert.is(await s.purgeOlderThan(at(-50)), 0);
  });

  test("suppressed: stored with what held it back, listed by status, released by a guarded update, exported", async () => {
    const s = await open();
    const [r] = await s.ingestBatch([item("sup")], T0);
    const suppression = { silenced_by: ["sil-1"], inhibited_by: [], muted_by: ["weekly-maintenance"] };
    const held = await s.updateState(r!.alert_ref, { status: "new" }, { status: "suppressed", suppression });
    assert.equal([held?.status, held?.suppression], ["suppressed", suppression]);
    assert.equal((await s.list({ status_in: ["suppressed"] }, T0)).map((a) => a.alert_ref), [r!.alert_ref]);
    const rows = await s.exportRows();
    assert.equal(rows.filter((x) => x.kind === "alert").map((x) => (x as { data: { suppression?: unknown } }).data.suppression), [suppression]);
    // Two releasers race: the guard lets one through.
    const first = await s.updateState(r!.alert_ref, { status: "suppressed" }, { status: "new", suppression: null });
    const second = await s.updateState(r!.alert_ref, { status: "suppressed" }, { status: "new", suppression: null });
    assert.equal([first?.status, first?.suppression, second], ["new", undefined, null]);
  });

  test("export → import into a fresh store gives equal records, idempotently", async () => {
    const s = await open();
    await s.ingestBatch([item("a", { key: "k1" }), item("a", { key: "k2" }), item("b", { alert: { message: "m" } })], T0);
    await s.ingestBatch([item("a", { key: "OPS_ALERTS@1:7" }), item("b", { key: "OPS_ALERTS@1:8" })], at(0.5));
    const [b] = await s.list({ fingerprint: "b" }, T0);
    await s.updateState(b!.alert_ref, {}, { status: "failed", retry_at: isoAt(5), last_error: "x", attempts: 2 });
    const rows = await s.exportRows();
    assert.is(rows.filter((r) => r.kind === "alert").length, 2);
    assert.is(rows.filter((r) => r.kind === "receipt").length, 4);
    await h!.cleanup();
    const t = await open();
    await t.importRows(rows);
    await t.importRows(rows);
    assert.equal(sortRows(await t.exportRows()), sortRows(rows));
    // Fingerprint pointers and receipts came along: dedupe and replay work on the copy.
    const [dup, replay, streamReplay] = await t.ingestBatch([item("a"), item("a", { key: "k1" }), item("a", { key: "OPS_ALERTS@1:7" })], at(1));
    assert.equal([dup?.deduped, dup?.occurrences], [true, 4]);
    assert.equal([replay?.replayed, replay?.occurrences], [true, 1]);
    assert.equal([streamReplay?.replayed, streamReplay?.occurrences], [true, 3]);
    // An older version of an alert does not overwrite a newer one.
    await t.importRows(rows);
    const [a] = await t.list({ fingerprint: "a" }, at(1));
    assert.is(a?.occurrences, 4);
    await t.clearRows();
    assert.equal(await t.exportRows(), []);
  });

  test.run();
}
