/**
 * A real Prometheus HA pair with opsbus as its Alertmanager: two servers with the same rules, each
 * its own `replica` external label, dropped from what they send (`alert_relabel_configs`), as HA
 * setups run them. Each replica scrapes an exporter of its own, so the test decides which one
 * sees a change first, as a lagging scrape does; the rule aggregates the instance away, so both
 * send one label set. A `Watchdog` rule fires all along (as kube-prometheus ships it), so every
 * batch differs and JetStream keeps a replica's re-sent resolve instead of dropping it as a retry.
 *
 * Alertmanager merges what the two say into one alert; so must opsbus: the later start joins the
 * firing (the earlier one kept, never counted), the lagging replica's firing after the other's
 * resolve continues that firing, and its re-sent resolve of that firing does not end the next one.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { AlertRecord } from "../../src/subjects/index.js";
import { freePort } from "../harness/ports.js";
import { createTestDatabase } from "../harness/postgres.js";
import { startExporter, startPrometheus, type Exporter, type PrometheusHandle, type PrometheusOptions } from "../harness/prometheus.js";
import { startStack } from "../harness/stack.js";
import { waitFor } from "../harness/wait.js";

const SERVICE = "payments";
const METRIC = "payments_error_ratio";
const ALERTNAME = "PaymentsErrorsHigh";
const KEY = "k-prometheus-ha";

const exporters = [await startExporter(), await startExporter()];
const setRatio = (e: Exporter, v: number) => e.set(METRIC, { service: SERVICE }, v);
for (const e of exporters) setRatio(e, 0.2);
const db = await createTestDatabase();
const httpPort = await freePort();
const s = await startStack({
  roles: ["gateway", "alerts-in"],
  // No resolve sweep while the test runs: only Prometheus's own resolves can end the alert.
  policies: { alertRouting: { alerts: { resolve_sweep_seconds: 3600 } } },
  env: { OPS_ENV: "staging", OPSBUS_API_KEYS: `monitor=${KEY}`, HTTP_PORT: String(httpPort), ALERT_BACKEND: "postgres", DATABASE_URL: db.url },
});
const replica = (name: string, exporter: Exporter): Promise<PrometheusHandle> => {
  const opts: PrometheusOptions = {
    targets: [exporter.target],
    ruleGroups: [{
      name: "opsbus-ha",
      rules: [
        { alert: ALERTNAME, expr: `max by (service) (${METRIC}) > 0.05`, for: "0s", labels: { severity: "warning", env: "prod" }, annotations: { summary: "payments 5xx above 5%" } },
        { alert: "Watchdog", expr: "vector(1)", labels: { service: "watchdog", severity: "info" }, annotations: { summary: "the alerting pipeline works" } },
      ],
    }],
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
  await Promise.all(exporters.map((e) => e.close()));
  await db.drop();
});

const alertsOf = (): Promise<AlertRecord[]> => s.running.ctx.stores.alerts.list({ service: SERVICE, window_minutes: 24 * 60, limit: 100 }, new Date());
const theAlert = async (): Promise<AlertRecord> => {
  const all = await alertsOf();
  assert.is(all.length, 1, `one alert for the label set: ${JSON.stringify(all.map((a) => a.alert_ref))}`);
  return all[0]!;
};
const workItems = () => s.events("alert.accepted").filter((e) => e.data.service === SERVICE).length;
const sent = (p: PrometheusHandle) => p.selfMetric("prometheus_notifications_sent_total");
const activeAt = async (p: PrometheusHandle) => (await p.alerts()).find((a) => a.labels.alertname === ALERTNAME && a.state === "firing")?.activeAt;
async function until<T>(what: string, probe: () => Promise<T>): Promise<NonNullable<T>> {
  try {
    return await waitFor(probe, { timeoutMs: 30_000, intervalMs: 200, message: what });
  } catch (err) {
    const logs = replicas.map((p, i) => `--- replica ${i} ---\n${p.log().slice(-1500)}`).join("\n");
    throw new Error(`${(err as Error).message}\n${logs}\n--- opsbus warnings ---\n${s.logs.text().slice(-2000)}`);
  }
}
/** `n` more notifications sent by replica `i`, and every message stored by then ingested. */
async function moreSentAndIngested(i: number, n: number): Promise<void> {
  const before = await sent(replicas[i]!);
  await until(`${n} more notifications from replica ${i}`, async () => (await sent(replicas[i]!)) >= before + n || null);
  const { jsm, subjects } = s.running.ctx;
  const last = (await jsm.streams.info(subjects.alerts.stream)).state.last_seq;
  await until("the ingest worker past them", async () => (await jsm.consumers.info(subjects.alerts.stream, subjects.alerts.ingestConsumer)).ack_floor.stream_seq >= last || null);
}

test("an HA pair's two starts of one firing are one alert, counted once, with the earlier start", async () => {
  replicas.push(await replica("a", exporters[0]!));
  const [first] = await until("replica a's alert stored", async () => {
    const a = await alertsOf();
    return a.length ? a : null;
  });
  replicas.push(await replica("b", exporters[1]!));
  const starts = await until("both replicas firing", async () => {
    const both = await Promise.all(replicas.map(activeAt));
    return both.every(Boolean) ? both.map((x) => Date.parse(x!)) : null;
  });
  assert.ok(starts[1]! > starts[0]!, `replica b's firing started later (${starts.map((ms) => new Date(ms).toISOString())})`);
  await Promise.all([0, 1].map((i) => moreSentAndIngested(i, 3)));
  const a = await theAlert();
  assert.equal([a.alert_ref, a.occurrences, a.resolved_at, Date.parse(a.starts_at)], [first!.alert_ref, 1, undefined, Date.parse(first!.starts_at)], "one alert, counted once, firing, replica a's earlier start");
  assert.is(workItems(), 1, "one work item");
  assert.equal(await Promise.all(replicas.map((p) => p.selfMetric("prometheus_notifications_errors_total"))), [0, 0], "every POST answered exactly 200");
});

test("as the rule resolves, the lagging replica's firings after the other's resolve continue the firing; its own resolve ends it", async () => {
  setRatio(exporters[0]!, 0);
  await until("replica a's resolve stored", async () => ((await theAlert()).resolved_at ? true : null));
  // Replica b still fires and re-sends: late news of the firing that ended, which goes on.
  const revived = await until("the alert firing again on replica b's re-send", async () => {
    const a = await theAlert();
    return a.resolved_at === undefined ? a : null;
  });
  assert.equal([revived.occurrences, workItems()], [1, 1], "not a new firing: counted once, one work item");
  setRatio(exporters[1]!, 0);
  await until("neither replica firing", async () => (await Promise.all(replicas.map(activeAt))).every((x) => x === undefined) || null);
  await Promise.all([0, 1].map((i) => moreSentAndIngested(i, 2)));
  const a = await theAlert();
  assert.ok(a.resolved_at, "resolved");
  assert.equal([a.occurrences, workItems()], [1, 1]);
});

test("as the rule fires again, the lagging replica's re-sent resolve of the earlier firing does not end the new one", async () => {
  setRatio(exporters[0]!, 0.2);
  const refired = await until("replica a's new firing stored", async () => {
    const a = await theAlert();
    return a.resolved_at === undefined ? a : null;
  });
  assert.equal([refired.occurrences, workItems()], [2, 2], "a new firing: counted, new work");
  // Replica b re-sends its resolve of the first firing with every batch (the Watchdog's moves on).
  await moreSentAndIngested(1, 3);
  const a = await theAlert();
  assert.equal([a.resolved_at, a.occurrences], [undefined, 2], "still firing, not counted again");
  setRatio(exporters[1]!, 0.2);
  await until("both replicas firing", async () => (await Promise.all(replicas.map(activeAt))).every(Boolean) || null);
  await moreSentAndIngested(1, 3);
  const joined = await theAlert();
  assert.equal([joined.resolved_at, joined.occurrences, workItems()], [undefined, 2, 2], "replica b's new firing joins it");
});

test.run();
