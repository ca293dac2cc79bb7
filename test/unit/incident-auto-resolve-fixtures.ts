/**
 * The auto-resolve sweep over a real incident store with alerts held in a map (the sweep reads
 * alerts only through getMany): scenarios shared by the memory unit test and the Postgres
 * integration test.
 */
import * as assert from "uvu/assert";
import { IncidentEscalation } from "../../src/config/policies.js";
import { sweepAutoResolve, type AutoResolveDeps } from "../../src/incidents/auto-resolve.js";
import type { IncidentStore } from "../../src/incidents/store.js";
import { createLogger } from "../../src/log.js";
import type { EventPublisher } from "../../src/nats/events.js";
import type { AlertRecord } from "../../src/subjects/index.js";
import { at, isoAt } from "../conformance/fixtures.js";
import { absorbInput, bridgePolicy } from "../conformance/incidentFixtures.js";

export const resolvePolicy = IncidentEscalation.parse({}).resolve;
/** Reopen window 30 min, as alert_routing_policy.yml ships. */
export const bridge = bridgePolicy({ reopen_window_minutes: 30, dedupe_window_minutes: 600 });

export function alertRecord(ref: string, over: Partial<AlertRecord> = {}): AlertRecord {
  return {
    alert_ref: ref, fingerprint: `fp-${ref}`, service: "gateway", title: "latency high", kind: "latency", severity: "P2",
    env: "prod", source: "monitor@node1", labels: {}, meta: {}, starts_at: isoAt(0), created_at: isoAt(0), last_seen_at: isoAt(0),
    dedupe_until: isoAt(30), occurrences: 1, status: "acked", attempts: 1, dead: false, ...over,
  };
}

export interface Published { type: string; data: Record<string, unknown>; id: string | undefined }

export function sweeper(store: IncidentStore, alerts: Map<string, AlertRecord>, clock: { now: Date }, actor = "bridge@test") {
  const published: Published[] = [];
  const events = {
    publish: async (type: string, data: Record<string, unknown>, id?: string) => {
      published.push({ type, data, id });
      return { stream: "OPS_EVENTS", seq: published.length, duplicate: false };
    },
  } as unknown as Pick<EventPublisher, "publish">;
  const deps: AutoResolveDeps = {
    incidents: store,
    alerts: { getMany: async (refs) => refs.flatMap((r) => (alerts.has(r) ? [structuredClone(alerts.get(r)!)] : [])) },
    policy: resolvePolicy,
    events,
    actor,
    logger: createLogger({ level: "silent" }),
    now: () => clock.now,
  };
  return { deps, published, sweep: () => sweepAutoResolve(deps) };
}

/** One P2 incident from two alerts of signature `sig`, both resolved at minute 10 (P2 quiet: 5 min). */
export async function resolvedIncident(store: IncidentStore, alerts: Map<string, AlertRecord>, sig: string) {
  const [a, b] = [`${sig}-a`, `${sig}-b`];
  const [r] = await store.absorbAlerts([absorbInput(sig, a), absorbInput(sig, b)], bridge, at(0));
  alerts.set(a, alertRecord(a, { ends_at: isoAt(8), resolved_at: isoAt(8) }));
  alerts.set(b, alertRecord(b, { ends_at: isoAt(10) })); // resolved by its ends_at passing
  return r!.incident_id;
}

/** Status-change events of an incident that the sweep wrote. */
export async function autoCloses(store: IncidentStore, id: string) {
  return (await store.events({ incident_ids: [id], type: "status_change" })).filter((e) => e.meta.auto_resolved === true);
}

/** Four sweeps at once (gateways, each on its own store handle): one close, one event, one incident.resolved. */
export async function concurrentSweepsResolveOnce(store: IncidentStore, handles: IncidentStore[] = [store]): Promise<void> {
  const alerts = new Map<string, AlertRecord>();
  const clock = { now: at(14) };
  const ids = await Promise.all(["s1", "s2", "s3"].map((s) => resolvedIncident(store, alerts, s)));
  const sweeps = Array.from({ length: 4 }, (_, i) => sweeper(handles[i % handles.length]!, alerts, clock, `bridge@node${i}`));
  const early = await sweeps[0]!.sweep();
  assert.equal(early.resolved, [], "4 min after the last resolve: inside the P2 quiet period");
  clock.now = at(15);
  const results = await Promise.all(sweeps.map((s) => s.sweep()));
  assert.equal(results.flatMap((r) => r.resolved).sort(), [...ids].sort(), "each incident resolved by exactly one sweep");
  for (const id of ids) {
    const inc = (await store.get(id))!;
    assert.is(inc.status, "closed");
    assert.is(inc.resolution, "auto-resolved: all alerts resolved for 5 min");
    assert.is((await autoCloses(store, id)).length, 1, `one timeline event for ${id}`);
    const pubs = sweeps.flatMap((s) => s.published).filter((p) => p.data.incident_id === id);
    assert.equal(pubs.map((p) => p.type), ["incident.resolved"]);
    assert.is(pubs[0]!.data.resolution, inc.resolution);
  }
  const again = await sweeps[1]!.sweep();
  assert.equal([again.resolved, again.raced], [[], 0], "closed incidents are not resolved again");
}

/** A firing absorbed between the sweep's read and its close keeps the incident open. */
export async function absorbAfterReadKeepsOpen(store: IncidentStore): Promise<void> {
  const alerts = new Map<string, AlertRecord>();
  const id = await resolvedIncident(store, alerts, "late");
  const read = (await store.get(id))!;
  await store.absorbAlerts([absorbInput("late", "late-c")], bridge, at(15));
  alerts.set("late-c", alertRecord("late-c", { ends_at: isoAt(20) }));
  const closed = await store.closeIfUnchanged(read, { by: "bridge@test", resolution: "auto-resolved" }, at(15));
  assert.is(closed, null, "changed since read: not closed");
  const inc = (await store.get(id))!;
  assert.equal([inc.status, inc.alert_count], ["open", 3]);
  const s = sweeper(store, alerts, { now: at(15) });
  assert.equal((await s.sweep()).resolved, [], "the new alert fires until minute 20");
}

/** Resolved at minute 15, a firing at minute 40 (inside the 30-minute window) reopens it; the sweep resolves it again later. */
export async function refireReopens(store: IncidentStore): Promise<void> {
  const alerts = new Map<string, AlertRecord>();
  const id = await resolvedIncident(store, alerts, "flap");
  const s = sweeper(store, alerts, { now: at(15) });
  assert.equal((await s.sweep()).resolved, [id]);
  const [r] = await store.absorbAlerts([absorbInput("flap", "flap-a", { occurrences: 2 })].map((x) => ({ ...x, dedupe_key: "alert:flap-a:2" })), bridge, at(40));
  assert.equal([r!.incident_id, r!.action], [id, "reopened"]);
  alerts.set("flap-a", alertRecord("flap-a", { ends_at: isoAt(45), occurrences: 2 }));
  const reopened = (await store.get(id))!;
  assert.equal([reopened.status, reopened.reopened_count], ["open", 1]);
  const later = sweeper(store, alerts, { now: at(47) });
  assert.equal((await later.sweep()).resolved, [], "2 min after the refire resolved");
  const t = sweeper(store, alerts, { now: at(50) });
  assert.equal((await t.sweep()).resolved, [id], "resolved again after its quiet period");
  assert.is((await autoCloses(store, id)).length, 2);
  assert.is(new Set(t.published.concat(s.published).map((p) => p.id)).size, 2, "each resolve has its own event id");
}
