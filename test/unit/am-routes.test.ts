/**
 * The Alertmanager API's routes without a socket (`app.inject()`) over a fake JetStream: dev trusts
 * an unauthenticated sender, one audit record per request, one publish per POST, 503 until wired.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import type { AuditRecord } from "../../src/audit/store.js";
import { loadPolicies } from "../../src/config/load.js";
import type { GatewayDeps } from "../../src/gateway/types.js";
import type { AlertmanagerDeps } from "../../src/http/alertmanager/index.js";
import { buildHttpApp } from "../../src/http/server.js";
import { AlertBatchMessage, naming, subjects } from "../../src/subjects/index.js";
import { captureLogger } from "../harness/logs.js";

const policies = loadPolicies("config");
const logger = captureLogger("warn").logger;

function setup(opsEnv: "dev" | "prod", withAm = true) {
  const audited: AuditRecord[] = [];
  const published: Array<{ subject: string; data: AlertBatchMessage; msgID?: string }> = [];
  const gateway: GatewayDeps = { registry: new Map(), policies, opsEnv, apiKeys: new Map([["k-mon", "monitor"]]), audit: { write: (r) => void audited.push(r) }, logger, nodeId: "n1" };
  const js = {
    publish: async (subject: string, data: string, opts?: { msgID?: string }) => {
      published.push({ subject, data: JSON.parse(data) as AlertBatchMessage, ...(opts?.msgID ? { msgID: opts.msgID } : {}) });
      return { seq: published.length, duplicate: false, stream: "OPS_ALERTS" };
    },
  } as unknown as JetStreamClient;
  const am: AlertmanagerDeps = {
    nc: { info: undefined },
    js,
    jsm: { getAccountInfo: async () => ({}) } as unknown as JetStreamManager,
    subjects: subjects(naming("ops")),
    alerts: { list: async () => [] },
    policies,
  };
  const { app } = buildHttpApp({ gateway, logger, health: async () => ({ ok: true }), status: async () => ({}), ...(withAm ? { alertmanager: am } : {}) });
  return { app, audited, published };
}

const postAlerts = (payload: string, headers: Record<string, string> = {}) => ({ method: "POST" as const, url: "/api/v2/alerts", headers: { "content-type": "application/json", ...headers }, payload });

test("dev: an unauthenticated POST is trusted; one publish on ops.alerts.batch.alertmanager; 200 with an empty body; one audit record", async () => {
  const { app, audited, published } = setup("dev");
  const alerts = Array.from({ length: 5 }, (_, i) => ({ labels: { alertname: `A${i}`, service: "web" } }));
  const r = await app.inject(postAlerts(JSON.stringify(alerts)));
  assert.equal([r.statusCode, r.body, r.headers["content-length"]], [200, "", "0"]);
  assert.is(published.length, 1);
  assert.is(published[0]!.subject, "ops.alerts.batch.alertmanager");
  assert.ok(published[0]!.msgID?.startsWith("alertmanager:"));
  assert.equal([published[0]!.data.caller, published[0]!.data.alerts.length], ["anonymous", 5]);
  assert.is(audited.length, 1);
  assert.equal([audited[0]!.tool, audited[0]!.action, audited[0]!.status, audited[0]!.params], ["alertmanager_api", "post_alerts", "ok", { alerts: 5, valid: 5, invalid: 0, stream_seq: 1, duplicate: false }]);
});

test("prod: no key 401 and nothing published; a wholly invalid body publishes nothing and is 400", async () => {
  const { app, audited, published } = setup("prod");
  assert.is((await app.inject(postAlerts('[{"labels":{"a":"b"}}]'))).statusCode, 401);
  const bad = await app.inject(postAlerts('[{"labels":{}}]', { authorization: "Bearer k-mon" }));
  assert.equal([bad.statusCode, JSON.parse(bad.body)], [400, "alert 0: labels: at least one label pair required"]);
  assert.is(published.length, 0);
  assert.equal(audited.map((a) => a.status), ["unauthenticated", "invalid_request"]);
});

test("over max_body_bytes: 413 unread, the connection closed, audited", async () => {
  const { app, audited, published } = setup("dev");
  const r = await app.inject(postAlerts(JSON.stringify([{ labels: { a: "x".repeat(policies.intake.alertmanager.max_body_bytes) } }])));
  assert.equal([r.statusCode, r.headers.connection], [413, "close"]);
  assert.equal([published.length, audited.map((a) => a.status)], [0, ["payload_too_large"]]);
});

test("other methods on /api/v2/alerts are 405 with Allow; HEAD works on the GETs", async () => {
  const { app } = setup("dev");
  const r = await app.inject({ method: "DELETE", url: "/api/v2/alerts" });
  assert.equal([r.statusCode, r.headers.allow], [405, "GET, HEAD, POST"]);
  assert.is((await app.inject({ method: "HEAD", url: "/-/healthy" })).statusCode, 200);
  assert.equal(JSON.parse((await app.inject({ method: "GET", url: "/api/v2/alerts" })).body), []);
});

test("not wired: every route answers 503, so a sender retries instead of dropping", async () => {
  const { app } = setup("dev", false);
  for (const url of ["/api/v2/alerts", "/api/v2/status", "/-/ready", "/-/healthy", "/api/v2/alerts/groups"]) {
    assert.is((await app.inject({ method: "GET", url })).statusCode, 503, url);
  }
  assert.is((await app.inject(postAlerts("[]"))).statusCode, 503);
});

test.run();
