/**
 * Indexed window reads, run against every backend: what the bridge, graph runs, monitor status and
 * the work reaper read (incidents by service / signature / open status within a time window,
 * events, artifacts and runs of one incident, alerts by last_seen window, alert counts by status,
 * lapsed claims) returns exactly what a scan of every record would. Each answer is checked against
 * the reference filters and orders of src/stores/*\/query.ts applied to every stored record; where
 * the backend can be reopened (JSONL), the same reads are checked again after a reload, whose
 * indexes are rebuilt from the file.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { listRecords } from "../../src/stores/alerts/query.js";
import type { AlertStore } from "../../src/alerts/store.js";
import { byNewestStart, incidentMatches } from "../../src/incidents/query-rules.js";
import type { IncidentQuery, IncidentRecord, IncidentStore } from "../../src/incidents/store.js";
import { at, isoAt, item, type StoreHandle } from "./fixtures.js";
import { artifact, graphRun, newIncident } from "./incidentFixtures.js";

export type ReopenableHandle<S> = StoreHandle<S> & { reopen?(): Promise<S> };
export type MakeReopenable<S> = () => Promise<ReopenableHandle<S>>;

const SERVICES = ["gateway", "billing", "search"] as const;

export function runWindowReadConformance(name: string, makeIncidents: MakeReopenable<IncidentStore>, makeAlerts: MakeReopenable<AlertStore>): void {
  const test = suite(`${name} indexed window reads`);
  const handles: Array<ReopenableHandle<unknown>> = [];
  test.after.each(async () => {
    for (const h of handles.splice(0)) await h.cleanup();
  });
  async function open<S>(make: MakeReopenable<S>): Promise<ReopenableHandle<S>> {
    const h = await make();
    handles.push(h as ReopenableHandle<unknown>);
    return h;
  }
  /** Runs `check` on the store, then again after a reload where the backend has one. */
  async function andAfterReload<S>(h: ReopenableHandle<S>, check: (s: S, when: string) => Promise<void>): Promise<void> {
    await check(h.store, "live");
    if (h.reopen) await check(await h.reopen(), "after reload");
  }

  /** 24 incidents over 3 services and 4 signatures, some sharing a start instant, a third of them closed. */
  async function incidentWorld(s: IncidentStore): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < 24; i++) {
      const minute = Math.floor(i / 2) * 10; // pairs share started_at: ties order by id
      const inc = await s.create(newIncident({ service: SERVICES[i % 3]!, signature: `sig-${i % 4}`, started_at: isoAt(minute), severity: i % 5 === 0 ? "P1" : "P2" }), at(minute));
      ids.push(inc.id);
      if (i % 3 === 1) await s.setStatus(inc.id, "closed", { by: "sofiia", resolution: "fixed" }, at(minute + 1));
    }
    return ids;
  }

  async function reference(s: IncidentStore, ids: string[], q: IncidentQuery, limit: number): Promise<string[]> {
    const all = (await Promise.all(ids.map((id) => s.get(id)))).filter((x): x is IncidentRecord => x !== null);
    return all.filter((r) => incidentMatches(r, q)).sort(byNewestStart).slice(0, limit).map((r) => r.id);
  }

  test("incidents by service, signature, open status and window: exactly the scan's answer, newest first", async () => {
    const h = await open(makeIncidents);
    const ids = await incidentWorld(h.store);
    const queries: Array<IncidentQuery & { limit: number }> = [
      { service: "billing", limit: 1000 },
      { service: "billing", since: isoAt(30), until: isoAt(90), limit: 1000 },
      { signature: "sig-2", limit: 2 },
      { signature: "sig-1", service: "billing", limit: 1000 },
      { status: ["open", "mitigating"], limit: 5 },
      { status: ["open", "mitigating"], limit: 2 }, // a set far larger than the page: walked by started_at
      { service: "gateway", limit: 1 },
      { status: "closed", since: isoAt(20), limit: 1000 },
      { since: isoAt(40), until: isoAt(80), limit: 3 }, // a window alone: stops at the limit
      { since: isoAt(40), until: isoAt(80), limit: 1000 },
      { limit: 7 },
      { service: "nobody", limit: 10 },
      { signature: "sig-3", severity: "P1", limit: 10 },
    ];
    await andAfterReload(h, async (s, when) => {
      for (const q of queries) {
        const got = (await s.list(q)).map((r) => r.id);
        assert.equal(got, await reference(s, ids, q, q.limit), `${when}: ${JSON.stringify(q)}`);
      }
    });
  });

  test("a closed incident leaves the open reads, a reopened one comes back", async () => {
    const h = await open(makeIncidents);
    const s = h.store;
    const a = await s.create(newIncident({ service: "gateway", signature: "sig-x", started_at: isoAt(0) }), at(0));
    const b = await s.create(newIncident({ service: "gateway", signature: "sig-y", started_at: isoAt(5) }), at(5));
    await s.setStatus(a.id, "closed", { by: "sofiia" }, at(6));
    const open_ = async (st: IncidentStore) => (await st.list({ status: ["open", "mitigating"], service: "gateway" })).map((r) => r.id);
    assert.equal(await open_(s), [b.id]);
    await s.setStatus(a.id, "mitigating", { by: "sofiia" }, at(7));
    await s.setStatus(b.id, "closed", { by: "sofiia" }, at(8));
    await andAfterReload(h, async (st) => assert.equal(await open_(st), [a.id]));
  });

  test("events, artifacts and runs of one incident: only its own, in the store's order", async () => {
    const h = await open(makeIncidents);
    const s = h.store;
    const a = await s.create(newIncident({ service: "gateway", started_at: isoAt(0) }), at(0));
    const b = await s.create(newIncident({ service: "billing", started_at: isoAt(0) }), at(0));
    // Interleaved appends at one instant: ties keep the order they were appended in.
    for (let i = 0; i < 3; i++) {
      await s.appendEvent(a.id, { type: "note", message: `a${i}`, author: "x" }, at(3));
      await s.appendEvent(b.id, { type: "note", message: `b${i}`, author: "x" }, at(3));
    }
    await s.appendEvent(b.id, { type: "note", message: "b-early", author: "x" }, at(2));
    await s.putArtifact(artifact(a.id, "triage_report.md"));
    await s.putArtifact(artifact(b.id, "triage_report.md"));
    await s.putArtifact(artifact(b.id, "triage_report.json", { format: "json", created_at: isoAt(2) }));
    const runA = await s.createRun(graphRun(a.id, { updated_at: isoAt(2) }));
    const runB = await s.createRun(graphRun(b.id, { updated_at: isoAt(3) }));
    await s.updateRun(runA.id, ["queued"], { status: "running", updated_at: isoAt(4) });
    await andAfterReload(h, async (st, when) => {
      const msgs = async (ids: string[]) => (await st.events({ incident_ids: ids, type: "note" })).map((e) => e.message);
      assert.equal(await msgs([a.id]), ["a0", "a1", "a2"], when);
      assert.equal(await msgs([b.id]), ["b-early", "b0", "b1", "b2"], when);
      assert.equal(await msgs([a.id, b.id]), ["b-early", "a0", "b0", "a1", "b1", "a2", "b2"], when);
      assert.equal((await st.artifacts(b.id)).map((x) => x.name), ["triage_report.md", "triage_report.json"], when);
      assert.equal((await st.artifacts(a.id)).map((x) => x.name), ["triage_report.md"], when);
      assert.equal((await st.listRuns({ status: ["queued"] })).map((r) => r.id), [runB.id], when);
      assert.equal((await st.listRuns({ status: ["running"] })).map((r) => r.id), [runA.id], when);
      assert.equal((await st.listRuns({ incident_id: a.id })).map((r) => [r.id, r.status]), [[runA.id, "running"]], when);
    });
  });

  /** 30 alerts first seen over 3 hours; some counted again later (which moves last_seen_at), some claimed, acked or failed. */
  async function alertWorld(s: AlertStore): Promise<string[]> {
    const refs: string[] = [];
    for (let i = 0; i < 30; i++) {
      const [r] = await s.ingestBatch([item(`fp-${i}`, { ttl: 600, alert: { service: SERVICES[i % 3]! } })], at(i * 6));
      refs.push(r!.alert_ref);
    }
    // Counted again at minute 200: these move to the front of every window.
    await s.ingestBatch(["fp-2", "fp-11", "fp-20"].map((fp, i) => item(fp, { ttl: 600, alert: { service: SERVICES[[2, 11, 20][i]! % 3]! } })), at(200));
    const delivery = (n: number, seq: number) => ({ stream_seq: seq, delivery_count: n, reply: `$JS.ACK.w.${seq}` });
    for (const [i, n, lockMinute] of [[3, 5, 150], [4, 5, 400], [5, 2, 150], [6, 6, 120], [7, 5, 100]] as const) {
      await s.updateState(refs[i]!, {}, { status: "processing", owner: "w1", lock_until: isoAt(lockMinute), attempts: n, delivery: delivery(n, i) });
    }
    await s.updateState(refs[7]!, {}, { dead: true });
    await s.updateStates([8, 9, 10].map((i) => ({ alert_ref: refs[i]!, patch: { status: "acked" as const, acked_at: isoAt(190) } })));
    await s.updateState(refs[12]!, {}, { status: "failed", retry_at: isoAt(500), last_error: "boom" });
    return refs;
  }

  test("alerts by last_seen window: list, counts by status and lapsed claims agree with a scan of every alert", async () => {
    const h = await open(makeAlerts);
    const refs = await alertWorld(h.store);
    const now = at(210);
    await andAfterReload(h, async (s, when) => {
      const all = await s.getMany(refs);
      assert.is(all.length, 30, when);
      for (const q of [
        { window_minutes: 30, limit: 500 },
        { window_minutes: 60, limit: 2 },
        { window_minutes: 240, limit: 500 },
        { window_minutes: 240, limit: 4, service: "billing" },
        { window_minutes: 240, status_in: ["new" as const], limit: 6 },
        { window_minutes: 240, status_in: ["processing" as const, "failed" as const], limit: 500 },
      ]) {
        assert.equal((await s.list(q, now)).map((a) => a.alert_ref), listRecords(all, q, now).map((a) => a.alert_ref), `${when}: ${JSON.stringify(q)}`);
      }
      for (const w of [15, 60, 240]) {
        assert.equal(await s.statusCounts(w, now), (await s.dashboard(w, now)).counts_by_status, `${when}: counts over ${w} min`);
      }
      // Deliveries ≥ 5 with the lock lapsed by minute 210, not dead: 7 is dead, 4 still locked, 5 on delivery 2.
      assert.equal((await s.lapsedClaims(now, 5, 10)).map((a) => a.alert_ref), [refs[6], refs[3]], `${when}: lapsed claims`);
      assert.equal((await s.lapsedClaims(now, 5, 1)).map((a) => a.alert_ref), [refs[6]], `${when}: limit`);
      assert.equal((await s.lapsedClaims(now, 2, 10)).map((a) => a.alert_ref), [refs[6], refs[3], refs[5]], `${when}: from delivery 2`);
    });
    // Acked claims leave the reaper's input.
    await h.store.updateStates([{ alert_ref: refs[6]!, patch: { status: "acked", lock_until: null } }]);
    assert.equal((await h.store.lapsedClaims(now, 5, 10)).map((a) => a.alert_ref), [refs[3]]);
  });

  test.run();
}
