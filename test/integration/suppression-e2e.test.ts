/**
 * Silences and inhibition end to end, on a real nats-server with alerts and incidents in Postgres,
 * driven by the real amtool (Debian prometheus-alertmanager) and plain Alertmanager-API POSTs:
 * an alert a silence matches is stored suppressed and opens no incident while an unsilenced
 * batch-mate does; `amtool silence expire` releases it into an incident within a sweep tick. A P0
 * crash inhibits its service's P3 latency alerts (not another service's) until it resolves.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import type { AlertRecord } from "../../src/subjects/index.js";
import { freePort } from "../harness/ports.js";
import { createTestDatabase, testPool } from "../harness/postgres.js";
import { startStack } from "../harness/stack.js";
import { waitFor } from "../harness/wait.js";

const run = promisify(execFile);
const KEY = "k-oncall";
const httpPort = await freePort();
const db = await createTestDatabase();
const s = await startStack({
  roles: ["gateway", "alerts-in", "incident-bridge"],
  // The release sweep shares the lifecycle tick: one second here.
  policies: { alertRouting: { alerts: { resolve_sweep_seconds: 1 } } },
  env: {
    OPS_ENV: "staging",
    OPSBUS_API_KEYS: `helion=${KEY}`,
    HTTP_PORT: String(httpPort),
    ALERT_BACKEND: "postgres",
    INCIDENT_BACKEND: "postgres",
    DATABASE_URL: db.url,
  },
});
const base = `http://127.0.0.1:${httpPort}`;
const pool = testPool(db.url);
writeFileSync(join(s.dataDir, "amtool-http.yml"), `authorization:\n  credentials: ${KEY}\n`);
test.after(async () => {
  await pool.end();
  await s.stop();
  await db.drop();
});

const amtool = async (...args: string[]) =>
  (await run("amtool", [`--alertmanager.url=${base}`, `--http.config.file=${join(s.dataDir, "amtool-http.yml")}`, ...args], { timeout: 20_000 })).stdout.trim();

async function post(alerts: unknown[]): Promise<void> {
  const res = await fetch(`${base}/api/v2/alerts`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` }, body: JSON.stringify(alerts) });
  assert.is(res.status, 200, await res.text());
}

const now = () => new Date();
const firing = (labels: Record<string, string>, summary: string) => ({ labels, annotations: { summary }, startsAt: new Date(Date.now() - 5_000).toISOString() });
const alertNamed = (alertname: string, service: string) =>
  waitFor(async () => (await s.running.ctx.stores.alerts.list({ service, window_minutes: 60, limit: 100 }, now())).find((a) => a.labels.alertname === alertname), {
    message: `${alertname} on ${service} stored`,
  });
/** The alert once ingest has stored what holds it back (its `alert.suppressed` is out). */
async function heldBack(a: AlertRecord): Promise<AlertRecord> {
  await waitFor(() => s.events("alert.suppressed").some((e) => e.data.alert_ref === a.alert_ref), { message: `${a.alert_ref} suppressed` });
  return (await s.running.ctx.stores.alerts.get(a.alert_ref))!;
}
/** The incident whose timeline holds the alert, if any. */
async function incidentOf(a: AlertRecord): Promise<string | undefined> {
  const { rows } = await pool.query<{ incident_id: string }>("SELECT incident_id FROM incident_events WHERE split_part(substr(dedupe_key, 7), '@', 1) = $1", [a.alert_ref]);
  return rows[0]?.incident_id;
}
const get = async (query: string) => (await (await fetch(`${base}/api/v2/alerts${query}`, { headers: { authorization: `Bearer ${KEY}` } })).json()) as Array<{ labels: Record<string, string>; status: { state: string; silencedBy: string[]; inhibitedBy: string[] } }>;

test("amtool silence: a silenced alert is stored suppressed and opens no incident; expiring the silence releases it into one", async () => {
  const id = await amtool("silence", "add", "alertname=DiskFull", 'service=~"check.*"', "--comment=disk swap on the checkout hosts", "--duration=10m");
  assert.match(id, /^[0-9a-f-]{36}$/);
  assert.ok((await amtool("silence", "query", "-q")).split("\n").includes(id), "amtool silence query lists it");

  // One POST: the silenced alert and a batch-mate no silence matches.
  await post([firing({ alertname: "DiskFull", service: "checkout", severity: "warning" }, "disk 95% on checkout-1"), firing({ alertname: "HighLatency", service: "checkout", severity: "warning" }, "checkout p99 2s")]);
  const silenced = await heldBack(await alertNamed("DiskFull", "checkout"));
  const loud = await alertNamed("HighLatency", "checkout");
  assert.equal([silenced.status, silenced.suppression?.silenced_by], ["suppressed", [id]]);
  await waitFor(() => incidentOf(loud), { message: "the unsilenced batch-mate opened its incident" });
  // Triage of the batch is done: the silenced one is on no incident and was never queued as work.
  assert.is(await incidentOf(silenced), undefined);
  assert.not.ok(s.events("alert.accepted").some((e) => e.data.alert_ref === silenced.alert_ref));

  const listed = (await get("?filter=alertname%3DDiskFull"))[0];
  assert.equal([listed?.status.state, listed?.status.silencedBy], ["suppressed", [id]]);
  assert.equal(await get("?filter=alertname%3DDiskFull&silenced=false"), []);
  assert.is((await get("?filter=alertname%3DHighLatency&silenced=false"))[0]?.status.state, "active");

  await amtool("silence", "expire", id);
  const expiredAt = Date.now();
  assert.not.ok((await amtool("silence", "query", "-q")).split("\n").includes(id), "no longer listed as active");
  const incident = await waitFor(() => incidentOf(silenced), { message: "the released alert opened its incident", timeoutMs: 10_000 });
  console.log(`suppression-e2e: released into ${incident} ${Date.now() - expiredAt} ms after amtool silence expire (tick 1 s)`);
  // The bridge commits the incident, then marks the alert acked: wait for the second write too.
  const after = await waitFor(async () => {
    const a = await s.running.ctx.stores.alerts.get(silenced.alert_ref);
    return a?.status === "acked" ? a : undefined;
  }, { message: "the released alert acked by the bridge" });
  assert.equal([after.status, after.suppression, after.occurrences], ["acked", undefined, 1]);
  assert.is((await get("?filter=alertname%3DDiskFull"))[0]?.status.state, "active");
});

test("a silence whose end passes is announced, by schedule, on the next tick; one expired by hand was announced by its caller only", async () => {
  const r = await s.call<{ silence_id: string }>("silence_tool", "create", { matchers: [{ name: "alertname", value: "ShortWindow", is_regex: false, is_equal: true }], ends_at: new Date(Date.now() + 1_500).toISOString(), comment: "a short one" }, { key: KEY });
  assert.ok(r.ok, JSON.stringify(r));
  const id = r.ok ? r.result.silence_id : "";
  const ended = await waitFor(() => s.events("silence.expired").find((e) => e.data.silence_id === id), { message: "the short silence's end announced", timeoutMs: 10_000 });
  assert.equal([ended.data.by, ended.data.state], ["schedule", "expired"]);
  assert.is(s.events("silence.expired").filter((e) => e.data.silence_id === id).length, 1);
  const byHand = s.events("silence.expired").filter((e) => e.data.by === "helion" && e.data.created_by === "helion" && e.data.comment === "disk swap on the checkout hosts");
  assert.is(byHand.length, 1, "the amtool expiry in the first test: its caller's event");
  assert.not.ok(s.events("silence.expired").some((e) => e.data.silence_id === byHand[0]!.data.silence_id && e.data.by === "schedule"), "and no schedule one");
});

test("a silence over an alert already on an open incident: it stays there, the timeline says so", async () => {
  const onIncident = await alertNamed("HighLatency", "checkout");
  const incidentId = (await incidentOf(onIncident))!;
  const id = await amtool("silence", "add", "alertname=HighLatency", "--comment=known slow disk", "--duration=30m");
  const note = await waitFor(async () => (await s.running.ctx.stores.incidents.events({ incident_ids: [incidentId] })).find((e) => e.meta?.silence_id === id), { message: "silence noted on the incident" });
  assert.equal(note.meta?.alert_refs, [onIncident.alert_ref]);
  assert.is(note.author, "helion");
  assert.is(await incidentOf(onIncident), incidentId, "the alert stays on its incident");
  // Posting the same silence again notes nothing twice.
  await amtool("silence", "update", id, "--comment=known slow disk (vendor ticket)");
  const notes = (await s.running.ctx.stores.incidents.events({ incident_ids: [incidentId] })).filter((e) => e.type === "note" && e.meta?.silence_id === id);
  assert.is(notes.length, 1);
  await amtool("silence", "expire", id);
});

test("inhibition: a P0 crash holds back its service's P3 latency alerts until it resolves", async () => {
  const crashLabels = { alertname: "PaymentsDown", service: "payments", severity: "critical", kind: "crash", env: "prod" };
  const crashStart = new Date(Date.now() - 5_000).toISOString();
  await post([{ labels: crashLabels, annotations: { summary: "payments is down" }, startsAt: crashStart }]);
  const crash = await alertNamed("PaymentsDown", "payments");
  await post([
    firing({ alertname: "PaymentsSlow", service: "payments", severity: "info", kind: "latency", env: "prod" }, "payments p99 3s"),
    firing({ alertname: "SearchSlow", service: "search", severity: "info", kind: "latency", env: "prod" }, "search p99 3s"),
  ]);
  const inhibited = await heldBack(await alertNamed("PaymentsSlow", "payments"));
  const other = await alertNamed("SearchSlow", "search");
  assert.equal([inhibited.status, inhibited.suppression?.inhibited_by], ["suppressed", [crash.fingerprint]]);
  await waitFor(() => incidentOf(other), { message: "the other service's latency alert opened its incident" });
  assert.is(await incidentOf(inhibited), undefined);
  assert.equal((await get("?filter=alertname%3DPaymentsSlow"))[0]?.status.inhibitedBy, [crash.fingerprint]);

  // The crash resolves (Prometheus sends endsAt in the past): the latency alert flows on.
  await post([{ labels: crashLabels, annotations: { summary: "payments is down" }, startsAt: crashStart, endsAt: new Date(Date.now() - 1_000).toISOString() }]);
  await waitFor(() => incidentOf(inhibited), { message: "released once the crash resolved", timeoutMs: 10_000 });
});

test.run();
