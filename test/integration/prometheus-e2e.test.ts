/**
 * A real Prometheus with opsbus as its Alertmanager. The test serves a gauge, Prometheus scrapes it
 * every second and evaluates a rule on it (`for: 0s`), and sends what fires to opsbus's HTTP
 * listener (`alerting.alertmanagers`, API v2, bearer key of the monitor agent). The test flips the
 * gauge and follows one alert through its life: it arrives with its labels mapped and opens one
 * incident; Prometheus's re-sends (every second here) are not occurrences; the gauge back to normal
 * makes Prometheus send it resolved (endsAt in the past), the alert is resolved, and after the quiet
 * period so is the incident; firing again inside the reopen window reopens that incident.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { IncidentRecord } from "../../src/incidents/store.js";
import type { AlertRecord, EventEnvelope } from "../../src/subjects/index.js";
import { freePort } from "../harness/ports.js";
import { createTestDatabase } from "../harness/postgres.js";
import { startExporter, startPrometheus } from "../harness/prometheus.js";
import { startStack, type PolicyOverrides } from "../harness/stack.js";
import { dependentSteps } from "../harness/steps.js";
import { waitFor } from "../harness/wait.js";

const SERVICE = "checkout";
const METRIC = "checkout_error_ratio";
const ALERTNAME = "CheckoutErrorsHigh";
const SUMMARY = "checkout 5xx above 5%";
const KEY = "k-prometheus";
/** Incidents resolve this long after their last alert did (short, so the test sees it). */
const QUIET_MINUTES = 0;

const exporter = await startExporter();
exporter.set(METRIC, { service: SERVICE }, 0.2);
const db = await createTestDatabase();
const httpPort = await freePort();
const policies: PolicyOverrides = {
  // No resolve sweep while the test runs: only Prometheus's own resolve can end the alert.
  alertRouting: { defaults: { reopen_window_minutes: 30 }, alerts: { resolve_sweep_seconds: 3600 } },
  // The alert's severity (P2) resolves after the short quiet period; sweeps every second.
  incidentEscalation: { sweep_interval_seconds: 1, resolve: { P2: { auto_resolve: true, resolve_quiet_minutes: QUIET_MINUTES } } },
};
const s = await startStack({
  roles: ["gateway", "alerts-in", "incident-bridge"],
  policies,
  env: {
    OPS_ENV: "staging",
    OPSBUS_API_KEYS: `monitor=${KEY}`,
    HTTP_PORT: String(httpPort),
    ALERT_BACKEND: "postgres",
    INCIDENT_BACKEND: "postgres",
    DATABASE_URL: db.url,
  },
});
const prom = await startPrometheus({
  targets: [exporter.target],
  ruleGroups: [{
    name: "opsbus-e2e",
    rules: [{
      alert: ALERTNAME,
      expr: `${METRIC} > 0.05`,
      for: "0s",
      labels: { severity: "warning", env: "prod", kind: "error_rate" },
      annotations: { summary: SUMMARY, description: "{{ $value }} of requests fail" },
    }],
  }],
  alertmanager: { target: `127.0.0.1:${httpPort}`, bearer: KEY },
  // Re-send every evaluation (default 1m), so "several re-sends" takes seconds.
  args: ["--rules.alert.resend-delay=1s"],
});
test.after(async () => {
  await prom.stop();
  await s.stop();
  await exporter.close();
  await db.drop();
});

const now = () => new Date();
const alertsOf = async (): Promise<AlertRecord[]> => s.running.ctx.stores.alerts.list({ service: SERVICE, window_minutes: 24 * 60, limit: 100 }, now());
const incidentsOf = async (): Promise<IncidentRecord[]> => s.running.ctx.stores.incidents.list({ service: SERVICE, limit: 100 });
const eventsAbout = (type: string, key: string, value: string): EventEnvelope[] => s.events(type).filter((e) => e.data[key] === value);
/** Prometheus's view and its notifier's counters, for failure messages. */
async function diagnose(): Promise<string> {
  const [sent, errors, dropped] = await Promise.all(
    ["prometheus_notifications_sent_total", "prometheus_notifications_errors_total", "prometheus_notifications_dropped_total"].map((m) => prom.selfMetric(m).catch(() => Number.NaN)),
  );
  const alerts = await prom.alerts().catch((e: Error) => e.message);
  return `prometheus sent ${sent}, errors ${errors}, dropped ${dropped}; its alerts: ${JSON.stringify(alerts)}\n--- prometheus log ---\n${prom.log().slice(-2000)}\n--- opsbus warnings ---\n${s.logs.text().slice(-3000)}`;
}
async function until<T>(what: string, probe: () => Promise<T>, timeoutMs = 30_000): Promise<NonNullable<T>> {
  try {
    return await waitFor(probe, { timeoutMs, intervalMs: 200, message: what });
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${await diagnose()}`);
  }
}

let alert: AlertRecord;
let incident: IncidentRecord;
const step = dependentSteps(test);

step("the firing alert arrives with its labels mapped and opens one incident", async () => {
  alert = await until("the alert stored", async () => (await alertsOf())[0]);
  assert.is(alert.service, SERVICE, "service from the `service` label (before `job`)");
  assert.is(alert.title, SUMMARY, "title from annotations.summary");
  assert.is(alert.severity, "P2", "severity warning → P2 through the value map");
  assert.is(alert.env, "prod");
  assert.is(alert.kind, "error_rate");
  assert.equal(
    [alert.labels.alertname, alert.labels.service, alert.labels.job, alert.labels.severity],
    [ALERTNAME, SERVICE, "exporter", "warning"],
    "the label set kept as Prometheus sent it",
  );
  assert.is(alert.labels.instance, exporter.target);
  assert.is(alert.occurrences, 1);
  assert.ok(alert.ends_at && Date.parse(alert.ends_at) > Date.now() - 5000, `ends_at from Prometheus's endsAt (${alert.ends_at})`);
  assert.is(alert.resolved_at, undefined);
  const incidents = await until("the incident opened", async () => {
    const i = await incidentsOf();
    return i.length && i[0]!.alert_count === 1 ? i : null;
  });
  assert.is(incidents.length, 1);
  incident = incidents[0]!;
  assert.is(incident.status, "open");
});

step("Prometheus's re-sends over several evaluation cycles refresh the alert and are not occurrences", async () => {
  const sentBefore = await prom.selfMetric("prometheus_notifications_sent_total");
  await until("4 more notifications sent", async () => (await prom.selfMetric("prometheus_notifications_sent_total")) >= sentBefore + 4);
  // Stored once the last of those was processed: last_seen_at moved on.
  const refreshed = await until("last_seen_at refreshed by a re-send", async () => {
    const a = await s.running.ctx.stores.alerts.get(alert.alert_ref);
    return a && a.last_seen_at > alert.last_seen_at ? a : null;
  });
  assert.is(refreshed.occurrences, 1, "a re-send of the same firing (same startsAt) is not an occurrence");
  assert.is(refreshed.starts_at, alert.starts_at);
  assert.is((await alertsOf()).length, 1, "one alert: the fingerprint is the label set's");
  const incidents = await incidentsOf();
  assert.equal(incidents.map((i) => [i.id, i.alert_count]), [[incident.id, 1]], "no new work, so the incident saw one alert");
  assert.is(await prom.selfMetric("prometheus_notifications_errors_total"), 0, "every POST answered exactly 200");
});

step("the gauge back to normal: Prometheus sends the alert resolved, opsbus resolves it", async () => {
  exporter.set(METRIC, { service: SERVICE }, 0);
  const resolved = await until("the alert resolved", async () => {
    const a = await s.running.ctx.stores.alerts.get(alert.alert_ref);
    return a?.resolved_at ? a : null;
  });
  assert.ok(Date.parse(resolved.ends_at!) <= Date.now(), `ends_at in the past (${resolved.ends_at})`);
  assert.is(resolved.occurrences, 1);
  const [event] = await until("alert.resolved", async () => eventsAbout("alert.resolved", "fingerprint", alert.fingerprint));
  assert.equal([event!.data.known, event!.data.service, event!.data.reason], [true, SERVICE, "resolve"], "resolved by Prometheus's resolve");
});

step("after the quiet period the incident resolves itself", async () => {
  const closed = await until("the incident resolved", async () => {
    const i = (await incidentsOf()).find((x) => x.id === incident.id);
    return i && i.status === "closed" ? i : null;
  }, 90_000);
  assert.ok(closed.closed_at);
  assert.ok(eventsAbout("incident.resolved", "incident_id", incident.id).length >= 1, "incident.resolved published");
  const timeline = await s.running.ctx.stores.incidents.events({ incident_ids: [incident.id], limit: 1000 });
  assert.ok(timeline.some((e) => e.type === "status_change"), `a timeline event says why: ${JSON.stringify(timeline.map((e) => e.type))}`);
});

step("firing again inside the reopen window reopens the incident (a new firing: occurrence +1)", async () => {
  exporter.set(METRIC, { service: SERVICE }, 0.3);
  const refired = await until("the alert firing again", async () => {
    const a = await s.running.ctx.stores.alerts.get(alert.alert_ref);
    return a && a.occurrences === 2 && !a.resolved_at ? a : null;
  });
  assert.ok(refired.starts_at > alert.starts_at, "a new startsAt");
  const reopened = await until("the incident reopened", async () => {
    const i = (await incidentsOf()).find((x) => x.id === incident.id);
    return i && i.status === "open" && i.reopened_count === 1 ? i : null;
  });
  assert.is(reopened.alert_count, 2);
  assert.is((await incidentsOf()).length, 1, "reopened, not a second incident");
  assert.ok(eventsAbout("incident.reopened", "incident_id", incident.id).length >= 1);
  assert.is((await alertsOf()).length, 1);
});

test.run();
