/**
 * PagerDuty Events v2 intake without a socket or a server: the event rules and their error
 * bodies, the mapping to alert payloads, routing keys from the environment, and the route
 * (202 after the publish, 400/429/503, one audit record per request naming the key, not it).
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { z } from "zod";
import type { JetStreamClient } from "@nats-io/jetstream";
import type { AlertRecord } from "../../src/subjects/index.js";
import { AlertBatchMessage, alertInputSchema, subjects as subjectsOf } from "../../src/subjects/index.js";
import { buildHttpApp } from "../../src/http/server.js";
import { opsSeverity, PagerDutyIntakeConfig, resolveRoutingKeys } from "../../src/http/pagerduty-config.js";
import { alertOfEvent, detailLabels, inEventTerms, validateEvent } from "../../src/http/pagerduty-event.js";
import type { PagerDutyDeps } from "../../src/http/pagerduty.js";
import { makeEntryCheck } from "../../src/alerts/entry-check.js";
import { incidentSignature } from "../../src/incidents/signature.js";
import { action, type ToolDef } from "../../src/tools/types.js";
import { harness, loadShippedPolicies } from "./gateway-fixtures.js";
import { mutate, seededRng } from "../harness/fuzz.js";

const KEY = "R0UT1NGKEY0000000000000000000001";
const policies = loadShippedPolicies();
const cfg = PagerDutyIntakeConfig.parse({
  routing_keys: { [KEY]: { service: "checkout", source: "datadog", name: "checkout-dd" }, "${PD_KEY_PAY}": { service: "pay", source: "grafana", kind: "error_rate", env: "staging" } },
  rate_per_minute: 3,
});
const env = { PD_KEY_PAY: "pay-key-from-env" };

const trigger = (over: Record<string, unknown> = {}, payload: Record<string, unknown> = {}) => ({
  routing_key: KEY,
  event_action: "trigger",
  dedup_key: "dk-1",
  payload: { summary: "checkout 5xx over SLO", source: "web-1.prod", severity: "critical", ...payload },
  ...over,
});

test("validation: PagerDuty's error list for what a trigger needs, dedup_key for ack/resolve", () => {
  const errorsOf = (b: unknown) => {
    const v = validateEvent(b);
    return v.ok ? [] : v.errors;
  };
  assert.equal(errorsOf([trigger()]), ["Event object must be a JSON object"]);
  assert.equal(errorsOf(trigger({}, { summary: "  " })), ["'payload.summary' is missing or blank"]);
  assert.ok(errorsOf(trigger({}, { severity: "fatal" }))[0]!.startsWith("'payload.severity'"));
  assert.ok(errorsOf(trigger({ event_action: "page" }))[0]!.startsWith("'event_action'"));
  assert.equal(errorsOf({ ...trigger(), payload: undefined }), ["'payload' is missing or blank"]);
  assert.equal(errorsOf({ routing_key: KEY, event_action: "resolve" }), ["'dedup_key' is missing or blank (required for resolve)"]);
  assert.ok(errorsOf(trigger({ dedup_key: "x".repeat(256) }))[0]!.startsWith("'dedup_key'"));
  assert.ok(errorsOf(trigger({}, { summary: "s".repeat(1025) }))[0]!.startsWith("'payload.summary'"));
  assert.ok(errorsOf(trigger({}, { timestamp: "yesterday" }))[0]!.startsWith("'payload.timestamp'"));
  assert.equal(errorsOf({ routing_key: KEY, event_action: "acknowledge", dedup_key: "dk" }), []);
});

test("routing keys: literal or ${VAR}; an unset variable accepts nothing; named without the key", () => {
  const r = resolveRoutingKeys(cfg, env);
  assert.equal(r.byKey.get(KEY), { name: "checkout-dd", service: "checkout", source: "datadog" });
  assert.equal(r.byKey.get("pay-key-from-env"), { name: "PD_KEY_PAY", service: "pay", source: "grafana", env: "staging", kind: "error_rate" });
  const unset = resolveRoutingKeys(cfg, {});
  assert.equal(unset.unresolved, ["PD_KEY_PAY"]);
  assert.is(unset.byKey.size, 1);
  assert.not.ok(unset.byKey.has(""));
});

test("config: the shipped intake.yml has the section, its keys only env references (no secret in the file); a partial severity map keeps the other defaults", () => {
  const shipped = Object.keys(policies.intake.pagerduty.routing_keys);
  assert.ok(shipped.length > 0 && shipped.every((k) => /^\$\{[A-Z_][A-Z0-9_]*\}$/.test(k)), shipped.join(","));
  assert.equal(resolveRoutingKeys(policies.intake.pagerduty, {}).byKey.size, 0);
  assert.is(policies.intake.pagerduty.rate_per_minute, 120);
  const partial = PagerDutyIntakeConfig.parse({ severity_map: { critical: "P0" } });
  assert.equal([opsSeverity(partial, "critical"), opsSeverity(partial, "error"), opsSeverity(partial, "info")], ["P0", "P2", "P3"]);
  assert.not.ok(PagerDutyIntakeConfig.safeParse({ routing_keys: { k: { service: "bad service", source: "x" } } }).success);
});

test("trigger maps to a firing alert the ingest schema takes; resolve to a resolved entry", () => {
  const target = resolveRoutingKeys(cfg, env).byKey.get("pay-key-from-env")!;
  const now = new Date("2026-03-02T10:00:00.000Z");
  const e = validateEvent(
    trigger(
      { routing_key: "pay-key-from-env", links: [{ href: "https://x/y", text: "dash" }], client: "Grafana", client_url: "https://grafana" },
      { timestamp: "2015-07-17T08:42:58.315+0000", component: "db", group: "prod-db", class: "disk", severity: "error", custom_details: { free: "2%", n: 3, deep: { a: { b: { c: 1 } } }, list: [1] } },
    ),
  );
  assert.ok(e.ok);
  const { dedup_key, alert } = alertOfEvent(e.event, target, cfg, { now, maxLabels: 64 });
  assert.is(dedup_key, "dk-1");
  assert.equal(
    { ...alert, pagerduty: undefined },
    {
      service: "pay", title: "checkout 5xx over SLO", kind: "error_rate", severity: "P2", source: "grafana", env: "staging", fingerprint: "dk-1",
      labels: { component: "db", group: "prod-db", class: "disk", source: "web-1.prod", "details.free": "2%", "details.n": 3 },
      starts_at: "2015-07-17T08:42:58.315Z", status: "firing", annotations: { summary: "checkout 5xx over SLO", client: "Grafana", client_url: "https://grafana" }, pagerduty: undefined,
    },
  );
  assert.equal((alert!.pagerduty as { links: unknown }).links, [{ href: "https://x/y", text: "dash" }]);
  const schema = alertInputSchema(policies.alertRouting.alerts);
  assert.ok(schema.safeParse(alert).success, JSON.stringify(schema.safeParse(alert).error?.issues));

  const noKey = validateEvent(trigger({ dedup_key: undefined }, { summary: "x".repeat(600), severity: "info" }));
  assert.ok(noKey.ok);
  const made = alertOfEvent(noKey.event, target, cfg, { now, maxLabels: 64 });
  assert.match(made.dedup_key, /^[0-9a-f]{32}$/);
  assert.is(made.alert!.fingerprint, made.dedup_key);
  assert.is((made.alert!.title as string).length, 512);
  assert.is((made.alert!.message as string).length, 600);
  assert.is(made.alert!.severity, "P3");
  assert.is(made.alert!.starts_at, now.toISOString());

  const res = validateEvent({ routing_key: KEY, event_action: "resolve", dedup_key: "dk-1" });
  assert.ok(res.ok);
  assert.equal(alertOfEvent(res.event, target, cfg, { now, maxLabels: 64 }), { dedup_key: "dk-1", alert: { service: "pay", fingerprint: "dk-1", status: "resolved", env: "staging" } });
});

test("a trigger names no end (it fires until its resolve) unless its key has resolve_timeout_minutes (senders that never resolve)", () => {
  const now = new Date("2026-03-02T10:00:00.000Z");
  const withTimeout = PagerDutyIntakeConfig.parse({ routing_keys: { "sentry-key": { service: "web", source: "sentry", resolve_timeout_minutes: 60 } } });
  const target = resolveRoutingKeys(withTimeout, {}).byKey.get("sentry-key")!;
  assert.is(target.resolve_timeout_minutes, 60);
  const e = validateEvent(trigger({ routing_key: "sentry-key" }));
  assert.ok(e.ok);
  assert.is(alertOfEvent(e.event, target, withTimeout, { now, maxLabels: 64 }).alert!.ends_at, "2026-03-02T11:00:00.000Z");
  const plain = resolveRoutingKeys(cfg, env).byKey.get(KEY)!;
  assert.is(alertOfEvent(e.event, plain, cfg, { now, maxLabels: 64 }).alert!.ends_at, undefined);
  assert.not.ok(PagerDutyIntakeConfig.safeParse({ routing_keys: { k: { service: "web", source: "x", resolve_timeout_minutes: 0 } } }).success);
});

test("custom_details labels are bounded in count and key length", () => {
  const many = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, i]));
  assert.is(Object.keys(detailLabels(many, 10)).length, 10);
  assert.equal(detailLabels({ ["x".repeat(200)]: 1, ok: "v".repeat(2000) }, 10), { "details.ok": "v".repeat(1024) });
});

// --- the route ---------------------------------------------------------------------------------

interface Published { subject: string; batch: AlertBatchMessage; msgID: string }

function fakeJs(fail = false): { js: JetStreamClient; published: Published[] } {
  const published: Published[] = [];
  const js = {
    async publish(subject: string, data: string, opts: { msgID: string }) {
      if (fail) throw new Error("no responders");
      published.push({ subject, batch: JSON.parse(data) as AlertBatchMessage, msgID: opts.msgID });
      return { seq: published.length, duplicate: false, stream: "OPS_ALERTS" };
    },
  } as unknown as JetStreamClient;
  return { js, published };
}

const acked: Array<{ agent: string; params: Record<string, unknown> }> = [];
const fakeOncall: ToolDef = {
  name: "oncall_tool",
  description: "test double",
  actions: {
    incident_ack: action({
      entitlement: "tools.incidents.write",
      description: "records",
      params: z.looseObject({}),
      handler: async (p, h) => {
        acked.push({ agent: h.caller.agent_id, params: p });
        return { changed: acked.length === 1, ...(acked.length === 1 ? { event: { id: "ev_1" } } : {}) };
      },
    }),
  },
};

const storedAlert = { alert_ref: "alr_1", fingerprint: "dk-1", service: "checkout", env: "prod", kind: "custom", title: "t", source: "datadog", labels: {} } as unknown as AlertRecord;

function route(opts: { fail?: boolean; withDeps?: boolean; config?: PagerDutyIntakeConfig; storeDown?: boolean } = {}) {
  const h = harness({ tools: [fakeOncall] });
  const { js, published } = fakeJs(opts.fail);
  const signature = policies.alertRouting.incidents;
  const pagerduty: PagerDutyDeps = {
    js,
    subjects: subjectsOf({ prefix: "ops", streamPrefix: "OPS" } as Parameters<typeof subjectsOf>[0]),
    config: opts.config ?? cfg,
    env,
    alerts: { list: async (q) => (opts.storeDown ? Promise.reject(new Error("connection refused")) : q.fingerprint === "dk-1" && q.service === "checkout" ? [storedAlert] : []) },
    incidents: { signatureState: async (s) => (s === incidentSignature(storedAlert, signature) ? { signature: s, open_incident_id: "inc_20260302_1000_aa", updated_at: "" } : null) },
    signature,
    maxLabels: 64,
    check: makeEntryCheck(policies.alertRouting),
    now: () => new Date(h.clock.ms),
  };
  const app = buildHttpApp({ gateway: h.deps, logger: h.deps.logger, health: async () => ({ ok: true }), status: async () => ({}), ...(opts.withDeps === false ? {} : { pagerduty }) }).app;
  const post = (body: unknown, url = "/v2/enqueue", headers: Record<string, string | string[]> = {}) =>
    app.inject({
      method: "POST",
      url,
      headers: { "content-type": "application/json", ...headers },
      payload: typeof body === "string" || body instanceof Uint8Array ? Buffer.from(body) : JSON.stringify(body),
    });
  return { h, app, post, published };
}

test("trigger: 202 with PagerDuty's body after one batch message on ops.alerts.batch.pagerduty", async () => {
  const { h, post, published } = route();
  const res = await post(trigger());
  assert.is(res.statusCode, 202, res.body);
  assert.equal(res.json(), { status: "success", message: "Event processed", dedup_key: "dk-1" });
  assert.is(published.length, 1);
  assert.is(published[0]!.subject, "ops.alerts.batch.pagerduty");
  assert.is(published[0]!.batch.via, "pagerduty");
  assert.is(published[0]!.batch.caller, "pagerduty:checkout-dd");
  assert.is((published[0]!.batch.alerts[0] as { fingerprint: string }).fingerprint, "dk-1");
  assert.is((await post(trigger({ dedup_key: undefined }), "/v2/enqueue/")).statusCode, 202);
  const audit = await h.audited();
  assert.is(audit.length, 2);
  assert.equal([audit[0]!.channel, audit[0]!.tool, audit[0]!.action, audit[0]!.status, audit[0]!.agent_id], ["http", "pagerduty_events", "trigger", "ok", "pagerduty:checkout-dd"]);
  assert.not.ok(JSON.stringify(audit).includes(KEY), "the routing key itself is never audited");
});

test("the alert check's reasons name the event's fields", () => {
  const why = "contains a NUL character";
  const cases: Array<[string, "trigger" | "resolve", string]> = [
    ["title", "trigger", "'payload.summary'"],
    ["message", "trigger", "'payload.summary'"],
    ["fingerprint", "trigger", "'dedup_key'"],
    ["labels.component", "trigger", "'payload.component'"],
    ["labels.source", "trigger", "'payload.source'"],
    ["labels.details.db.host", "trigger", "'payload.custom_details.db.host'"],
    ["meta.pagerduty.custom_details.deep.0.x", "trigger", "'payload.custom_details.deep.0.x'"],
    ["meta.pagerduty.links.0.href", "trigger", "'links.0.href'"],
    ["meta.annotations.client_url", "trigger", "'client_url'"],
    // A resolve's alert is made of its dedup_key alone, whatever field the check names.
    ["title", "resolve", "'dedup_key'"],
  ];
  for (const [field, act, named] of cases) assert.is(inEventTerms(`${field}: ${why}`, act), `${named} ${why}`, field);
  // Not a field it knows, or not a field at all: as it was.
  assert.is(inEventTerms("payload_too_large: 9 bytes, limit 8", "trigger"), "payload_too_large: 9 bytes, limit 8");
  assert.is(inEventTerms("labels.team: too long", "trigger"), "labels.team: too long");
  assert.is(inEventTerms("payload_too_large: 9 bytes, limit 8", "resolve"), "payload_too_large: 9 bytes, limit 8");
});

test("bad bodies: 400 with errors, nothing published, each audited as denied", async () => {
  const { h, post, published } = route();
  // The last two are valid PagerDuty events the ingest worker would refuse (a NUL; an alert over
  // max_payload_bytes): 400 here, or the sender hears "processed" for an alert never stored.
  const cases: unknown[] = [
    "not json", [trigger()], trigger({}, { summary: undefined }), trigger({}, { severity: "fatal" }), trigger({ routing_key: "nope" }),
    trigger({}, { summary: "nul \u0000 inside" }), trigger({}, { custom_details: { blob: "x".repeat(100 * 1024) } }),
  ];
  for (const body of cases) {
    const res = await post(body);
    assert.is(res.statusCode, 400, res.body);
    const b = res.json<{ status: string; message: string; errors: string[] }>();
    assert.is(b.status, "invalid event");
    assert.is(b.message, "Event object is invalid");
    assert.ok(b.errors.length >= 1);
  }
  assert.is(published.length, 0);
  // A refusal of the alert names the event's field the sender wrote, not the alert's.
  const nul = (await post(trigger({}, { summary: "nul \u0000 inside" }))).json<{ errors: string[] }>().errors;
  assert.equal(nul, ["'payload.summary' contains a NUL character (\\u0000); refused, no store can keep it"]);
  const audit = (await h.audited()).slice(0, cases.length);
  assert.is(audit.length, cases.length);
  assert.ok(audit.every((r) => r.decision === "deny" && r.status === "invalid_request" && r.channel === "http"));
  const huge = await post(trigger({}, { custom_details: { blob: "x".repeat(600 * 1024) } }));
  assert.is(huge.statusCode, 413);
  assert.equal([huge.json<{ status: string }>().status, huge.headers.connection], ["invalid event", "close"]);
  const plain = await route().app.inject({ method: "POST", url: "/v2/enqueue", headers: { "content-type": "text/plain" }, payload: "{}" });
  assert.equal([plain.statusCode, plain.json<{ errors: string[] }>().errors], [415, ["Content-Type must be application/json"]]);
  assert.is((await h.audited()).at(-1)!.status, "payload_too_large");
});

test("rate: past rate_per_minute per routing key 429 with Retry-After; another key unaffected", async () => {
  const { post, published } = route();
  for (let i = 0; i < 3; i++) assert.is((await post(trigger({ dedup_key: `r${i}` }))).statusCode, 202);
  const limited = await post(trigger({ dedup_key: "r4" }));
  assert.is(limited.statusCode, 429);
  assert.ok(Number(limited.headers["retry-after"]) >= 1);
  assert.is((await post(trigger({ routing_key: "pay-key-from-env" }))).statusCode, 202);
  assert.is(published.length, 4);
});

test("publish failure → 503; an acknowledge the stores cannot answer → 503; no intake deps → 503", async () => {
  assert.is((await route({ fail: true }).post(trigger())).statusCode, 503);
  const down = route({ storeDown: true });
  assert.is((await down.post({ routing_key: KEY, event_action: "acknowledge", dedup_key: "dk-1" })).statusCode, 503);
  assert.is((await down.h.audited())[0]!.status, "unavailable");
  const bare = route({ withDeps: false });
  const res = await bare.post(trigger());
  assert.is(res.statusCode, 503);
  assert.is((await bare.h.audited())[0]!.status, "unavailable");
});

test("acknowledge: the open incident acknowledged via oncall_tool.incident_ack as the key's identity; again unchanged; unknown key still 202", async () => {
  acked.length = 0;
  const { h, post, published } = route();
  const res = await post({ routing_key: KEY, event_action: "acknowledge", dedup_key: "dk-1" });
  assert.is(res.statusCode, 202);
  assert.equal(res.json(), { status: "success", message: "Event processed", dedup_key: "dk-1" });
  assert.is(acked.length, 1);
  assert.is(acked[0]!.agent, "pagerduty:checkout-dd");
  assert.equal(acked[0]!.params, { incident_id: "inc_20260302_1000_aa", note: "acknowledged via PagerDuty Events API (routing key checkout-dd)" });
  assert.is((await post({ routing_key: KEY, event_action: "acknowledge", dedup_key: "dk-1" })).statusCode, 202);
  const unknown = await post({ routing_key: KEY, event_action: "acknowledge", dedup_key: "never-seen" });
  assert.is(unknown.statusCode, 202);
  assert.is(acked.length, 2);
  assert.is(published.length, 0);
  const audit = await h.audited();
  const ours = audit.filter((r) => r.tool === "pagerduty_events");
  assert.equal(ours.map((r) => [r.action, r.status, r.params.recorded, r.params.changed]), [
    ["acknowledge", "ok", "acknowledged", true],
    ["acknowledge", "ok", "acknowledged", false],
    ["acknowledge", "ok", "no_alert", undefined],
  ]);
  assert.is(audit.filter((r) => r.tool === "oncall_tool" && r.action === "incident_ack" && r.agent_id === "pagerduty:checkout-dd").length, 2);
});

test("fuzz: mutated events never crash the route; each is 202 (and published, valid) or refused, and audited once", async () => {
  const seed = Number(process.env.FUZZ_SEED ?? 1313);
  const r = seededRng(seed);
  const { h, post, published } = route({ config: { ...cfg, rate_per_minute: 100_000 } });
  const schema = alertInputSchema(policies.alertRouting.alerts);
  let answered202 = 0;
  const N = 400;
  for (let i = 0; i < N; i++) {
    const m = mutate(r, trigger({ dedup_key: `fz-${i}` }), { maxBytes: 512 * 1024, hardMaxBytes: 700 * 1024 });
    const res = await post(m.body, "/v2/enqueue", { ...m.headers, "content-type": "application/json" });
    assert.ok([202, 400, 413, 415].includes(res.statusCode), `seed ${seed} #${i} ${m.kind}: ${res.statusCode} ${res.body.slice(0, 300)}`);
    if (res.statusCode === 202) answered202++;
  }
  assert.is(published.length, answered202, "every 202 published exactly one batch");
  for (const p of published) {
    const entry = AlertBatchMessage.parse(p.batch).alerts[0] as Record<string, unknown>;
    if (entry.status === "firing") assert.ok(schema.safeParse(entry).success, JSON.stringify(entry).slice(0, 300));
  }
  assert.is((await h.audited()).length, N);
});

test.run();
