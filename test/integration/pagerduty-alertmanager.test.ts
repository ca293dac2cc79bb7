/**
 * A real PagerDuty Events v2 client: Prometheus Alertmanager's own `pagerduty_configs` receiver
 * (Debian prometheus-alertmanager), its `url` pointed at opsbus's `POST /v2/enqueue` with the
 * checkout routing key, as a team that keeps its Alertmanager would add opsbus. An alert posted to
 * Alertmanager reaches opsbus as Alertmanager's trigger (its dedup_key the fingerprint, its
 * description the title, its severity mapped); its resolve ends the alert, by the resolve itself
 * (the resolve sweep is off: test/harness/intake-stack.ts). Alertmanager counts every notification as delivered.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { AlertRecord, EventEnvelope } from "../../src/subjects/index.js";
import { startIntakeStack } from "../harness/intake-stack.js";
import { startRealAlertmanager } from "../harness/real-alertmanager.js";
import { dependentSteps } from "../harness/steps.js";
import { waitFor } from "../harness/wait.js";

const ROUTING_KEY = "3f9a1c0d5e7b42a8b6c4d2e0f1a3b5c7";
const SERVICE = "checkout"; // config/intake.yml: ${PD_KEY_CHECKOUT} → checkout

// The gateway reads routing keys from its process environment (config/intake.yml names the variable).
process.env.PD_KEY_CHECKOUT = ROUTING_KEY;
const intake = await startIntakeStack();
const s = intake.stack;
const am = await startRealAlertmanager(`route:
  receiver: opsbus-pagerduty
  group_by: [alertname]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: opsbus-pagerduty
    pagerduty_configs:
      - routing_key: ${ROUTING_KEY}
        url: ${intake.url}/v2/enqueue
        send_resolved: true
`);
test.after(async () => {
  await am.stop();
  await intake.stop();
});

const labels = { alertname: "DiskFull", service: SERVICE, severity: "critical", instance: "db-1" };
const startsAt = new Date(Date.now() - 60_000).toISOString();
/** What a Prometheus would post to Alertmanager: the alert firing, or ended at `endsAt`. */
async function postToAlertmanager(endsAt?: string): Promise<void> {
  const body = [{ labels, annotations: { summary: "disk 95% on db-1" }, startsAt, ...(endsAt ? { endsAt } : {}) }];
  const r = await fetch(`${am.url}/api/v2/alerts`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  assert.is(r.status, 200, await r.text());
}
const notifications = (metric: string) => am.metric(metric);
const alertsOf = async (): Promise<AlertRecord[]> => s.running.ctx.stores.alerts.list({ service: SERVICE, window_minutes: 24 * 60, limit: 100 }, new Date());
const eventsAbout = (type: string, key: string, value: string): EventEnvelope[] => s.events(type).filter((e) => e.data[key] === value);
async function until<T>(what: string, probe: () => Promise<T>, timeoutMs = 30_000): Promise<NonNullable<T>> {
  try {
    return await waitFor(probe, { timeoutMs, intervalMs: 200, message: what });
  } catch (err) {
    const [sent, failed] = await Promise.all(["alertmanager_notifications_total", "alertmanager_notifications_failed_total"].map((m) => notifications(m).catch(() => Number.NaN)));
    throw new Error(`${(err as Error).message}\nalertmanager notifications ${sent}, failed ${failed}\n--- alertmanager log ---\n${am.log().slice(-2000)}\n--- opsbus warnings ---\n${s.logs.text().slice(-3000)}`);
  }
}

let alert: AlertRecord;
const step = dependentSteps(test);

step("Alertmanager's PagerDuty trigger arrives as an alert of the routing key's service", async () => {
  await postToAlertmanager();
  alert = await until("the alert stored", async () => (await alertsOf())[0]);
  assert.is(alert.service, SERVICE);
  assert.match(alert.fingerprint, /^[0-9a-f]{64}$/, "the dedup_key Alertmanager derives from its group key");
  assert.is(alert.title, "[FIRING:1] DiskFull (db-1 checkout critical)", "Alertmanager's default description");
  assert.is(alert.severity, "P2", "Alertmanager's default payload severity (error) through the PagerDuty severity map");
  assert.is(alert.occurrences, 1);
  assert.is(alert.resolved_at, undefined);
  assert.is(await notifications("alertmanager_notifications_failed_total"), 0, "every event answered 202");
});

step("the alert ended at Alertmanager: its PagerDuty resolve resolves the alert in opsbus", async () => {
  await postToAlertmanager(new Date(Date.now() - 1000).toISOString());
  const resolved = await until("the alert resolved", async () => {
    const a = await s.running.ctx.stores.alerts.get(alert.alert_ref);
    return a?.resolved_at ? a : null;
  });
  assert.is(resolved.occurrences, 1);
  assert.is((await alertsOf()).length, 1, "the resolve opened no alert of its own");
  const events = await until("alert.resolved", async () => eventsAbout("alert.resolved", "fingerprint", alert.fingerprint));
  assert.equal(events.map((e) => [e.data.reason, e.data.known]), [["resolve", true]]);
  assert.is(await notifications("alertmanager_notifications_failed_total"), 0);
  assert.ok((await notifications("alertmanager_notifications_total")) >= 2, "a trigger and a resolve sent");
});

test.run();
