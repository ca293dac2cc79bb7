/**
 * PagerDuty Events v2 (`POST /v2/enqueue`) end to end on a suite-owned nats-server and Postgres
 * database: a trigger sent by curl is one batch message in JetStream and a stored alert; the same
 * trigger again is stored once; acknowledge (by curl too) acknowledges the alert's incident; resolve ends the
 * alert; bad bodies are 400 with nothing published; past the key's rate, 429.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { AuditWriter } from "../../src/gateway/auditWriter.js";
import type { GatewayDeps } from "../../src/gateway/types.js";
import { buildToolRegistry } from "../../src/app/tools.js";
import { PagerDutyIntakeConfig } from "../../src/http/pagerduty-config.js";
import { pagerDutyDepsOf } from "../../src/http/pagerduty.js";
import { startHttpListener, type HttpListener } from "../../src/http/server.js";
import { subjects as subjectsOf, type AlertBatchMessage, type AlertRecord } from "../../src/subjects/index.js";
import { naming } from "../../src/subjects/prefix.js";
import { createTestDatabase } from "../harness/postgres.js";
import { startStack, type Stack } from "../harness/stack.js";
import { waitFor } from "../harness/wait.js";

const run = promisify(execFile);
const db = await createTestDatabase();
const CHECKOUT_KEY = "e93facc04764012d7bfb002500d5d1a6";
const RATE_KEY = "ratekey0000000000000000000000000";
let s: Stack;
let http: HttpListener;
let audit: AuditWriter;

test.before(async () => {
  s = await startStack({
    roles: ["gateway", "alerts-in", "incident-bridge"],
    env: { ALERT_BACKEND: "postgres", INCIDENT_BACKEND: "postgres", AUDIT_BACKEND: "postgres", DATABASE_URL: db.url },
  });
  const ctx = s.running.ctx;
  const logger = ctx.logger.child({ component: "pagerduty-test" });
  audit = new AuditWriter(ctx.stores.audit, logger);
  const gateway: GatewayDeps = {
    registry: buildToolRegistry(ctx, { logger }),
    policies: ctx.policies,
    opsEnv: ctx.env.OPS_ENV,
    apiKeys: ctx.env.apiKeys,
    audit,
    logger,
    nodeId: ctx.env.NODE_ID,
    now: ctx.now,
  };
  const config = PagerDutyIntakeConfig.parse({
    routing_keys: {
      "${PD_KEY_CHECKOUT}": { service: "checkout", source: "datadog", kind: "error_rate" },
      [RATE_KEY]: { service: "ratey", source: "uptime-kuma", name: "ratey" },
    },
    rate_per_minute: 30,
  });
  http = await startHttpListener(
    {
      gateway,
      logger,
      health: async () => ({ ok: true }),
      status: async () => ({}),
      pagerduty: {
        ...pagerDutyDepsOf({
          js: ctx.js,
          subjects: ctx.subjects,
          policies: { ...ctx.policies, intake: { ...ctx.policies.intake, pagerduty: config } },
          alerts: ctx.stores.alerts,
          incidents: ctx.stores.incidents,
          now: ctx.now,
        }),
        env: { PD_KEY_CHECKOUT: CHECKOUT_KEY },
      },
    },
    { host: "127.0.0.1", port: 0 },
  );
});
test.after(async () => {
  await http?.close();
  await audit?.close();
  await s?.stop();
  await db.drop();
});

type PdReply = { status: string; message: string; dedup_key?: string; errors?: string[] };

async function post(body: unknown): Promise<{ status: number; body: PdReply }> {
  const res = await fetch(`${http.url}/v2/enqueue`, { method: "POST", headers: { "content-type": "application/json" }, body: typeof body === "string" ? body : JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as PdReply };
}

/** As a PagerDuty client sends it: curl, JSON body, status code on the last line. */
async function curl(body: unknown): Promise<{ status: number; body: PdReply }> {
  const { stdout } = await run("curl", ["-sS", "-X", "POST", "-H", "Content-Type: application/json", "--data-binary", JSON.stringify(body), "-w", "\n%{http_code}", `${http.url}/v2/enqueue`]);
  const lines = stdout.trimEnd().split("\n");
  return { status: Number(lines.pop()), body: JSON.parse(lines.join("\n")) as PdReply };
}

const trigger = (dedupKey: string | undefined, over: Record<string, unknown> = {}) => ({
  routing_key: CHECKOUT_KEY,
  event_action: "trigger",
  ...(dedupKey ? { dedup_key: dedupKey } : {}),
  payload: { summary: "checkout 5xx above 2%", source: "web-1.prod", severity: "critical", timestamp: "2026-03-02T10:00:00.000+0000", component: "api", custom_details: { rate: "2.4%" }, ...over },
  client: "Datadog",
  client_url: "https://datadog.example/monitor/1",
});

const stream = () => s.running.ctx.subjects.alerts.stream;
const batchSubject = () => s.running.ctx.subjects.alerts.batch("pagerduty");
async function streamMessages(): Promise<number> {
  return (await s.running.ctx.jsm.streams.info(stream())).state.messages;
}
async function lastBatch(): Promise<AlertBatchMessage> {
  const m = await s.running.ctx.jsm.streams.getMessage(stream(), { last_by_subj: batchSubject() });
  if (!m) throw new Error(`no message on ${batchSubject()}`);
  return m.json<AlertBatchMessage>();
}
async function alertOf(fingerprint: string): Promise<AlertRecord | undefined> {
  return (await s.running.ctx.stores.alerts.list({ fingerprint, service: "checkout", window_minutes: 100_000 }, new Date()))[0];
}

test("trigger by curl: 202 with the dedup_key, one batch message in JetStream, the alert stored", async () => {
  const res = await curl(trigger("pd-checkout-1"));
  assert.equal(res, { status: 202, body: { status: "success", message: "Event processed", dedup_key: "pd-checkout-1" } });
  const batch = await lastBatch();
  assert.equal([batch.via, batch.caller, batch.alerts.length], ["pagerduty", "pagerduty:PD_KEY_CHECKOUT", 1]);
  const sent = batch.alerts[0] as Record<string, unknown>;
  assert.equal([sent.service, sent.fingerprint, sent.severity, sent.kind, sent.status], ["checkout", "pd-checkout-1", "P1", "error_rate", "firing"]);
  const stored = await waitFor(() => alertOf("pd-checkout-1"), { message: "stored alert pd-checkout-1", timeoutMs: 20_000 });
  assert.equal([stored.title, stored.severity, stored.source, stored.labels.component, stored.labels["details.rate"]], ["checkout 5xx above 2%", "P1", "datadog", "api", "2.4%"]);

  const generated = await curl(trigger(undefined));
  assert.is(generated.status, 202);
  assert.match(generated.body.dedup_key ?? "", /^[0-9a-f]{32}$/);
});

test("the same trigger twice: both 202, stored once with one occurrence", async () => {
  const before = await streamMessages();
  assert.is((await post(trigger("pd-twice"))).status, 202);
  assert.is((await post(trigger("pd-twice"))).status, 202);
  const stored = await waitFor(() => alertOf("pd-twice"), { message: "stored alert pd-twice", timeoutMs: 20_000 });
  // The retry is the same batch (same message id): JetStream keeps one.
  assert.is(await streamMessages(), before + 1);
  assert.is(stored.occurrences, 1);
});

test("acknowledge: the alert's open incident is acknowledged by the key's identity, published, audited; an unknown dedup_key still 202", async () => {
  const alert = await waitFor(() => alertOf("pd-checkout-1"), { timeoutMs: 20_000 });
  const sig = await waitFor(async () => (await s.running.ctx.stores.incidents.list({ service: "checkout", limit: 10 }))[0], { message: "incident for checkout", timeoutMs: 20_000 });
  // Every checkout alert the tests before sent absorbed first: the incident compared below must not change under the bridge.
  const { workStream, workConsumer } = s.running.ctx.subjects.alerts;
  await waitFor(async () => {
    const c = await s.running.ctx.jsm.consumers.info(workStream, workConsumer);
    return c.num_pending === 0 && c.num_ack_pending === 0;
  }, { message: "every work item absorbed", timeoutMs: 20_000 });
  const before = await streamMessages();
  const res = await curl({ routing_key: CHECKOUT_KEY, event_action: "acknowledge", dedup_key: "pd-checkout-1" });
  assert.equal(res, { status: 202, body: { status: "success", message: "Event processed", dedup_key: "pd-checkout-1" } });
  const incident = await s.running.ctx.stores.incidents.get(sig.id);
  assert.is(incident?.acknowledged_by, "pagerduty:PD_KEY_CHECKOUT");
  assert.ok(Date.parse(incident!.acknowledged_at!) > 0);
  const acks = await s.running.ctx.stores.incidents.events({ incident_ids: [sig.id], type: "acknowledged", limit: 1000 });
  assert.equal(acks.map((e) => [e.author, e.meta.note]), [["pagerduty:PD_KEY_CHECKOUT", "acknowledged via PagerDuty Events API (routing key PD_KEY_CHECKOUT)"]]);
  const published = await waitFor(() => s.events("incident.acknowledged").find((e) => e.data.incident_id === sig.id), { message: "incident.acknowledged" });
  assert.equal([published.data.by, published.data.acknowledged_at], ["pagerduty:PD_KEY_CHECKOUT", incident!.acknowledged_at]);
  // Again: accepted, the first ack kept.
  assert.is((await post({ routing_key: CHECKOUT_KEY, event_action: "acknowledge", dedup_key: "pd-checkout-1" })).status, 202);
  assert.equal(await s.running.ctx.stores.incidents.get(sig.id), incident);
  assert.is((await post({ routing_key: CHECKOUT_KEY, event_action: "acknowledge", dedup_key: "never-triggered" })).status, 202);
  assert.is(await streamMessages(), before, "an acknowledge publishes no alert");
  await audit.flush();
  const records = (await s.running.ctx.stores.audit.query({ tool: "pagerduty_events", action: "acknowledge", limit: 100 })).map((r) => [r.status, r.params.recorded, r.params.alert_ref ?? null]);
  assert.equal(records, [["ok", "acknowledged", alert.alert_ref], ["ok", "acknowledged", alert.alert_ref], ["ok", "no_alert", null]]);
  const viaTool = await s.running.ctx.stores.audit.query({ tool: "oncall_tool", action: "incident_ack", agent_id: "pagerduty:PD_KEY_CHECKOUT", limit: 100 });
  assert.is(viaTool.length, 2);
  assert.not.ok(JSON.stringify(await s.running.ctx.stores.audit.query({ limit: 10_000 })).includes(CHECKOUT_KEY), "the routing key is never audited");
});

test("resolve: a resolved entry in JetStream, settled by the ingest worker, the alert resolved", async () => {
  const res = await curl({ routing_key: CHECKOUT_KEY, event_action: "resolve", dedup_key: "pd-checkout-1" });
  assert.equal(res, { status: 202, body: { status: "success", message: "Event processed", dedup_key: "pd-checkout-1" } });
  assert.equal((await lastBatch()).alerts, [{ service: "checkout", fingerprint: "pd-checkout-1", status: "resolved" }]);
  const { ingestConsumer } = s.running.ctx.subjects.alerts;
  await waitFor(async () => {
    const c = await s.running.ctx.jsm.consumers.info(stream(), ingestConsumer);
    return c.num_pending === 0 && c.num_ack_pending === 0;
  }, { message: "ingest consumer settled the resolve", timeoutMs: 20_000 });
  const resolved = await waitFor(async () => (await alertOf("pd-checkout-1"))?.resolved_at, { message: "alert resolved", timeoutMs: 20_000 });
  assert.ok(Date.parse(resolved) > 0);

  // Triggered again after the resolve: a new firing of the same alert (occurrence +1, no longer resolved).
  const before = await waitFor(() => alertOf("pd-checkout-1"));
  assert.is((await curl(trigger("pd-checkout-1", { timestamp: new Date().toISOString() }))).status, 202);
  const refired = await waitFor(async () => {
    const a = await alertOf("pd-checkout-1");
    return a && a.resolved_at === undefined ? a : null;
  }, { message: "alert firing again", timeoutMs: 20_000 });
  assert.is(refired.occurrences, before.occurrences + 1);
});

test("a trigger fires until its resolve (no resolve timeout); triggers while it fires, with or without a timestamp, are not occurrences", async () => {
  const noTimestamp = () => trigger("pd-open", { timestamp: undefined });
  assert.is((await post(noTimestamp())).status, 202);
  const first = await waitFor(() => alertOf("pd-open"), { message: "stored alert pd-open", timeoutMs: 20_000 });
  assert.is(first.ends_at, undefined, "no end: PagerDuty keeps an alert open until its resolve");
  // A day from now the resolve sweep still leaves it firing.
  const swept = await s.running.ctx.stores.alerts.resolveExpired(new Date(Date.now() + 86_400_000), 1000);
  assert.not.ok(swept.some((a) => a.fingerprint === "pd-open"));
  // Re-notifications: without a timestamp (each its own receipt) and with another one.
  for (const body of [noTimestamp(), trigger("pd-open", { timestamp: new Date().toISOString() })]) assert.is((await post(body)).status, 202);
  const { ingestConsumer } = s.running.ctx.subjects.alerts;
  await waitFor(async () => {
    const c = await s.running.ctx.jsm.consumers.info(stream(), ingestConsumer);
    return c.num_pending === 0 && c.num_ack_pending === 0;
  }, { message: "ingest consumer settled the triggers", timeoutMs: 20_000 });
  const after = (await alertOf("pd-open"))!;
  assert.equal([after.alert_ref, after.occurrences, after.starts_at, after.ends_at], [first.alert_ref, 1, first.starts_at, undefined]);
  assert.ok(after.last_seen_at >= first.last_seen_at);
});

test("bad bodies: 400 with PagerDuty's errors and nothing published", async () => {
  const before = await streamMessages();
  const cases: Array<[unknown, RegExp]> = [
    [trigger("bad-1", { summary: undefined }), /payload\.summary/],
    [trigger("bad-2", { severity: "disaster" }), /payload\.severity/],
    [{ ...trigger("bad-3"), routing_key: "not-a-configured-key" }, /routing_key/],
    [[trigger("bad-4")], /JSON object/],
    ["{not json", /not valid JSON/],
  ];
  for (const [body, reason] of cases) {
    const res = await post(body);
    assert.is(res.status, 400, JSON.stringify(res.body));
    assert.equal([res.body.status, res.body.message], ["invalid event", "Event object is invalid"]);
    assert.match(res.body.errors!.join("; "), reason);
  }
  const big = await fetch(`${http.url}/v2/enqueue`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(trigger("bad-5", { custom_details: { blob: "x".repeat(10 * 1024 * 1024) } })) }).catch(
    (err: unknown) => err as Error,
  );
  if (!(big instanceof Error)) assert.is(big.status, 413);
  assert.is(await streamMessages(), before);
  assert.is(await alertOf("bad-1"), undefined);
});

test("past rate_per_minute for a routing key: 429 with Retry-After; other keys unaffected", async () => {
  const ack = { routing_key: RATE_KEY, event_action: "acknowledge", dedup_key: "whatever" };
  const send = () => fetch(`${http.url}/v2/enqueue`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(ack) });
  // The burst (30), plus one more for every 2 s the sending took (30 a minute refill): a slow
  // machine earns tokens while it sends, so the 429 comes when they are spent, not at a fixed count.
  const started = Date.now();
  let accepted = 0;
  let res = await send();
  while (res.status === 202 && accepted < 100) {
    accepted++;
    res = await send();
  }
  const earned = Math.floor((Date.now() - started) / 2000) + 1;
  assert.ok(accepted >= 30 && accepted <= 30 + earned, `${accepted} accepted before the first refusal, in ${Date.now() - started} ms`);
  assert.is(res.status, 429);
  assert.ok(Number(res.headers.get("retry-after")) >= 1);
  assert.is(((await res.json()) as PdReply).status, "throttle event");
  assert.is((await post({ ...ack, routing_key: CHECKOUT_KEY })).status, 202);
});

test("JetStream not taking the event: 503 so the sender retries, and nothing stored", async () => {
  const ctx = s.running.ctx;
  const logger = ctx.logger.child({ component: "pagerduty-test-nostream" });
  // Subjects no stream captures: the publish gets no PubAck.
  const orphan = subjectsOf(naming("nostream"));
  const gateway: GatewayDeps = { registry: buildToolRegistry(ctx, { logger }), policies: ctx.policies, opsEnv: ctx.env.OPS_ENV, apiKeys: ctx.env.apiKeys, audit, logger, nodeId: ctx.env.NODE_ID };
  const config = PagerDutyIntakeConfig.parse({ routing_keys: { [RATE_KEY]: { service: "orphan", source: "test" } } });
  const other = await startHttpListener(
    {
      gateway,
      logger,
      health: async () => ({ ok: true }),
      status: async () => ({}),
      pagerduty: {
        ...pagerDutyDepsOf({ js: ctx.js, subjects: orphan, policies: { ...ctx.policies, intake: { ...ctx.policies.intake, pagerduty: config } }, alerts: ctx.stores.alerts, incidents: ctx.stores.incidents }),
        publishTimeoutMs: 1000,
      },
    },
    { host: "127.0.0.1", port: 0 },
  );
  try {
    const res = await fetch(`${other.url}/v2/enqueue`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ ...trigger("pd-orphan"), routing_key: RATE_KEY }) });
    assert.is(res.status, 503);
    assert.is(((await res.json()) as PdReply).status, "unavailable");
  } finally {
    await other.close();
  }
  assert.equal(await ctx.stores.alerts.list({ fingerprint: "pd-orphan", window_minutes: 100_000 }, new Date()), []);
});

test.run();
