import { test } from "uvu";
import * as assert from "uvu/assert";
import { bridgeAlert } from "../../src/incidents/bridge.js";
import { gatherReportInput } from "../../src/incidents/report-input.js";
import { buildPostmortemDraft, buildTriageReport } from "../../src/incidents/reports.js";
import { MemoryAlertStore } from "../../src/stores/alerts/memory.js";
import type { NewAlert } from "../../src/alerts/store.js";
import type { BridgePolicy } from "../../src/incidents/store.js";
import { at, followup, MemoryIncidentStore, policy, seed } from "./incident-fixtures.js";

const SIG = "gateway|prod|error_rate";
const BRIDGE: BridgePolicy = {
  dedupe_window_minutes: 60,
  reopen_window_minutes: 30,
  triage_cooldown_minutes: 15,
  severity_cap: "P1",
  escalation: { occurrences: {}, open_minutes: {} },
  actor: "triage@test",
};
const NOW = at("2026-03-10T14:00:00Z");

function alert(n: number, over: Partial<NewAlert> = {}): NewAlert {
  return {
    fingerprint: `fp-${n}`,
    service: "gateway",
    title: `5xx rate above 5% (#${n})`,
    kind: "error_rate",
    severity: "P1",
    env: "prod",
    source: "monitor@node1",
    labels: {},
    meta: {},
    starts_at: `2026-03-10T12:0${n}:00.000Z`,
    ...over,
  };
}

/** An incident from three alerts (one deduped twice), notes, follow-ups, and an earlier resolved one of the same signature. */
async function world() {
  const incidents = new MemoryIncidentStore();
  const alerts = new MemoryAlertStore();
  const earlier = await seed(incidents, { service: "gateway", kind: "error_rate", signature: SIG, started_at: "2026-03-08T09:00:00Z", closed_at: "2026-03-08T10:00:00Z", resolution: "raised the pool size" });
  const ingested = await alerts.ingestBatch([0, 1, 1, 1, 2].map((n) => ({ alert: alert(n), dedupe_ttl_minutes: 30 })), at("2026-03-10T12:05:00Z"));
  const refs = [...new Set(ingested.map((r) => r.alert_ref))];
  let incidentId = "";
  for (const [i, ref] of refs.entries()) {
    const a = (await alerts.get(ref))!;
    const [res] = await incidents.absorbAlerts([{ signature: SIG, alert: bridgeAlert(a), dedupe_key: `alert:${ref}` }], BRIDGE, at(`2026-03-10T12:1${i}:00Z`));
    incidentId = res!.incident_id;
  }
  await incidents.appendEvent(incidentId, { type: "note", message: "Looking at the DB pool | saturated\nsecond line", author: "helion" }, at("2026-03-10T12:30:00Z"));
  await followup(incidents, incidentId, { followup_id: "fu_1", title: "Pool alert", owner: "db-team", due_date: "2026-03-09" }, "2026-03-10T12:40:00Z");
  await followup(incidents, incidentId, { followup_id: "fu_2", title: "Load test", owner: "perf-team", due_date: "2026-03-20" }, "2026-03-10T12:41:00Z");
  await followup(incidents, incidentId, { followup_id: "fu_2", status: "done" }, "2026-03-10T12:50:00Z");
  return { incidents, alerts, incidentId, earlier, refs };
}

test("triage report: what fired, how often, since when, related, owner, next steps", async () => {
  const { incidents, alerts, incidentId, earlier, refs } = await world();
  const input = await gatherReportInput({ incidents, alerts, policy }, incidentId, NOW);
  assert.equal(input.alert_refs, refs);
  const { data, md } = buildTriageReport(input);
  assert.equal(data.what_fired.alerts.map((a) => [a.alert_ref, a.occurrences]), [[refs[0], 1], [refs[1], 3], [refs[2], 1]]);
  assert.is(data.how_often.occurrences, 5);
  assert.is(data.how_often.alerts_absorbed, 3);
  assert.is(data.since_when.first_alert_at, "2026-03-10T12:00:00.000Z");
  assert.equal(data.related.map((r) => r.incident_id), [earlier.id]);
  assert.equal(data.suggested_owner, { owner: "db-team", source: "followup" }); // fu_2 is done
  assert.ok(data.next_steps.some((s) => s.includes(earlier.id) && s.includes("raised the pool size")));
  assert.ok(data.next_steps.some((s) => s.includes("Overdue follow-ups: Pool alert (db-team)")));
  assert.ok(data.next_steps.some((s) => s.includes("deploys")), "error_rate hint");
  for (const needle of ["# Triage: ", "## What fired", "## How often", "## Since when", "## Related incidents", "## Suggested owner", "## Next steps", refs[1]!]) {
    assert.ok(md.includes(needle), needle);
  }
});

test("suggested owner falls back to the owner label, then <service> on-call", async () => {
  const incidents = new MemoryIncidentStore();
  const labelled = await seed(incidents, { started_at: "2026-03-10T10:00:00Z", labels: { owner: "edge-team" } });
  const bare = await seed(incidents, { service: "billing", started_at: "2026-03-10T10:00:00Z" });
  const owner = async (id: string) => buildTriageReport(await gatherReportInput({ incidents, policy }, id, NOW)).data.suggested_owner;
  assert.equal(await owner(labelled.id), { owner: "edge-team", source: "label" });
  assert.equal(await owner(bare.id), { owner: "billing on-call", source: "default" });
});

test("postmortem draft contains every timeline event, in order", async () => {
  const { incidents, alerts, incidentId } = await world();
  await incidents.setStatus(incidentId, "closed", { by: "sofiia", resolution: "pool size raised again" }, at("2026-03-10T13:30:00Z"));
  const input = await gatherReportInput({ incidents, alerts, policy }, incidentId, NOW);
  const events = await incidents.events({ incident_ids: [incidentId] });
  assert.ok(events.length >= 9, String(events.length));
  const { data, md } = buildPostmortemDraft(input);
  assert.equal(data.timeline.map((e) => e.id), events.map((e) => e.id));
  // In the markdown, each event is a row, in the same order.
  let from = 0;
  for (const e of events) {
    const row = md.indexOf(`| ${e.ts} | ${e.type} | ${e.author} |`, from);
    assert.ok(row >= from, `event ${e.id} (${e.type}) missing or out of order`);
    from = row + 1;
  }
  assert.ok(md.includes("Looking at the DB pool \\| saturated second line"), "pipes escaped, newlines folded");
  assert.equal([data.impact.duration_minutes, data.impact.alerts, data.impact.occurrences, data.impact.ongoing], [90, 3, 5, false]);
  assert.equal(data.contributing_signals.by_fingerprint.map((s) => [s.fingerprint, s.occurrences]), [["fp-1", 3], ["fp-0", 1], ["fp-2", 1]]);
  assert.equal(data.followups.map((f) => [f.followup_id, f.status, f.days_overdue]), [["fu_1", "open", 1], ["fu_2", "done", null]]);
  assert.ok(data.open_questions.some((q) => q.includes("repeat of")));
  for (const needle of ["## Summary", "## Impact", "## Timeline", "## Contributing signals", "## Follow-ups", "## Open questions", "pool size raised again"]) {
    assert.ok(md.includes(needle), needle);
  }
});

test("same input → byte-identical output (builders and a second gather)", async () => {
  const { incidents, alerts, incidentId } = await world();
  const a = await gatherReportInput({ incidents, alerts, policy }, incidentId, NOW);
  const b = await gatherReportInput({ incidents, alerts, policy }, incidentId, NOW);
  for (const build of [buildTriageReport, buildPostmortemDraft]) {
    const x = build(a);
    const y = build(structuredClone(a));
    const z = build(b);
    assert.is(x.md, y.md);
    assert.is(x.json, y.json);
    assert.is(x.md, z.md);
    assert.is(x.json, z.json);
    assert.equal(JSON.parse(x.json), x.data);
  }
  // The clock only comes in through the input.
  const later = buildTriageReport(await gatherReportInput({ incidents, alerts, policy }, incidentId, at("2026-03-10T15:00:00Z")));
  assert.is.not(later.json, buildTriageReport(a).json);
});

test("missing alerts (retention) are reported, not fatal; unknown incident is not_found", async () => {
  const { incidents, incidentId } = await world();
  const input = await gatherReportInput({ incidents, alerts: new MemoryAlertStore(), policy }, incidentId, NOW);
  const { data } = buildTriageReport(input);
  assert.is(data.what_fired.missing_alert_refs.length, 3);
  assert.ok(data.next_steps.some((s) => s.includes("no longer in the alert store")));
  try {
    await gatherReportInput({ incidents, policy }, "inc_20260310_1200_ffffff", NOW);
    assert.unreachable();
  } catch (err) {
    assert.is((err as { code: string }).code, "not_found");
  }
});

test.run();
