/**
 * Issue 11, finding 8: the bridge, graph runs, monitor status and the work reaper do work in
 * proportion to the batch or window, not to every incident or alert. Here with stand-ins (no NATS):
 * the records a triage report reads, the status counts, and the ordered index they all use; plus
 * the `incident.created` fields (finding 9).
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { AlertRoutingPolicy, IncidentEscalation } from "../../src/config/policies.js";
import { IncidentBridge } from "../../src/incidents/bridge.js";
import type { GraphRuns } from "../../src/incidents/graph-runs.js";
import { gatherReportInput } from "../../src/incidents/report-input.js";
import { createLogger } from "../../src/log.js";
import type { EventPublisher } from "../../src/nats/events.js";
import { MemoryAlertStore } from "../../src/stores/alerts/memory.js";
import { planAbsorb } from "../../src/incidents/absorb-plan.js";
import { TimeIndex } from "../../src/stores/time-index.js";
import type { IncidentQuery, IncidentStore } from "../../src/incidents/store.js";
import { IncidentCreatedData, type AlertRecord } from "../../src/subjects/index.js";
import { at, MemoryIncidentStore, policy, seed } from "./incident-fixtures.js";

/** Counts the incident records every list() returns (what a read costs the caller). */
function counting(store: IncidentStore): { store: IncidentStore; read: () => number } {
  let read = 0;
  const proxy = new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === "list") {
        return async (q: IncidentQuery) => {
          const out = await target.list(q);
          read += out.length;
          return out;
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { store: proxy, read: () => read };
}

test("a triage report reads its incident's signature, service and time neighbourhood, not every incident of the window", async () => {
  const store = new MemoryIncidentStore();
  // 3,000 incidents over 300 services in the last three days, two signatures per service.
  for (let i = 0; i < 3000; i++) {
    const minute = i; // one a minute: a 180-minute neighbourhood holds 361 of them
    const service = `svc-${i % 300}`;
    await seed(store, { service, signature: `${service}|${Math.floor(i / 300) % 2}`, kind: i % 2 ? "latency" : "error_rate", started_at: new Date(Date.parse("2026-03-08T00:00:00Z") + minute * 60_000).toISOString() });
  }
  const target = (await store.list({ service: "svc-7", limit: 1 }))[0]!;
  const c = counting(store);
  const input = await gatherReportInput({ incidents: c.store, policy }, target.id, at("2026-03-10T12:00:00Z"));
  // Before: the whole 30-day window for correlation and the whole 14-day window for recurrence (6,000+).
  assert.ok(c.read() <= 300, `read ${c.read()} incidents for one report`);
  assert.is(input.recurrence.service?.count, 10, "svc-7 had 10 incidents in the window");
  assert.is(input.recurrence.signature?.count, 5);
  assert.ok(input.related.length > 0);
});

test("incident.created carries service, env, severity (capped) and title, valid against its schema", async () => {
  const incidents = new MemoryIncidentStore();
  const published: Array<{ type: string; data: Record<string, unknown> }> = [];
  const events = { publish: async (type: string, data: Record<string, unknown>) => void published.push({ type, data }) } as unknown as EventPublisher;
  const graphs = { publish: async () => undefined } as unknown as GraphRuns;
  const bridge = new IncidentBridge({
    incidents, alerts: new MemoryAlertStore(), routing: AlertRoutingPolicy.parse({}), escalation: IncidentEscalation.parse({}),
    events, graphs, actor: "triage@test", logger: createLogger({ level: "silent" }), now: () => at("2026-03-10T12:00:00Z"),
  });
  const alert = {
    alert_ref: "alrt_1", fingerprint: "fp1", service: "payments", env: "staging", kind: "crash", severity: "P0", title: "payments crash loop",
    source: "m@n1", occurrences: 1, starts_at: "2026-03-10T11:59:00.000Z", last_seen_at: "2026-03-10T12:00:00.000Z", created_at: "2026-03-10T12:00:00.000Z",
    status: "new", attempts: 0, labels: {}, meta: {}, dedupe_until: "2026-03-10T12:30:00.000Z",
  } as unknown as AlertRecord;
  const [r] = await bridge.absorb([alert]);
  const created = published.find((p) => p.type === "incident.created")!;
  const data = IncidentCreatedData.parse(created.data);
  assert.equal([data.incident_id, data.service, data.env, data.severity, data.title], [r!.incident_id, "payments", "staging", "P1", "payments crash loop"]);
  const stored = await incidents.get(r!.incident_id);
  assert.equal([stored!.service, stored!.env, stored!.severity, stored!.title], [data.service, data.env, data.severity, data.title], "the event says what the store holds");
});

test("monitor status counts: the window's counts without reading older alerts", async () => {
  const s = new MemoryAlertStore();
  await s.init();
  const item = (fp: string) => ({ alert: { fingerprint: fp, service: "a", title: "t", kind: "latency", severity: "P2" as const, env: "prod" as const, source: "m", labels: {}, meta: {}, starts_at: "2026-03-10T00:00:00Z" }, dedupe_ttl_minutes: 30 });
  for (let h = 0; h < 48; h++) await s.ingestBatch(Array.from({ length: 50 }, (_, i) => item(`fp-${h}-${i}`)), new Date(Date.parse("2026-03-08T00:00:00Z") + h * 3_600_000));
  const now = new Date("2026-03-09T23:30:00Z");
  const counts = await s.statusCounts(60, now);
  assert.equal(counts, { new: 50, processing: 0, acked: 0, failed: 0, suppressed: 0 });
  assert.equal(counts, (await s.dashboard(60, now)).counts_by_status);
});

test("a new incident never takes an id in use: a busy minute draws 24-bit ids twice (thousands of new signatures)", () => {
  const asked: string[] = [];
  const inputs = ["a", "b", "c"].map((sig, i) => ({
    signature: sig, dedupe_key: `alert:r${i}`,
    alert: { alert_ref: `r${i}`, fingerprint: `f${i}`, service: "s", env: "prod" as const, kind: "latency", severity: "P2" as const, title: "t", source: "m", occurrences: 1, starts_at: "2026-03-10T12:00:00Z", last_seen_at: "2026-03-10T12:00:00Z" },
  }));
  const policy_ = { dedupe_window_minutes: 60, reopen_window_minutes: 30, triage_cooldown_minutes: 15, severity_cap: "P1" as const, escalation: { occurrences: {}, open_minutes: {} }, actor: "t" };
  const plan = planAbsorb(inputs, policy_, at("2026-03-10T12:00:00Z"), {
    signature: () => undefined, incident: () => undefined, eventByKey: () => undefined,
    // The first five ids drawn are "taken" by incidents the store already holds.
    idTaken: (id) => (asked.push(id), asked.length <= 5),
  });
  const ids = plan.incidents.map((i) => i.id);
  assert.is(new Set(ids).size, 3);
  for (const id of ids) assert.not.ok(asked.slice(0, 5).includes(id), `${id} was taken`);
  assert.ok(asked.length >= 8);
});

test("TimeIndex: newest-first windows agree with a sorted scan through inserts, moves and deletes", () => {
  const idx = new TimeIndex();
  const ref = new Map<string, number>();
  let seed_ = 7;
  const rand = (n: number) => ((seed_ = (seed_ * 1103515245 + 12345) % 2 ** 31) % n);
  for (let step = 0; step < 20_000; step++) {
    const id = `id-${rand(3000)}`;
    const op = rand(10);
    if (op < 7) {
      const t = rand(5000);
      idx.set(id, t);
      ref.set(id, t);
    } else {
      idx.delete(id);
      ref.delete(id);
    }
  }
  const expect = (lo: number, hi: number) =>
    [...ref].filter(([, t]) => t >= lo && t < hi).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? 1 : -1)).map(([id]) => id);
  assert.is(idx.size, ref.size);
  for (const [lo, hi] of [[-Infinity, Infinity], [1000, 1001], [0, 2500], [4990, Infinity], [2000, 2000]] as const) {
    assert.equal([...idx.newestFirst(lo, hi)], expect(lo, hi), `[${lo}, ${hi})`);
  }
});

test.run();
