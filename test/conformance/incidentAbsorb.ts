/**
 * The bridge half of the IncidentStore contract (`absorbAlerts`), run against every backend by
 * runIncidentStoreConformance. Each test gets a fresh, empty store.
 */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import type { AbsorbResult, IncidentStore } from "../../src/incidents/store.js";
import { at, isoAt, T0, type MakeStore, type StoreHandle } from "./fixtures.js";
import { absorbInput as inp, bridgePolicy, sortIncidentRows } from "./incidentFixtures.js";

export function runIncidentAbsorbConformance(name: string, makeStore: MakeStore<IncidentStore>): void {
  const test = suite(`${name} IncidentStore.absorbAlerts`);
  let h: StoreHandle<IncidentStore> | undefined;
  const open = async () => (h = await makeStore()).store;
  test.after.each(async () => {
    await h?.cleanup();
    h = undefined;
  });
  const policy = bridgePolicy();
  const one = async (s: IncidentStore, input: ReturnType<typeof inp>, now: Date, p = policy): Promise<AbsorbResult> => {
    const [r] = await s.absorbAlerts([input], p, now);
    assert.ok(r);
    return r;
  };
  const types = async (s: IncidentStore, id: string) => (await s.events({ incident_ids: [id] })).map((e) => e.type);

  test("a new signature opens an incident, severity capped, with its timeline, triage run and state", async () => {
    const s = await open();
    const r = await one(s, inp("sig-a", "r1", { severity: "P0" }), T0);
    assert.equal({ ...r, incident_id: "", event_id: "", triage_run_id: "" }, { incident_id: "", action: "created", event_id: "", triage_run_id: "", replayed: false });
    assert.match(r.incident_id, /^inc_20260301_1200_[0-9a-f]{6}$/);
    assert.equal(await s.get(r.incident_id), {
      id: r.incident_id, service: "gateway", env: "prod", severity: "P1", title: "latency high (r1)", status: "open",
      signature: "sig-a", signature_key: "sig-a", started_at: isoAt(-5), created_at: isoAt(0), updated_at: isoAt(0),
      created_by: "triage@test", alert_count: 1, last_alert_at: isoAt(0), reopened_count: 0,
      labels: { kind: "latency", source: "monitor@node1", fingerprint: "fp-sig-a", first_alert_ref: "r1" },
    });
    const evs = await s.events({ incident_ids: [r.incident_id] });
    assert.equal(evs.map((e) => e.type), ["created", "alert"]);
    const alertEv = evs[1]!;
    assert.equal([alertEv.id, alertEv.dedupe_key, alertEv.author, alertEv.ts], [r.event_id, "alert:r1", "triage@test", isoAt(0)]);
    assert.equal([alertEv.meta.alert_ref, alertEv.meta.triage_run_id, alertEv.meta.action], ["r1", r.triage_run_id, "created"]);
    const run = await s.getRun(r.triage_run_id!);
    assert.equal({ ...run, id: "" }, {
      id: "", graph: "incident_triage", incident_id: r.incident_id, status: "queued", requested_by: "triage@test", trigger: "auto",
      created_at: isoAt(0), updated_at: isoAt(0), attempts: 0, artifacts: [],
    });
    assert.equal(await s.signatureState("sig-a"), {
      signature: "sig-a", open_incident_id: r.incident_id, last_incident_id: r.incident_id, last_alert_at: isoAt(0), last_triage_at: isoAt(0), updated_at: isoAt(0),
    });
    const low = await one(s, inp("sig-b", "r2", { severity: "P3" }), T0);
    assert.is((await s.get(low.incident_id))?.severity, "P3");
    assert.is(await s.signatureState("sig-none"), null);
    assert.equal(await s.absorbAlerts([], policy, T0), []);
  });

  test("inside the dedupe window (inclusive) alerts append, within and across calls", async () => {
    const s = await open();
    const rs = await s.absorbAlerts([inp("sig", "r1"), inp("sig", "r2"), inp("sig", "r3")], policy, T0);
    assert.equal(rs.map((r) => r.action), ["created", "appended", "appended"]);
    const id = rs[0]!.incident_id;
    assert.ok(rs.every((r) => r.incident_id === id));
    const b = await one(s, inp("sig", "r4"), at(30));
    const c = await one(s, inp("sig", "r5"), at(59));
    assert.equal([b.action, b.incident_id, c.action, c.incident_id], ["appended", id, "appended", id]);
    const inc = await s.get(id);
    assert.equal([inc?.alert_count, inc?.last_alert_at, inc?.updated_at], [5, isoAt(59), isoAt(59)]);
    assert.is((await s.list({ signature: "sig" })).length, 1);
  });

  test("an open incident quiet beyond the window is superseded: key cleared, event, new incident", async () => {
    const s = await open();
    const a = await one(s, inp("sig", "r1"), T0);
    const b = await one(s, inp("sig", "r2"), at(31));
    assert.equal([b.action, b.superseded], ["created", a.incident_id]);
    assert.is.not(b.incident_id, a.incident_id);
    const old = await s.get(a.incident_id);
    assert.equal([old?.status, old?.signature, "signature_key" in old!, old?.updated_at], ["open", "sig", false, isoAt(31)]);
    assert.equal(await types(s, a.incident_id), ["created", "alert", "superseded"]);
    const [sup] = await s.events({ incident_ids: [a.incident_id], type: "superseded" });
    assert.is(sup?.meta.superseded_by, b.incident_id);
    assert.equal([(await s.get(b.incident_id))?.signature_key, (await s.signatureState("sig"))?.open_incident_id], ["sig", b.incident_id]);
    const c = await one(s, inp("sig", "r3"), at(32));
    assert.equal([c.action, c.incident_id], ["appended", b.incident_id]);
    assert.equal(await one(s, inp("sig", "r2"), at(33)), { ...b, replayed: true });
    assert.is((await s.list({ signature: "sig" })).length, 2);
    // Each alert is on one timeline once (the events it caused name it differently).
    const refs = (await s.events({})).flatMap((e) => (e.meta.alert_ref === undefined ? [] : [`${e.meta.alert_ref}@${e.incident_id}`]));
    assert.equal(refs.sort(), [`r1@${a.incident_id}`, `r2@${b.incident_id}`, `r3@${b.incident_id}`].sort());
  });

  test("a closed incident is reopened inside the reopen window; after it a new one opens", async () => {
    const s = await open();
    const a = await one(s, inp("sig", "r1"), T0);
    await s.setStatus(a.incident_id, "closed", { by: "sofiia", resolution: "restarted" }, at(10));
    const st = await s.signatureState("sig");
    assert.equal([st?.open_incident_id, st?.last_incident_id], [undefined, a.incident_id]);
    const b = await one(s, inp("sig", "r2"), at(70)); // closed exactly 60 min ago
    assert.equal([b.action, b.incident_id], ["reopened", a.incident_id]);
    const inc = await s.get(a.incident_id);
    assert.equal([inc?.status, inc?.reopened_count, inc?.signature_key, inc?.alert_count], ["open", 1, "sig", 2]);
    assert.not.ok("closed_at" in inc! || "resolution" in inc!);
    assert.equal(await types(s, a.incident_id), ["created", "alert", "status_change", "reopened", "alert"]);
    await s.setStatus(a.incident_id, "closed", { by: "sofiia" }, at(80));
    const c = await one(s, inp("sig", "r3"), at(141));
    assert.equal([c.action, c.superseded], ["created", undefined]);
    assert.is.not(c.incident_id, a.incident_id);
    assert.is((await s.get(a.incident_id))?.status, "closed");
    assert.equal((await s.signatureState("sig"))?.last_incident_id, c.incident_id);
  });

  test("cooldown: inside it a note and no run; at or after it an alert event and a triage run", async () => {
    const s = await open();
    const a = await one(s, inp("sig", "r1"), T0);
    const b = await one(s, inp("sig", "r2"), at(5));
    const c = await one(s, inp("sig", "r3"), at(15));
    const d = await one(s, inp("sig", "r4"), at(16));
    assert.equal([a, b, c, d].map((r) => r.triage_run_id !== undefined), [true, false, true, false]);
    const evs = (await s.events({ incident_ids: [a.incident_id] })).filter((e) => e.dedupe_key);
    assert.equal(evs.map((e) => [e.type, e.meta.cooldown ?? false]), [["alert", false], ["note", true], ["alert", false], ["note", true]]);
    assert.equal(evs.map((e) => e.id), [a, b, c, d].map((r) => r.event_id));
    assert.is((await s.listRuns({ incident_id: a.incident_id })).length, 2);
    assert.is((await s.signatureState("sig"))?.last_triage_at, isoAt(15));
    // A storm inside the cooldown: notes only.
    const storm = await s.absorbAlerts(Array.from({ length: 200 }, (_, i) => inp("sig", `storm-${i}`)), policy, at(17));
    assert.ok(storm.every((r) => r.triage_run_id === undefined && r.incident_id === a.incident_id));
    assert.is((await s.get(a.incident_id))?.alert_count, 204);
    assert.is((await s.events({ incident_ids: [a.incident_id], type: "note" })).length, 202);
  });

  test("escalation by occurrences, step by step and several steps at once; never above P0", async () => {
    const s = await open();
    const p = bridgePolicy({ severity_cap: "P0", escalation: { occurrences: { P3: 2, P2: 3, P1: 5 }, open_minutes: {} } });
    const rs = await s.absorbAlerts(Array.from({ length: 6 }, (_, i) => inp("sig", `r${i}`, { severity: "P3" })), p, T0);
    assert.equal(rs.map((r) => r.escalated && [r.escalated.from, r.escalated.to]), [undefined, ["P3", "P2"], ["P2", "P1"], undefined, ["P1", "P0"], undefined]);
    assert.match(rs[1]!.escalated!.reason, /2 alerts ≥ 2 at P3/);
    const id = rs[0]!.incident_id;
    assert.is((await s.get(id))?.severity, "P0");
    const esc = await s.events({ incident_ids: [id], type: "escalated" });
    assert.equal(esc.map((e) => [e.meta.from, e.meta.to]), [["P3", "P2"], ["P2", "P1"], ["P1", "P0"]]);
    const jump = await one(s, inp("sig-j", "j1", { severity: "P3" }), T0, bridgePolicy({ escalation: { occurrences: { P3: 1, P2: 1 }, open_minutes: {} } }));
    assert.equal([jump.escalated?.from, jump.escalated?.to], ["P3", "P1"]);
    assert.equal(await one(s, inp("sig-j", "j1"), at(1)), { ...jump, replayed: true }, "a replay returns the escalation too");
    const top = await one(s, inp("sig-0", "z1", { severity: "P0" }), T0, bridgePolicy({ severity_cap: "P0", escalation: { occurrences: { P0: 1, P1: 1 }, open_minutes: {} } }));
    assert.equal([top.escalated, (await s.get(top.incident_id))?.severity], [undefined, "P0"]);
  });

  test("escalation by minutes open; severity is never lowered", async () => {
    const s = await open();
    const p = bridgePolicy({ dedupe_window_minutes: 1000, escalation: { occurrences: {}, open_minutes: { P2: 60 } } });
    const a = await one(s, inp("sig", "r1"), T0, p);
    const b = await one(s, inp("sig", "r2"), at(59), p);
    const c = await one(s, inp("sig", "r3"), at(60), p);
    assert.equal([a.escalated, b.escalated, c.escalated?.to], [undefined, undefined, "P1"]);
    assert.match(c.escalated!.reason, /open 60 min ≥ 60 at P2/);
    await s.escalate(a.incident_id, "P1", "P0", "customer impact", "sofiia", at(61));
    const d = await one(s, inp("sig", "r4", { severity: "P3" }), at(62), p);
    assert.equal([d.escalated, (await s.get(a.incident_id))?.severity], [undefined, "P0"]);
  });

  test("a replayed key returns the first result and changes nothing", async () => {
    const s = await open();
    const first = await s.absorbAlerts([inp("sig", "r1"), inp("sig", "r2")], policy, T0);
    const before = sortIncidentRows(await s.exportRows());
    const again = await s.absorbAlerts([inp("sig", "r2"), inp("sig", "r1")], policy, at(45));
    assert.equal(again, [{ ...first[1]!, replayed: true }, { ...first[0]!, replayed: true }]);
    assert.equal(sortIncidentRows(await s.exportRows()), before);
  });

  test("a batch of mixed signatures with a duplicate key: results in input order, each key once", async () => {
    const s = await open();
    const rs = await s.absorbAlerts([inp("A", "r1"), inp("B", "r2"), inp("A", "r3"), inp("A", "r1"), inp("C", "r4"), inp("B", "r5")], policy, T0);
    assert.equal(rs.map((r) => [r.action, r.replayed]), [["created", false], ["created", false], ["appended", false], ["created", true], ["created", false], ["appended", false]]);
    assert.equal(rs[3], { ...rs[0]!, replayed: true });
    assert.equal([rs[2]!.incident_id, rs[5]!.incident_id], [rs[0]!.incident_id, rs[1]!.incident_id]);
    assert.is(new Set(rs.map((r) => r.incident_id)).size, 3);
    const keyed = (await s.events({})).filter((e) => e.dedupe_key !== undefined);
    assert.equal(keyed.map((e) => e.dedupe_key).sort(), ["alert:r1", "alert:r2", "alert:r3", "alert:r4", "alert:r5"]);
    assert.is((await s.listRuns({})).length, 3);
    assert.equal((await s.list({})).map((i) => i.alert_count).sort(), [1, 2, 2]);
  });

  test.run();
}
