/**
 * A real vmalert (VictoriaMetrics, Debian's `victoria-metrics`) with opsbus as its Alertmanager,
 * the second sender of the Alertmanager API beside Prometheus (prometheus-e2e.test.ts). vmalert
 * evaluates a rule every second against a query stub the test flips, and sends to opsbus's HTTP
 * listener with the monitor agent's bearer key. The alert arrives with its labels mapped (vmalert
 * writes `alertname` twice in its label object), its re-sends are not occurrences, and when the
 * rule stops matching, vmalert's resolve resolves it. That resolve carries the very bytes of a
 * firing send four evaluations earlier (vmalert names the same endsAt), so it must not be taken
 * for a retry of it: the resolve sweep is off (test/harness/intake-stack.ts), and only the resolve
 * itself can end the alert.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { AlertRecord, EventEnvelope } from "../../src/subjects/index.js";
import { startIntakeStack } from "../harness/intake-stack.js";
import { startQueryStub, startVmalert } from "../harness/vmalert.js";
import { dependentSteps } from "../harness/steps.js";
import { waitFor } from "../harness/wait.js";

const SERVICE = "payments";
const ALERTNAME = "QueueBacklog";
const KEY = "k-vmalert";
const SERIES = { __name__: "queue_depth", instance: "queue-1:9100", job: "queues" };

const stub = await startQueryStub();
stub.set(SERIES);
const intake = await startIntakeStack({ OPS_ENV: "staging", OPSBUS_API_KEYS: `monitor=${KEY}` });
const s = intake.stack;
const vmalert = await startVmalert({
  ruleGroups: [{
    name: "opsbus-e2e",
    rules: [{
      alert: ALERTNAME,
      expr: "queue_depth > 100",
      for: "0s",
      labels: { service: SERVICE, severity: "critical", kind: "resource" },
      annotations: { summary: "queue backlog on {{ $labels.instance }}" },
    }],
  }],
  datasourceUrl: stub.url,
  notifier: { url: intake.url, bearer: KEY },
});
test.after(async () => {
  await vmalert.stop();
  await intake.stop();
  await stub.close();
});

const now = () => new Date();
const alertsOf = async (): Promise<AlertRecord[]> => s.running.ctx.stores.alerts.list({ service: SERVICE, window_minutes: 24 * 60, limit: 100 }, now());
const eventsAbout = (type: string, key: string, value: string): EventEnvelope[] => s.events(type).filter((e) => e.data[key] === value);
const sent = () => vmalert.selfMetric("vmalert_alerts_sent_total");
async function until<T>(what: string, probe: () => Promise<T>, timeoutMs = 30_000): Promise<NonNullable<T>> {
  try {
    return await waitFor(probe, { timeoutMs, intervalMs: 200, message: what });
  } catch (err) {
    const [ok, errors] = await Promise.all([sent(), vmalert.selfMetric("vmalert_alerts_send_errors_total")].map((p) => p.catch(() => Number.NaN)));
    throw new Error(`${(err as Error).message}\nvmalert sent ${ok}, errors ${errors}; queries ${stub.queries()}\n--- vmalert log ---\n${vmalert.log().slice(-2000)}\n--- opsbus warnings ---\n${s.logs.text().slice(-3000)}`);
  }
}

let alert: AlertRecord;
const step = dependentSteps(test);

step("vmalert's firing alert arrives with its labels mapped", async () => {
  alert = await until("the alert stored", async () => (await alertsOf())[0]);
  assert.is(alert.service, SERVICE);
  assert.is(alert.title, "queue backlog on queue-1:9100", "title from annotations.summary, templated by vmalert");
  assert.is(alert.severity, "P0", "severity critical → P0 through the value map");
  assert.is(alert.kind, "resource");
  assert.equal(
    [alert.labels.alertname, alert.labels.alertgroup, alert.labels.instance, alert.labels.job],
    [ALERTNAME, "opsbus-e2e", SERIES.instance, SERIES.job],
    "the label set as vmalert sent it (alertname written twice: one label)",
  );
  assert.is(alert.occurrences, 1);
  assert.is(alert.resolved_at, undefined);
});

step("vmalert's re-sends (one per evaluation) refresh the alert and are not occurrences", async () => {
  const before = await sent();
  await until("4 more sends", async () => (await sent()) >= before + 4);
  const refreshed = await until("last_seen_at refreshed by a re-send", async () => {
    const a = await s.running.ctx.stores.alerts.get(alert.alert_ref);
    return a && a.last_seen_at > alert.last_seen_at ? a : null;
  });
  assert.is(refreshed.occurrences, 1);
  assert.is(refreshed.starts_at, alert.starts_at);
  assert.is((await alertsOf()).length, 1);
  assert.is(await vmalert.selfMetric("vmalert_alerts_send_errors_total"), 0, "every POST answered exactly 200");
});

step("the rule stops matching: vmalert's resolve (the same bytes as a firing send before it) resolves the alert", async () => {
  stub.set(null);
  const resolved = await until("the alert resolved", async () => {
    const a = await s.running.ctx.stores.alerts.get(alert.alert_ref);
    return a?.resolved_at ? a : null;
  });
  assert.ok(Date.parse(resolved.ends_at!) <= Date.now(), `ends_at in the past (${resolved.ends_at})`);
  assert.is(resolved.occurrences, 1);
  const events = await until("alert.resolved", async () => eventsAbout("alert.resolved", "fingerprint", alert.fingerprint));
  assert.equal(events.map((e) => [e.data.reason, e.data.known]), [["resolve", true]], "resolved by vmalert's resolve, once");
  assert.is(await vmalert.selfMetric("vmalert_alerts_send_errors_total"), 0);
});

test.run();
