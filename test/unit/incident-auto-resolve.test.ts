import { test } from "uvu";
import * as assert from "uvu/assert";
import { IncidentEscalation } from "../../src/config/policies.js";
import { loadPolicies } from "../../src/config/load.js";
import { createLogger } from "../../src/log.js";
import { absorbedAlertRef, planAutoResolve, resolvedSince } from "../../src/incidents/auto-resolve-plan.js";
import { JsonlIncidentStore } from "../../src/stores/incidents/jsonl.js";
import { MemoryIncidentStore } from "../../src/stores/incidents/memory.js";
import type { AlertRecord } from "../../src/subjects/index.js";
import { at, isoAt } from "../conformance/fixtures.js";
import { absorbInput } from "../conformance/incidentFixtures.js";
import {
  absorbAfterReadKeepsOpen, alertRecord, bridge, concurrentSweepsResolveOnce, refireReopens, resolvedIncident, resolvePolicy, sweeper,
} from "./incident-auto-resolve-fixtures.js";
import { tmpDir } from "./incident-fixtures.js";

const open = (severity: "P0" | "P1" | "P2" | "P3" = "P2") => ({ status: "open" as const, severity });
const resolved = (ref: string, minute: number) => alertRecord(ref, { ends_at: isoAt(minute), resolved_at: isoAt(minute) });

test("the shipped policy: P0 stays with humans, P1 after 10 quiet minutes, P2 and P3 after 5", () => {
  const p = loadPolicies("config").incidentEscalation.resolve;
  assert.equal(p, {
    P0: { auto_resolve: false, resolve_quiet_minutes: 15 }, P1: { auto_resolve: true, resolve_quiet_minutes: 10 },
    P2: { auto_resolve: true, resolve_quiet_minutes: 5 }, P3: { auto_resolve: true, resolve_quiet_minutes: 5 },
  });
  assert.equal(IncidentEscalation.parse({}).resolve, p, "the file states the defaults");
  const custom = IncidentEscalation.parse({ resolve: { P0: { auto_resolve: true }, P3: { resolve_quiet_minutes: 0 } } }).resolve;
  assert.equal([custom.P0, custom.P3.resolve_quiet_minutes, custom.P1.resolve_quiet_minutes], [{ auto_resolve: true, resolve_quiet_minutes: 5 }, 0, 10]);
  assert.not.ok(IncidentEscalation.safeParse({ resolve: { P1: { quiet: 3 } } }).success, "unknown keys refused");
  assert.not.ok(IncidentEscalation.safeParse({ resolve: { P1: { resolve_quiet_minutes: -1 } } }).success);
});

test("resolvedSince: resolved_at, else an ends_at that passed; no ends_at (stored before the lifecycle) is firing", () => {
  assert.is(resolvedSince(alertRecord("a", { resolved_at: isoAt(3), ends_at: isoAt(9) }), at(5)), at(3).getTime());
  assert.is(resolvedSince(alertRecord("a", { ends_at: isoAt(4) }), at(5)), at(4).getTime());
  assert.is(resolvedSince(alertRecord("a", { ends_at: isoAt(5) }), at(5)), at(5).getTime(), "ends_at <= now is resolved");
  assert.is(resolvedSince(alertRecord("a", { ends_at: isoAt(6) }), at(5)), undefined);
  assert.is(resolvedSince(alertRecord("a"), at(500)), undefined);
});

test("planAutoResolve: the quiet period runs from the last alert's resolve, per severity", () => {
  const alerts = [resolved("a", 2), resolved("b", 10)];
  assert.equal(planAutoResolve(open(), ["a", "b"], alerts, resolvePolicy, at(14)), { resolve: false, reason: "quiet for less than 5 min" });
  assert.equal(planAutoResolve(open(), ["a", "b", "a"], alerts, resolvePolicy, at(15)), {
    resolve: true, resolution: "auto-resolved: all alerts resolved for 5 min", quiet_minutes: 5, last_resolved_at: isoAt(10), alert_refs: ["a", "b"],
  });
  assert.is(planAutoResolve(open("P3"), ["a", "b"], alerts, resolvePolicy, at(15)).resolve, true);
  assert.is(planAutoResolve(open("P1"), ["a", "b"], alerts, resolvePolicy, at(19)).resolve, false, "P1 waits 10 min");
  const p1 = planAutoResolve(open("P1"), ["a", "b"], alerts, resolvePolicy, at(20));
  assert.ok(p1.resolve && p1.resolution === "auto-resolved: all alerts resolved for 10 min");
  assert.equal(planAutoResolve({ status: "mitigating", severity: "P2" }, ["a"], alerts, resolvePolicy, at(60)).resolve, true);
});

test("planAutoResolve: never for auto_resolve false, a firing or pre-lifecycle alert, a missing alert, no alerts, closed", () => {
  const alerts = [resolved("a", 0), alertRecord("old"), alertRecord("live", { ends_at: isoAt(100) })];
  const no = (d: ReturnType<typeof planAutoResolve>) => (d.resolve ? "resolve" : d.reason);
  assert.is(no(planAutoResolve(open("P0"), ["a"], alerts, resolvePolicy, at(600))), "auto_resolve is off for P0");
  assert.is(no(planAutoResolve(open(), ["a", "old"], alerts, resolvePolicy, at(600))), "alert old is firing");
  assert.is(no(planAutoResolve(open(), ["live", "a"], alerts, resolvePolicy, at(60))), "alert live is firing");
  assert.is(no(planAutoResolve(open(), ["a", "gone"], alerts, resolvePolicy, at(60))), "alert gone not found");
  assert.is(no(planAutoResolve(open(), [], alerts, resolvePolicy, at(60))), "no alerts");
  assert.is(no(planAutoResolve({ status: "closed", severity: "P2" }, ["a"], alerts, resolvePolicy, at(60))), "closed");
  const zero = { ...resolvePolicy, P2: { auto_resolve: true, resolve_quiet_minutes: 0 } };
  assert.is(planAutoResolve(open(), ["a"], alerts, zero, at(0)).resolve, true, "quiet 0: at once");
});

test("absorbedAlertRef: only the bridge's alert and cooldown note events name an absorbed alert", () => {
  const ev = (type: "alert" | "note" | "created" | "followup", meta: Record<string, unknown>) => absorbedAlertRef({ type, meta });
  assert.equal([ev("alert", { alert_ref: "r1" }), ev("note", { alert_ref: "r2" }), ev("created", { caused_by_alert: "r3" }), ev("followup", { alert_ref: "r4" }), ev("alert", { alert_ref: 5 })],
    ["r1", "r2", undefined, undefined, undefined]);
});

test("memory store: alertRefs lists each absorbed alert once per incident", async () => {
  const store = new MemoryIncidentStore();
  await store.init();
  const [r] = await store.absorbAlerts([absorbInput("sig", "r1"), absorbInput("sig", "r2"), absorbInput("other", "r3")], bridge, at(0));
  const [again] = await store.absorbAlerts([{ ...absorbInput("sig", "r1"), dedupe_key: "alert:r1:2" }], bridge, at(1));
  assert.is(again!.incident_id, r!.incident_id);
  const refs = await store.alertRefs([r!.incident_id, r!.incident_id, "inc_unknown"]);
  assert.equal([...refs.entries()], [[r!.incident_id, ["r1", "r2"]], ["inc_unknown", []]]);
});

test("memory store: two concurrent sweeps resolve each incident once", async () => {
  const store = new MemoryIncidentStore();
  await store.init();
  await concurrentSweepsResolveOnce(store);
});

test("memory store: an alert absorbed after the sweep's read keeps the incident open", async () => {
  const store = new MemoryIncidentStore();
  await store.init();
  await absorbAfterReadKeepsOpen(store);
});

test("memory store: a firing inside the reopen window reopens the resolved incident", async () => {
  const store = new MemoryIncidentStore();
  await store.init();
  await refireReopens(store);
});

test("the sweep: P0 and pre-lifecycle incidents stay open; the close is on the timeline with its alerts", async () => {
  const store = new MemoryIncidentStore();
  await store.init();
  const alerts = new Map<string, AlertRecord>();
  const p2 = await resolvedIncident(store, alerts, "p2");
  const [p0] = await store.absorbAlerts([absorbInput("p0", "p0-a", { severity: "P0" })], { ...bridge, severity_cap: "P0" }, at(0));
  alerts.set("p0-a", resolved("p0-a", 1));
  const [old] = await store.absorbAlerts([absorbInput("old", "old-a")], bridge, at(0));
  alerts.set("old-a", alertRecord("old-a"));
  const s = sweeper(store, alerts, { now: at(600) });
  const summary = await s.sweep();
  assert.equal([summary.checked, summary.resolved, summary.raced], [2, [p2], 0], "P0 not even looked at");
  assert.equal([(await store.get(p0!.incident_id))!.status, (await store.get(old!.incident_id))!.status], ["open", "open"]);
  const [ev] = (await store.events({ incident_ids: [p2], type: "status_change" }));
  assert.equal(ev!.meta, {
    auto_resolved: true, quiet_minutes: 5, last_resolved_at: isoAt(10), alert_refs: ["p2-a", "p2-b"],
    from: "open", to: "closed", resolution: "auto-resolved: all alerts resolved for 5 min",
  });
  assert.is(ev!.author, "bridge@test");
  const [pub] = s.published;
  assert.equal(pub, {
    type: "incident.resolved",
    data: {
      incident_id: p2, service: "gateway", env: "prod", severity: "P2", status: "closed", title: "latency high (p2-a)", from: "open",
      by: "bridge@test", event_id: ev!.id, quiet_minutes: 5, resolution: "auto-resolved: all alerts resolved for 5 min",
    },
    id: `resolved:${p2}@${at(600).toISOString()}`,
  });
  const sig = await store.signatureState("p2");
  assert.equal([sig!.open_incident_id, sig!.last_incident_id], [undefined, p2], "the signature's slot is free, the reopen candidate kept");
});

test("the sweep: a failed incident.resolved publish is logged and the close stands (it is not retried as a second close)", async () => {
  const store = new MemoryIncidentStore();
  await store.init();
  const alerts = new Map<string, AlertRecord>();
  const id = await resolvedIncident(store, alerts, "pub");
  const s = sweeper(store, alerts, { now: at(15) });
  const lines: string[] = [];
  s.deps.logger = createLogger({ level: "warn", destination: { write: (l: string) => void lines.push(l) } });
  s.deps.events = { publish: async () => { throw new Error("no PubAck"); } } as unknown as typeof s.deps.events;
  assert.equal((await s.sweep()).resolved, [id]);
  assert.is((await store.get(id))!.status, "closed");
  assert.ok(lines.some((l) => l.includes("incident.resolved publish failed") && l.includes(id)), lines.join("\n"));
  assert.equal((await s.sweep()).resolved, []);
});

test("JSONL store: the guarded close survives a reload", async () => {
  const path = `${tmpDir("auto-resolve")}/incidents.jsonl`;
  const store = new JsonlIncidentStore({ path });
  await store.init();
  const alerts = new Map<string, AlertRecord>();
  const id = await resolvedIncident(store, alerts, "j");
  assert.equal((await sweeper(store, alerts, { now: at(15) }).sweep()).resolved, [id]);
  await store.close();
  const again = new JsonlIncidentStore({ path });
  await again.init();
  assert.equal([(await again.get(id))!.status, (await again.alertRefs([id])).get(id)], ["closed", ["j-a", "j-b"]]);
  await again.close();
});

test.run();
