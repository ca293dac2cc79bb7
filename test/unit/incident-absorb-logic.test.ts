import { test } from "uvu";
import * as assert from "uvu/assert";
import { capSeverity, escalationTarget, planAbsorb } from "../../src/incidents/absorb-plan.js";
import type { IncidentRecord, SignatureState } from "../../src/incidents/store.js";
import { at, T0 } from "../conformance/fixtures.js";
import { absorbInput, bridgePolicy, incidentRecord } from "../conformance/incidentFixtures.js";

test("capSeverity: never more severe than the cap", () => {
  assert.equal([capSeverity("P0", "P1"), capSeverity("P1", "P1"), capSeverity("P3", "P1"), capSeverity("P0", "P0")], ["P1", "P1", "P3", "P0"]);
});

test("escalationTarget: steps while thresholds hold, by count or minutes; closed, P0 and unmet give null", () => {
  const policy = bridgePolicy({ escalation: { occurrences: { P3: 3, P2: 5 }, open_minutes: { P2: 30, P1: 60 } } });
  const inc = (over: Partial<IncidentRecord>) => incidentRecord("inc_x", { severity: "P3", alert_count: 1, ...over });
  assert.is(escalationTarget(inc({}), policy, T0), null);
  assert.equal(escalationTarget(inc({ alert_count: 3 }), policy, T0), { to: "P2", reason: "3 alerts ≥ 3 at P3" });
  assert.equal(escalationTarget(inc({ alert_count: 5 }), policy, T0)?.to, "P1");
  assert.equal(escalationTarget(inc({ alert_count: 3 }), policy, at(30)), { to: "P1", reason: "3 alerts ≥ 3 at P3; open 30 min ≥ 30 at P2" });
  assert.equal(escalationTarget(inc({ alert_count: 3 }), policy, at(60))?.to, "P0");
  assert.is(escalationTarget(inc({ severity: "P0", alert_count: 100 }), policy, at(600)), null);
  assert.is(escalationTarget(inc({ alert_count: 9, status: "closed" }), policy, T0), null);
});

test("planAbsorb never changes what the view returns", () => {
  const stored = incidentRecord("inc_a", { signature: "sig", signature_key: "sig", alert_count: 1, last_alert_at: T0.toISOString(), labels: { a: 1 } });
  const state: SignatureState = { signature: "sig", open_incident_id: "inc_a", last_incident_id: "inc_a", last_triage_at: T0.toISOString(), updated_at: T0.toISOString() };
  const before = structuredClone([stored, state]);
  const plan = planAbsorb([absorbInput("sig", "r1"), absorbInput("sig", "r2")], bridgePolicy({ escalation: { occurrences: { P2: 2 }, open_minutes: {} } }), at(1), {
    signature: () => state,
    incident: (id) => (id === "inc_a" ? stored : undefined),
    eventByKey: () => undefined,
  });
  assert.equal([stored, state], before);
  assert.equal(plan.incidents.map((i) => [i.id, i.alert_count, i.severity]), [["inc_a", 3, "P1"]]);
  assert.equal(plan.events.map((e) => e.type), ["note", "escalated", "note"]);
  assert.equal(plan.signatures.map((s) => s.last_alert_at), [at(1).toISOString()]);
  assert.equal(plan.runs, []);
});

test.run();
