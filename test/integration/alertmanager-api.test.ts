/**
 * The Alertmanager API v2 on a real nats-server, alerts in Postgres, driven by the real amtool
 * (Debian prometheus-alertmanager): what amtool adds is one JetStream batch message and a stored
 * alert, `amtool alert query` lists it with matchers, `amtool config show` parses the status.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import type { AuditRecord } from "../../src/audit/store.js";
import { labelSetFingerprint } from "../../src/alerts/am-fingerprint.js";
import type { GatewayDeps } from "../../src/gateway/types.js";
import { startHttpListener, type HttpListener } from "../../src/http/server.js";
import type { AlertmanagerDeps } from "../../src/http/alertmanager/index.js";
import { AlertBatchMessage } from "../../src/subjects/index.js";
import { createTestDatabase, type TestDatabase } from "../harness/postgres.js";
import { startStack, type Stack } from "../harness/stack.js";
import { startRealAlertmanager } from "../harness/real-alertmanager.js";
import { waitFor } from "../harness/wait.js";

const run = promisify(execFile);
let s: Stack;
let db: TestDatabase;
let http: HttpListener;
let base: string;
let amDeps: AlertmanagerDeps;
let gw: GatewayDeps;
const audited: AuditRecord[] = [];

async function listen(am: AlertmanagerDeps): Promise<HttpListener> {
  return startHttpListener({ gateway: gw, logger: s.logs.logger, health: async () => ({ ok: true }), status: async () => ({}), alertmanager: am }, { host: "127.0.0.1", port: 0 });
}

test.before(async () => {
  db = await createTestDatabase();
  s = await startStack({
    roles: ["alerts-in"],
    env: { OPS_ENV: "prod", OPSBUS_API_KEYS: "monitor=k-monitor,aistalk=k-aistalk", ALERT_BACKEND: "postgres", ALERT_DATABASE_URL: db.url },
  });
  const ctx = s.running.ctx;
  gw = {
    registry: new Map(),
    policies: ctx.policies,
    opsEnv: ctx.env.OPS_ENV,
    apiKeys: ctx.env.apiKeys,
    audit: { write: (r) => void audited.push(r) },
    logger: s.logs.logger,
    nodeId: "node1",
  };
  amDeps = { nc: ctx.nc, js: ctx.js, jsm: ctx.jsm, subjects: ctx.subjects, alerts: ctx.stores.alerts, policies: ctx.policies, now: ctx.now };
  http = await listen(amDeps);
  base = http.url;
  writeFileSync(join(s.dataDir, "amtool-http.yml"), "authorization:\n  credentials: k-monitor\n");
});
test.after(async () => {
  await http?.close();
  await s?.stop();
  await db?.drop();
});

const amtool = (...args: string[]) => run("amtool", [`--alertmanager.url=${base}`, `--http.config.file=${join(s.dataDir, "amtool-http.yml")}`, ...args], { timeout: 20_000 });

async function post(body: unknown, key: string | null = "k-monitor"): Promise<{ status: number; text: string }> {
  const res = await fetch(`${base}/api/v2/alerts`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, text: await res.text() };
}

async function lastBatch(): Promise<{ seq: number; batch: AlertBatchMessage }> {
  const m = await s.running.ctx.jsm.streams.getMessage(s.running.ctx.subjects.alerts.stream, { last_by_subj: s.running.ctx.subjects.alerts.batch("alertmanager") });
  return { seq: m!.seq, batch: AlertBatchMessage.parse(m!.json()) };
}

const stored = (fingerprint: string) =>
  waitFor(async () => (await s.running.ctx.stores.alerts.list({ fingerprint }, new Date()))[0], { message: `alert ${fingerprint} stored` });

test("amtool alert add: exit 0, one batch message with amtool's alert as sent, mapped and stored in Postgres, one audit record", async () => {
  const before = audited.length;
  await amtool("alert", "add", "alertname=X", "service=checkout", "severity=critical", "--annotation=summary=checkout is down");
  const { batch } = await lastBatch();
  // Every alert valid: the message carries the request's own alerts; the worker maps them.
  assert.equal([batch.via, batch.caller, batch.format, batch.alerts.length], ["alertmanager", "monitor", "alertmanager-v2", 1]);
  const entry = batch.alerts[0] as { labels: Record<string, string>; annotations: Record<string, string> };
  assert.equal([entry.labels, entry.annotations], [{ alertname: "X", service: "checkout", severity: "critical" }, { summary: "checkout is down" }]);
  // Alertmanager's own fingerprint of this label set (read from a real Alertmanager 0.25).
  const rec = await stored("22bd327e4466504d");
  assert.equal([rec.service, rec.severity, rec.title, rec.labels], ["checkout", "P0", "checkout is down", { alertname: "X", service: "checkout", severity: "critical" }]);
  assert.is(rec.resolved_at, undefined);
  // amtool sends Go's zero endsAt: unset, so the ingest side applies resolve_timeout (5 minutes).
  const endsIn = Date.parse(rec.ends_at!) - Date.parse(rec.last_seen_at);
  assert.ok(endsIn > 4 * 60_000 && endsIn <= 5 * 60_000, `ends ${endsIn} ms after it was last seen`);
  const records = audited.slice(before).filter((r) => r.action === "post_alerts");
  assert.is(records.length, 1);
  assert.equal([records[0]!.agent_id, records[0]!.decision, records[0]!.status, records[0]!.params.alerts], ["monitor", "allow", "ok", 1]);
});

test("amtool with basic_auth (the agent id and its key): accepted as that agent; another agent's name beside the key is refused", async () => {
  const config = (username: string) => {
    const file = join(s.dataDir, `amtool-basic-${username}.yml`);
    writeFileSync(file, `basic_auth:\n  username: ${username}\n  password: k-monitor\n`);
    return `--http.config.file=${file}`;
  };
  const before = audited.length;
  await run("amtool", [`--alertmanager.url=${base}`, config("monitor"), "alert", "add", "alertname=Basic", "service=basic-auth"], { timeout: 20_000 });
  assert.is((await stored(labelSetFingerprint({ alertname: "Basic", service: "basic-auth" }))).service, "basic-auth");
  const refused = await run("amtool", [`--alertmanager.url=${base}`, config("aistalk"), "alert", "add", "alertname=Basic2", "service=basic-auth"], { timeout: 20_000 }).then(
    () => undefined,
    (err: { code?: number; stderr?: string }) => err,
  );
  assert.ok(refused && refused.code !== 0, "amtool exits non-zero when refused");
  const records = audited.slice(before).filter((r) => r.action === "post_alerts");
  assert.equal(records.map((r) => [r.agent_id, r.decision, r.status]), [["monitor", "allow", "ok"], ["anonymous", "deny", "unauthenticated"]]);
  assert.not.match(JSON.stringify(records), "k-monitor");
});

test("amtool alert query lists the stored alert, with matchers; a re-send dedupes on the fingerprint", async () => {
  const { stdout } = await amtool("alert", "query", "alertname=X");
  assert.match(stdout, /X\s+.*checkout is down\s+active/);
  const json = JSON.parse((await amtool("alert", "query", "-o", "json", 'alertname=~"X|Y"', "service!=billing")).stdout) as Array<Record<string, unknown>>;
  assert.is(json.length, 1);
  assert.equal([json[0]!.fingerprint, (json[0]!.status as { state: string }).state, json[0]!.receivers], ["22bd327e4466504d", "active", [{ name: "opsbus" }]]);
  assert.is((await amtool("alert", "query", "-o", "json", 'alertname=~"Y|Z"')).stdout.trim(), "[]");
  // The same label set again, with no startsAt (as amtool sends it): the same fingerprint, so the
  // same alert, and it joins the active firing as Alertmanager merges it: seen again, not counted.
  const before = await stored("22bd327e4466504d");
  assert.is((await post([{ labels: { alertname: "X", service: "checkout", severity: "critical" }, annotations: { summary: "checkout is down" } }])).status, 200);
  const after = await waitFor(async () => {
    const rec = await stored("22bd327e4466504d");
    return rec.last_seen_at > before.last_seen_at ? rec : undefined;
  }, { message: "the re-send stored" });
  assert.equal([after.occurrences, after.starts_at, after.alert_ref], [before.occurrences, before.starts_at, before.alert_ref]);
  assert.is((await s.running.ctx.stores.alerts.list({ service: "checkout" }, new Date())).length, 1);
});

test("the same body sent again: with an endsAt a retry (deduped, one message); without one a new sighting that refreshes the alert", async () => {
  const startsAt = new Date(Date.now() - 60_000).toISOString();
  const labels = { alertname: "Keep", service: "checkout", severity: "warning" };
  const withEnd = [{ labels: { ...labels, alertname: "KeepEnd" }, annotations: { summary: "s" }, startsAt, endsAt: new Date(Date.now() + 3_600_000).toISOString() }];
  assert.is((await post(withEnd)).status, 200);
  const first = await lastBatch();
  assert.is((await post(withEnd)).status, 200);
  assert.is((await lastBatch()).seq, first.seq, "a retry of a body with endsAt is the same message");

  const noEnd = [{ labels, annotations: { summary: "s" }, startsAt }];
  const fp = labelSetFingerprint(labels);
  assert.is((await post(noEnd)).status, 200);
  const seen = await stored(fp);
  const sent = await lastBatch();
  await waitFor(async () => Date.now() > Date.parse(seen.last_seen_at) + 5 || undefined, { message: "the clock past the first sighting" });
  assert.is((await post(noEnd)).status, 200);
  assert.ok((await lastBatch()).seq > sent.seq, "no endsAt: the same body later is another message");
  const again = await waitFor(async () => {
    const rec = await stored(fp);
    return Date.parse(rec.last_seen_at) > Date.parse(seen.last_seen_at) ? rec : undefined;
  }, { message: "the alert refreshed by the second sighting" });
  assert.ok(Date.parse(again.ends_at!) > Date.parse(seen.ends_at!), "its end moved with the sighting");
  assert.is(again.occurrences, 1, "the same firing (same startsAt): refreshed, not counted");
});

test("amtool config show exits 0 and the config it prints passes amtool check-config", async () => {
  const { stdout } = await amtool("config", "show");
  assert.match(stdout, /receiver: "?opsbus"?/);
  const status = (await (await fetch(`${base}/api/v2/status`)).json()) as { config: { original: string }; versionInfo: { version: string }; cluster: { status: string; peers: unknown[] }; uptime: string };
  assert.match(status.versionInfo.version, /^\d+\.\d+\.\d+/);
  assert.equal([status.cluster.status, status.cluster.peers], ["ready", []]);
  assert.ok(!Number.isNaN(Date.parse(status.uptime)));
  const file = join(s.dataDir, "am-config.yml");
  writeFileSync(file, status.config.original);
  await run("amtool", ["check-config", file]);
});

test("a mixed batch: 400 naming each invalid alert by index and field, the valid ones published once", async () => {
  const seqBefore = (await lastBatch()).seq;
  const r = await post([{ labels: { alertname: "Good", service: "pay" } }, { labels: {} }, { labels: { "0bad": "x" } }, { labels: { alertname: "B" }, startsAt: "2026-01-02T00:00:00Z", endsAt: "2026-01-01T00:00:00Z" }]);
  assert.is(r.status, 400);
  const message = JSON.parse(r.text) as string;
  assert.match(message, /alert 1: labels: at least one label pair required/);
  assert.match(message, /alert 2: labels: invalid name "0bad"/);
  assert.match(message, /alert 3: startsAt: start time must be before end time/);
  const { seq, batch } = await lastBatch();
  assert.ok(seq > seqBefore);
  assert.equal(batch.alerts.map((a) => (a as { title: string }).title), ["Good"]);
  await stored((batch.alerts[0] as { fingerprint: string }).fingerprint);
});

test("bad bodies: non-array 400, not JSON 400, over the body limit 413, wrong media type 415", async () => {
  const nonArray = await post({ labels: { a: "b" } });
  assert.is(nonArray.status, 400);
  assert.match(JSON.parse(nonArray.text) as string, /expected a JSON array of alerts/);
  assert.is((await post("{nope")).status, 400);
  // `null` is no alerts to Alertmanager (Go decodes it into an empty slice): 200, nothing published.
  const seqBefore = (await lastBatch()).seq;
  assert.equal(await post("null"), { status: 200, text: "" });
  assert.is((await lastBatch()).seq, seqBefore);
  const big = JSON.stringify([{ labels: { alertname: "x".repeat(2 * 1024 * 1024) } }]);
  assert.is((await post(big)).status, 413);
  const res = await fetch(`${base}/api/v2/alerts`, { method: "POST", headers: { "content-type": "text/plain", authorization: "Bearer k-monitor" }, body: "[]" });
  assert.is(res.status, 415);
  assert.is((await post([])).status, 200);
});

test("auth in prod: no key 401, a key without tools.alerts.ingest 403, each audited as a denied request", async () => {
  const before = audited.length;
  assert.is((await post([{ labels: { alertname: "A" } }], null)).status, 401);
  assert.is((await post([{ labels: { alertname: "A" } }], "k-aistalk")).status, 403);
  const denied = audited.slice(before);
  assert.equal(denied.map((r) => [r.agent_id, r.decision, r.status]), [["anonymous", "deny", "unauthenticated"], ["aistalk", "deny", "forbidden"]]);
  // Reads need tools.alerts.read: aistalk has it.
  const read = await fetch(`${base}/api/v2/alerts`, { headers: { authorization: "Bearer k-aistalk" } });
  assert.is(read.status, 200);
  assert.is((await fetch(`${base}/api/v2/alerts`)).status, 401);
});

test("GET filters: invalid matcher 400 in Alertmanager's words, receiver regex, the state switches, groups", async () => {
  const get = (q: string) => fetch(`${base}/api/v2/alerts${q}`, { headers: { authorization: "Bearer k-monitor" } });
  const bad = await get("?filter=" + encodeURIComponent("0x=1"));
  assert.is(bad.status, 400);
  assert.is(JSON.parse(await bad.text()), "bad matcher format: 0x=1");
  assert.is((await get("?filter=" + encodeURIComponent('a=~"("'))).status, 400);
  const all = (await (await get("?receiver=ops.*")).json()) as unknown[];
  assert.ok(all.length >= 2);
  assert.equal(await (await get("?receiver=other")).json(), []);
  assert.equal(await (await get("?active=false")).json(), []);
  // Booleans read as Alertmanager's generated server reads them (swag.ConvertBool): never a 400.
  assert.equal(await (await get("?active=0")).json(), []);
  assert.equal(await (await get("?active=maybe")).json(), []);
  assert.is(((await (await get("?active=TRUE")).json()) as unknown[]).length, all.length);
  assert.is(((await (await get("?active=1")).json()) as unknown[]).length, all.length);
  const receiver = await get("?receiver=(");
  assert.equal([receiver.status, await receiver.json()], [400, "failed to parse receiver param: error parsing regexp: missing closing ): `^(?:()$`"]);
  const groups = (await (await fetch(`${base}/api/v2/alerts/groups`, { headers: { authorization: "Bearer k-monitor" } })).json()) as Array<{ receiver: { name: string }; alerts: unknown[] }>;
  assert.equal([groups.length, groups[0]!.receiver.name, groups[0]!.alerts.length], [1, "opsbus", all.length]);
});

test("a resolved alert (endsAt past) is published resolved and no longer listed", async () => {
  const labels = { alertname: "Flapping", service: "pay" };
  assert.is((await post([{ labels, startsAt: new Date(Date.now() - 60_000).toISOString() }])).status, 200);
  const listed = async () => ((await (await fetch(`${base}/api/v2/alerts?filter=alertname%3DFlapping`, { headers: { authorization: "Bearer k-monitor" } })).json()) as unknown[]).length;
  await waitFor(async () => ((await listed()) === 1 ? true : undefined), { message: "firing alert listed" });
  assert.is((await post([{ labels, startsAt: new Date(Date.now() - 60_000).toISOString(), endsAt: new Date(Date.now() - 1000).toISOString() }])).status, 200);
  const { batch } = await lastBatch();
  assert.is(batch.format, "alertmanager-v2");
  const fingerprint = labelSetFingerprint(labels);
  await waitFor(async () => ((await stored(fingerprint)).resolved_at ? true : undefined), { message: "stored resolved" });
  await waitFor(async () => ((await listed()) === 0 ? true : undefined), { message: "resolved alert no longer listed" });
});

test("the same POST to a real Alertmanager and to opsbus: same status and body, the same GET reply but for updatedAt and mutedBy, the same receivers", async () => {
  const am = await startRealAlertmanager();
  try {
    const startsAt = new Date(Date.now() - 120_000).toISOString();
    const endsAt = new Date(Date.now() + 3_600_000).toISOString();
    const body = JSON.stringify([{ labels: { alertname: "Compare", service: "search", severity: "warning" }, annotations: { summary: "slow" }, startsAt, endsAt, generatorURL: "http://prom/graph" }]);
    const send = (url: string) => fetch(`${url}/api/v2/alerts`, { method: "POST", headers: { "content-type": "application/json", authorization: "Bearer k-monitor" }, body });
    const [theirs, ours] = [await send(am.url), await send(base)];
    assert.equal([ours.status, await ours.text(), ours.headers.get("content-length")], [theirs.status, await theirs.text(), theirs.headers.get("content-length")]);
    const get = async (url: string) => {
      const text = await waitFor(async () => {
        const t = await (await fetch(`${url}/api/v2/alerts?filter=alertname%3D%22Compare%22`, { headers: { authorization: "Bearer k-monitor" } })).text();
        return t.trim().length > 2 ? t : undefined;
      }, { message: `alert listed by ${url}` });
      return text.replace(/"updatedAt":"[^"]*"/, '"updatedAt":"-"').replace(/"mutedBy":\[\],/, "");
    };
    assert.is(await get(base), await get(am.url));
    // Alertmanager's exact Content-Type, without a charset parameter, on reads and refusals alike.
    for (const path of ["/api/v2/alerts", "/api/v2/alerts/groups", "/api/v2/status", "/api/v2/silences", "/api/v2/alerts?filter=bad"]) {
      const type = async (url: string) => (await fetch(`${url}${path}`, { headers: { authorization: "Bearer k-monitor" } })).headers.get("content-type");
      assert.is(await type(base), await type(am.url), path);
    }
    // The groups: the same shape (Alertmanager 0.25's alertGroup: alerts, labels, receiver).
    const groups = async (url: string) => {
      const t = await (await fetch(`${url}/api/v2/alerts/groups?filter=alertname%3D%22Compare%22`, { headers: { authorization: "Bearer k-monitor" } })).text();
      return t.replace(/"updatedAt":"[^"]*"/, '"updatedAt":"-"').replace(/"mutedBy":\[\],/, "");
    };
    assert.is(await groups(base), await groups(am.url));
    // A refusal, byte for byte: a JSON string and a newline.
    const refusal = async (url: string) => (await fetch(`${url}/api/v2/alerts?filter=bad`, { headers: { authorization: "Bearer k-monitor" } })).text();
    assert.is(await refusal(base), await refusal(am.url));
    // Both name the one receiver "opsbus": the same bytes.
    const receivers = async (url: string) => {
      const r = await fetch(`${url}/api/v2/receivers`);
      return [r.status, r.headers.get("content-type"), await r.text()];
    };
    assert.equal(await receivers(base), await receivers(am.url));
  } finally {
    await am.stop();
  }
});

test("503 when JetStream does not take the batch; /-/ready follows JetStream; /-/healthy is OK", async () => {
  assert.equal([(await fetch(`${base}/-/healthy`)).status, await (await fetch(`${base}/-/ready`)).text()], [200, "OK"]);
  const failingJs = { publish: () => Promise.reject(new Error("timeout")) } as unknown as JetStreamClient;
  const failingJsm = { getAccountInfo: () => Promise.reject(new Error("no responders")) } as unknown as JetStreamManager;
  const down = await listen({ ...amDeps, js: failingJs, jsm: failingJsm });
  try {
    const r = await fetch(`${down.url}/api/v2/alerts`, { method: "POST", headers: { "content-type": "application/json", authorization: "Bearer k-monitor" }, body: JSON.stringify([{ labels: { alertname: "A" } }]) });
    assert.is(r.status, 503);
    assert.match(JSON.parse(await r.text()) as string, /JetStream did not take the alerts/);
    assert.is((await fetch(`${down.url}/-/ready`)).status, 503);
  } finally {
    await down.close();
  }
});

test.run();
