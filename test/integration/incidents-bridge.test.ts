/**
 * The alert → incident bridge end to end on a suite-owned nats-server and Postgres database:
 * alert → incident → triage artifact, dedupe window, severity cap, cooldown storm, reopen window,
 * escalation, and redelivery. A controllable clock stands in for waiting out the windows.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { IncidentEvent, IncidentRecord } from "../../src/incidents/store.js";
import { IncidentCreatedData } from "../../src/subjects/index.js";
import { incidentBridge, startIncidentBridge } from "../../src/app/incidents.js";
import { createTestDatabase } from "../harness/postgres.js";
import { startStack, testClock, type PolicyOverrides, type Stack } from "../harness/stack.js";
import { waitFor } from "../harness/wait.js";

const db = await createTestDatabase();
const stacks: Stack[] = [];
const clock = testClock();
let seq = 0;

async function stack(policies: PolicyOverrides = {}, roles: Array<"gateway" | "alerts-in" | "incident-bridge" | "graph-runs"> = ["gateway", "alerts-in", "incident-bridge", "graph-runs"]): Promise<Stack> {
  const s = await startStack({
    roles,
    policies,
    now: clock.now,
    env: { ALERT_BACKEND: "postgres", INCIDENT_BACKEND: "postgres", DATABASE_URL: db.url },
  });
  stacks.push(s);
  return s;
}
test.after.each(async () => {
  await Promise.all(stacks.splice(0).map((s) => s.stop()));
});
test.after(async () => {
  await db.drop();
});

/** A distinct alert (own fingerprint) of the service's signature (service + env + kind). */
const alert = (service: string, over: Record<string, unknown> = {}) => ({
  service,
  title: `5xx rate over SLO #${++seq}`,
  kind: "error_rate",
  severity: "P2",
  env: "prod",
  source: "monitor@node1",
  ...over,
});

async function incidentsOf(s: Stack, service: string): Promise<IncidentRecord[]> {
  return s.running.ctx.stores.incidents.list({ service, limit: 1000 });
}
async function timeline(s: Stack, id: string): Promise<IncidentEvent[]> {
  return s.running.ctx.stores.incidents.events({ incident_ids: [id], limit: 100_000 });
}
/** Waits until the bridge has put `alerts` alerts of `service` on its incidents. */
async function absorbed(s: Stack, service: string, alerts: number, timeoutMs = 20_000): Promise<IncidentRecord[]> {
  return waitFor(async () => {
    const incs = await incidentsOf(s, service);
    return incs.reduce((n, i) => n + i.alert_count, 0) === alerts ? incs : null;
  }, { timeoutMs, message: `${alerts} alerts of ${service} absorbed` });
}
const eventsFor = (s: Stack, type: string, incidentId: string) => s.events(type).filter((e) => e.data.incident_id === incidentId);

test("alert → incident → triage report: severity capped, alert acked, md + json artifacts written", async () => {
  const s = await stack();
  await s.publishAlert(alert("checkout", { severity: "critical" }));
  const [inc] = await absorbed(s, "checkout", 1);
  assert.is(inc!.severity, "P1", "a P0 alert opens at the cap P1");
  assert.is(inc!.status, "open");
  const done = await waitFor(() => eventsFor(s, "triage.completed", inc!.id)[0], { message: "triage.completed" });
  const created = await waitFor(() => eventsFor(s, "incident.created", inc!.id)[0], { message: "incident.created" });
  // Subscribers route on it without a second lookup (issue 11, finding 9): what the incident holds.
  const fields = IncidentCreatedData.parse(created.data);
  assert.equal([fields.service, fields.env, fields.severity, fields.title], [inc!.service, inc!.env, "P1", inc!.title]);
  const got = await s.call<{ incident: IncidentRecord; artifacts: Array<{ name: string }> }>("oncall_tool", "incident_get", { incident_id: inc!.id }, { agent: "helion" });
  assert.ok(got.ok, JSON.stringify(got));
  if (!got.ok) return;
  assert.equal(got.result.artifacts.map((a) => a.name).sort(), ["triage_report.json", "triage_report.md"]);
  const md = readFileSync(join(s.dataDir, "incidents", inc!.id, "triage_report.md"), "utf8");
  const alertRef = (await timeline(s, inc!.id)).find((e) => e.type === "alert")!.meta.alert_ref as string;
  assert.ok(md.includes(alertRef), "the report names the alert that fired");
  assert.is(done.data.run_id, (await s.running.ctx.stores.incidents.listRuns({ incident_id: inc!.id }))[0]!.id);
  const acked = await s.running.ctx.stores.alerts.get(alertRef);
  assert.is(acked!.status, "acked");
  assert.ok(acked!.ack_note?.includes(inc!.id));
});

test("dedupe window: inside it the open incident absorbs the alert; after it a new incident supersedes the old", async () => {
  const s = await stack();
  await s.publishAlert(alert("payments"));
  const [first] = await absorbed(s, "payments", 1);
  clock.advance(30);
  await s.publishAlert(alert("payments"));
  let incs = await absorbed(s, "payments", 2);
  assert.is(incs.length, 1, "30 min later, inside the 60 min window: same incident");
  assert.is(incs[0]!.alert_count, 2);
  clock.advance(61);
  await s.publishAlert(alert("payments"));
  incs = await absorbed(s, "payments", 3);
  assert.is(incs.length, 2, "61 min after the last alert: a new incident");
  const second = incs.find((i) => i.id !== first!.id)!;
  const created = await waitFor(() => eventsFor(s, "incident.created", second.id)[0]);
  assert.is(created.data.superseded, first!.id);
  assert.ok((await timeline(s, first!.id)).some((e) => e.type === "superseded"), "the old incident records what replaced it");
});

test("cooldown storm: 1,000 alerts of one signature → one incident, one triage run, the rest notes", async () => {
  const s = await stack();
  for (let i = 0; i < 1000; i += 100) {
    await Promise.all(Array.from({ length: 100 }, () => s.publishAlert(alert("search", { severity: "P3" }))));
  }
  const [inc, ...more] = await absorbed(s, "search", 1000, 60_000);
  assert.is(more.length, 0, "one incident");
  const events = await timeline(s, inc!.id);
  const refs = events.filter((e) => e.type === "alert" || e.type === "note");
  assert.is(refs.length, 1000, "every alert on the timeline once");
  assert.is(new Set(refs.map((e) => e.meta.alert_ref)).size, 1000);
  assert.is(refs.filter((e) => e.type === "alert").length, 1, "one alert outside the cooldown");
  assert.is(refs.filter((e) => e.type === "note").length, 999, "999 cooldown notes");
  assert.is((await s.running.ctx.stores.incidents.listRuns({ incident_id: inc!.id })).length, 1, "one triage run");
  await waitFor(() => eventsFor(s, "triage.completed", inc!.id).length === 1, { message: "the one triage run completed" });
});

test("reopen window: a closed incident firing again within it is reopened; after it, a new one opens", async () => {
  const s = await stack();
  await s.publishAlert(alert("auth"));
  const [inc] = await absorbed(s, "auth", 1);
  const closed = await s.call("oncall_tool", "incident_close", { incident_id: inc!.id, resolution: "restarted pods" }, { agent: "sofiia" });
  assert.ok(closed.ok, JSON.stringify(closed));
  clock.advance(10);
  await s.publishAlert(alert("auth"));
  let incs = await absorbed(s, "auth", 2);
  assert.is(incs.length, 1, "reopened, not a second incident");
  assert.is(incs[0]!.status, "open");
  assert.is(incs[0]!.reopened_count, 1);
  await waitFor(() => eventsFor(s, "incident.reopened", inc!.id)[0], { message: "incident.reopened" });
  await s.call("oncall_tool", "incident_close", { incident_id: inc!.id, resolution: "fixed for real" }, { agent: "helion" });
  clock.advance(31);
  await s.publishAlert(alert("auth"));
  incs = await absorbed(s, "auth", 3);
  assert.is(incs.length, 2, "31 min after closing (window 30): a new incident");
});

test("escalation: severity steps up at the occurrence thresholds and by open time, never above P0", async () => {
  const s = await stack({
    incidentEscalation: { occurrences: { P3: 3, P2: 5 }, open_minutes: { P1: 60 }, sweep_interval_seconds: 1 },
    // A wide dedupe window keeps every alert on the one incident across the clock jumps.
    alertRouting: { defaults: { dedupe_window_minutes: 10_000 } },
  });
  const sev = async () => (await incidentsOf(s, "billing"))[0]!.severity;
  for (let i = 0; i < 2; i++) await s.publishAlert(alert("billing", { severity: "P3" }));
  await absorbed(s, "billing", 2);
  assert.is(await sev(), "P3");
  await s.publishAlert(alert("billing", { severity: "P3" }));
  await absorbed(s, "billing", 3);
  assert.is(await sev(), "P2", "3rd alert: P3 → P2");
  for (let i = 0; i < 2; i++) await s.publishAlert(alert("billing", { severity: "P3" }));
  const [inc] = await absorbed(s, "billing", 5);
  assert.is(inc!.severity, "P1", "5th alert: P2 → P1");
  clock.advance(61);
  await waitFor(async () => (await sev()) === "P0", { message: "the sweep raises P1 → P0 after 60 open minutes" });
  // The event is published after the store commits, so it can trail the severity we just read.
  const escalations = await waitFor(() => {
    const seen = eventsFor(s, "incident.escalated", inc!.id);
    return seen.length >= 3 ? seen : null;
  }, { message: "three incident.escalated events" });
  assert.equal(escalations.map((e) => `${e.data.from}>${e.data.to}`), ["P3>P2", "P2>P1", "P1>P0"]);
  for (let i = 0; i < 5; i++) await s.publishAlert(alert("billing", { severity: "P3" }));
  await absorbed(s, "billing", 10);
  assert.is(await sev(), "P0", "nothing above P0, and P3 alerts lower nothing");
  assert.is(eventsFor(s, "incident.escalated", inc!.id).length, 3);
});

test("redelivery of an alert already absorbed (worker died before its ack) creates nothing new", async () => {
  const s = await stack({}, ["gateway", "alerts-in"]);
  const r = await s.call<{ alert_ref: string }>("alert_ingest_tool", "ingest", alert("ledger"), { agent: "monitor" });
  assert.ok(r.ok, JSON.stringify(r));
  const ref = (r as { result: { alert_ref: string } }).result.alert_ref;
  // A worker that committed the absorb and died before acking: the work item is still queued.
  const bridge = incidentBridge(s.running.ctx);
  const [first] = await bridge.absorb([(await s.running.ctx.stores.alerts.get(ref))!]);
  const before = await timeline(s, first!.incident_id);
  const worker = await startIncidentBridge(s.running.ctx);
  try {
    await waitFor(async () => (await s.running.ctx.stores.alerts.get(ref))?.status === "acked", { message: "the redelivered alert acked" });
    const c = await s.running.ctx.jsm.consumers.info(s.running.ctx.subjects.alerts.workStream, s.running.ctx.subjects.alerts.workConsumer);
    assert.is(c.num_pending + c.num_ack_pending, 0, "work queue drained");
  } finally {
    await worker.stop();
  }
  const incs = await incidentsOf(s, "ledger");
  assert.is(incs.length, 1);
  assert.is(incs[0]!.alert_count, 1);
  assert.equal((await timeline(s, first!.incident_id)).map((e) => e.id), before.map((e) => e.id), "timeline unchanged");
  assert.is((await s.running.ctx.stores.incidents.listRuns({ incident_id: first!.incident_id })).length, 1, "still one triage run");
});

test.run();
