/**
 * A real Prometheus firing a rule at opsbus (its Alertmanager) while a silence is active: the
 * alert is stored suppressed, Prometheus's re-sends keep it so, and no incident opens; expiring
 * the silence (`DELETE /api/v2/silence/{id}`, as `amtool silence expire` sends) lets the still
 * firing alert open its incident within one sweep tick. Prometheus authenticates with `basic_auth`
 * (the agent id and its key), the only form some senders offer (Grafana's external Alertmanager).
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { AlertRecord } from "../../src/subjects/index.js";
import { freePort } from "../harness/ports.js";
import { createTestDatabase } from "../harness/postgres.js";
import { startExporter, startPrometheus } from "../harness/prometheus.js";
import { startStack } from "../harness/stack.js";
import { waitFor } from "../harness/wait.js";

const SERVICE = "inventory";
const METRIC = "inventory_queue_depth";
const ALERTNAME = "InventoryQueueBacklog";
const KEY = "k-oncall";
const AGENT = "helion";
const TICK_SECONDS = 1;

const exporter = await startExporter();
exporter.set(METRIC, { service: SERVICE }, 5000);
const db = await createTestDatabase();
const httpPort = await freePort();
const base = `http://127.0.0.1:${httpPort}`;
const s = await startStack({
  roles: ["gateway", "alerts-in", "incident-bridge"],
  policies: { alertRouting: { alerts: { resolve_sweep_seconds: TICK_SECONDS } } },
  env: { OPS_ENV: "staging", OPSBUS_API_KEYS: `${AGENT}=${KEY}`, HTTP_PORT: String(httpPort), ALERT_BACKEND: "postgres", INCIDENT_BACKEND: "postgres", DATABASE_URL: db.url },
});
const auth = { authorization: `Bearer ${KEY}`, "content-type": "application/json" };
// The silence exists before Prometheus starts, so the very first notification meets it.
const created = await fetch(`${base}/api/v2/silences`, {
  method: "POST",
  headers: auth,
  body: JSON.stringify({
    matchers: [{ name: "alertname", value: ALERTNAME, isRegex: false, isEqual: true }, { name: "service", value: "inv.*", isRegex: true, isEqual: true }],
    startsAt: new Date().toISOString(),
    endsAt: new Date(Date.now() + 3_600_000).toISOString(),
    createdBy: "someone else",
    comment: "queue migration",
  }),
});
const { silenceID } = (await created.json()) as { silenceID: string };
const prom = await startPrometheus({
  targets: [exporter.target],
  ruleGroups: [{ name: "silence", rules: [{ alert: ALERTNAME, expr: `${METRIC} > 1000`, for: "0s", labels: { severity: "warning" }, annotations: { summary: "inventory queue backlog" } }] }],
  alertmanager: { target: `127.0.0.1:${httpPort}`, basic: { username: AGENT, password: KEY } },
  args: ["--rules.alert.resend-delay=1s"],
});
test.after(async () => {
  await prom.stop();
  await s.stop();
  await exporter.close();
  await db.drop();
});

const alertOf = async (): Promise<AlertRecord | undefined> => (await s.running.ctx.stores.alerts.list({ service: SERVICE, window_minutes: 60, limit: 10 }, new Date()))[0];
const incidents = () => s.running.ctx.stores.incidents.list({ service: SERVICE, limit: 10 });

test("silenced while the silence is active, an incident within a tick of its expiry", async () => {
  assert.is(created.status, 200);
  const held = await waitFor(async () => {
    const a = await alertOf();
    return a?.status === "suppressed" ? a : undefined;
  }, { timeoutMs: 30_000, message: "Prometheus's alert stored suppressed" });
  assert.equal(held.suppression?.silenced_by, [silenceID]);
  // Several of Prometheus's re-sends later it is still held, on no incident.
  const sent = await prom.selfMetric("prometheus_notifications_sent_total");
  await waitFor(async () => (await prom.selfMetric("prometheus_notifications_sent_total")) >= sent + 3, { timeoutMs: 30_000, message: "3 more notifications" });
  assert.is((await alertOf())?.status, "suppressed");
  assert.equal(await incidents(), []);
  assert.is(s.events("alert.accepted").length, 0);

  const expired = await fetch(`${base}/api/v2/silence/${silenceID}`, { method: "DELETE", headers: { authorization: auth.authorization } });
  assert.is(expired.status, 200);
  const expiredAt = Date.now();
  const [incident] = await waitFor(async () => ((await incidents()).length ? incidents() : undefined), { timeoutMs: 10_000, message: "incident after the silence expired" });
  const took = Date.now() - expiredAt;
  console.log(`prometheus-silence: incident ${incident!.id} ${took} ms after the silence expired (tick ${TICK_SECONDS} s)`);
  assert.is((await alertOf())?.occurrences, 1);
  assert.is(await prom.selfMetric("prometheus_notifications_errors_total"), 0);
});

test.run();
