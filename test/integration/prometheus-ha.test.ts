/**
 * A real Prometheus HA pair with opsbus as its Alertmanager: two servers with the same rule, each
 * its own `replica` external label, dropped from what they send (`alert_relabel_configs`), as
 * HA setups run them. The second replica starts after the first one's alert is stored, so it
 * sends the same label set with a later `startsAt`. Alertmanager merges the two into one alert;
 * so must opsbus: one alert, never counted again, its start the earlier one, no second work item,
 * and the gauge back to normal resolves it, whichever replica's resolve comes first.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { AlertRecord } from "../../src/subjects/index.js";
import { freePort } from "../harness/ports.js";
import { createTestDatabase } from "../harness/postgres.js";
import { startExporter, startPrometheus, type PrometheusHandle, type PrometheusOptions } from "../harness/prometheus.js";
import { startStack } from "../harness/stack.js";
import { waitFor } from "../harness/wait.js";

const SERVICE = "payments";
const METRIC = "payments_error_ratio";
const ALERTNAME = "PaymentsErrorsHigh";
const KEY = "k-prometheus-ha";

const exporter = await startExporter();
exporter.set(METRIC, { service: SERVICE }, 0.2);
const db = await createTestDatabase();
const httpPort = await freePort();
const s = await startStack({
  roles: ["gateway", "alerts-in"],
  // No resolve sweep while the test runs: only Prometheus's own resolve can end the alert.
  policies: { alertRouting: { alerts: { resolve_sweep_seconds: 3600 } } },
  env: { OPS_ENV: "staging", OPSBUS_API_KEYS: `monitor=${KEY}`, HTTP_PORT: String(httpPort), ALERT_BACKEND: "postgres", DATABASE_URL: db.url },
});
const replica = (name: string): Promise<PrometheusHandle> => {
  const opts: PrometheusOptions = {
    targets: [exporter.target],
    ruleGroups: [{ name: "opsbus-ha", rules: [{ alert: ALERTNAME, expr: `${METRIC} > 0.05`, for: "0s", labels: { severity: "warning", env: "prod" }, annotations: { summary: "payments 5xx above 5%" } }] }],
    alertmanager: { target: `127.0.0.1:${httpPort}`, bearer: KEY },
    // Re-send every evaluation (default 1m), so several re-sends take seconds.
    args: ["--rules.alert.resend-delay=1s"],
    replica: name,
  };
  return startPrometheus(opts);
};
const replicas: PrometheusHandle[] = [];
test.after(async () => {
  await Promise.all(replicas.map((p) => p.stop()));
  await s.stop();
  await exporter.close();
  await db.drop();
});

const alertsOf = (): Promise<AlertRecord[]> => s.running.ctx.stores.alerts.list({ service: SERVICE, window_minutes: 24 * 60, limit: 100 }, new Date());
const sent = (p: PrometheusHandle) => p.selfMetric("prometheus_notifications_sent_total");
async function until<T>(what: string, probe: () => Promise<T>): Promise<NonNullable<T>> {
  try {
    return await waitFor(probe, { timeoutMs: 30_000, intervalMs: 200, message: what });
  } catch (err) {
    const logs = replicas.map((p, i) => `--- replica ${i} ---\n${p.log().slice(-1500)}`).join("\n");
    throw new Error(`${(err as Error).message}\n${logs}\n--- opsbus warnings ---\n${s.logs.text().slice(-2000)}`);
  }
}

test("an HA pair's two starts of one firing are one alert, counted once, with the earlier start; resolved", async () => {
  replicas.push(await replica("a"));
  const [first] = await until("replica a's alert stored", async () => {
    const a = await alertsOf();
    return a.length ? a : null;
  });
  replicas.push(await replica("b"));
  const activeAt = async (p: PrometheusHandle) => (await p.alerts()).find((a) => a.labels.alertname === ALERTNAME && a.state === "firing")?.activeAt;
  const starts = await until("both replicas firing", async () => {
    const both = await Promise.all(replicas.map(activeAt));
    return both.every(Boolean) ? both.map((x) => Date.parse(x!)) : null;
  });
  assert.ok(starts[1]! > starts[0]!, `replica b's firing started later (${starts.map((ms) => new Date(ms).toISOString())})`);
  // Several re-sends of each replica.
  const before = await Promise.all(replicas.map(sent));
  await until("4 more notifications from each replica", async () => (await Promise.all(replicas.map(sent))).every((n, i) => n >= before[i]! + 4));
  const seen = first!.last_seen_at;
  const alerts = await until("the last re-sends stored", async () => {
    const a = await alertsOf();
    return a.length > 1 || a[0]!.last_seen_at > seen ? a : null;
  });
  assert.equal(alerts.map((a) => [a.alert_ref, a.occurrences, a.resolved_at]), [[first!.alert_ref, 1, undefined]], "one alert, counted once, firing");
  assert.is(Date.parse(alerts[0]!.starts_at), Date.parse(first!.starts_at), "the earlier start (replica a's) kept");
  assert.is(s.events("alert.accepted").filter((e) => e.data.service === SERVICE).length, 1, "one work item");
  assert.equal(await Promise.all(replicas.map((p) => p.selfMetric("prometheus_notifications_errors_total"))), [0, 0], "every POST answered exactly 200");

  exporter.set(METRIC, { service: SERVICE }, 0);
  await until("neither replica firing", async () => (await Promise.all(replicas.map(activeAt))).every((x) => x === undefined) || null);
  // Prometheus re-sends a resolved alert (for 15 minutes): one more from each, and it is resolved.
  const resolvesBefore = await Promise.all(replicas.map(sent));
  await until("a resolve re-sent by each replica", async () => (await Promise.all(replicas.map(sent))).every((n, i) => n > resolvesBefore[i]!));
  // Everything either replica sent until then stored, whatever order the two arrived in.
  const { jsm, subjects } = s.running.ctx;
  const last = (await jsm.streams.info(subjects.alerts.stream)).state.last_seq;
  await until("the ingest worker past the re-sent resolves", async () => (await jsm.consumers.info(subjects.alerts.stream, subjects.alerts.ingestConsumer)).ack_floor.stream_seq >= last || null);
  const final = await until("the alert resolved", async () => {
    const a = await alertsOf();
    return a.length === 1 && a[0]!.resolved_at ? a[0] : null;
  });
  // The replica that evaluates later can send one more firing after the other's resolve: it
  // continues the firing that ended, as Alertmanager merges it, and is not a new one.
  assert.equal([final.alert_ref, final.occurrences], [first!.alert_ref, 1], "one firing, counted once");
  assert.is(s.events("alert.accepted").filter((e) => e.data.service === SERVICE).length, 1, "one work item");
});

test.run();
