/**
 * The listener every process can run (METRICS_PORT): only /metrics and /healthz, on the same edge
 * rules as the gateway's. Routes through `app.inject()`; connection limits and timeouts on a socket.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { setTimeout as delay } from "node:timers/promises";
import { checkingIntervalMs, edgeLimitsOf } from "../../src/http/edge.js";
import { buildMetricsApp, startMetricsListener, type MetricsListenerDeps } from "../../src/http/metrics-listener.js";
import { PROMETHEUS_CONTENT_TYPE } from "../../src/http/probes.js";
import { loadEnv } from "../../src/config/env.js";
import { captureLogger } from "../harness/logs.js";
import { holdSocket, rawGet } from "../harness/raw-http.js";

const METRICS_TEXT = "# HELP up 1 when up\n# TYPE up gauge\nup 1\n";

function deps(over: Partial<MetricsListenerDeps> = {}): MetricsListenerDeps & { healthy: { ok: boolean } } {
  const healthy = { ok: true };
  return { metrics: async () => METRICS_TEXT, health: async () => ({ ...healthy, reason: healthy.ok ? undefined : "stalled" }), logger: captureLogger("warn").logger, healthy, ...over };
}

test("/metrics is Prometheus text; /healthz is the report, 503 when not ok", async () => {
  const d = deps();
  const { app } = buildMetricsApp(d);
  const metrics = await app.inject({ method: "GET", url: "/metrics" });
  assert.equal([metrics.statusCode, metrics.headers["content-type"], metrics.body], [200, PROMETHEUS_CONTENT_TYPE, METRICS_TEXT]);
  assert.equal([(await app.inject({ method: "GET", url: "/healthz" })).statusCode], [200]);
  d.healthy.ok = false;
  const sick = await app.inject({ method: "GET", url: "/healthz" });
  assert.equal([sick.statusCode, sick.json()], [503, { ok: false, reason: "stalled" }]);
  assert.is((await app.inject({ method: "HEAD", url: "/metrics" })).statusCode, 200);
  await app.close();
});

test("only the two probes: other paths 404, other methods 405 with Allow, bodies never parsed", async () => {
  const { app } = buildMetricsApp(deps());
  const missing = await app.inject({ method: "GET", url: "/monitor/status" });
  assert.equal([missing.statusCode, missing.json().error.code], [404, "not_found"]);
  assert.match(missing.json().error.message, /\/healthz, \/metrics/);
  const wrong = await app.inject({ method: "POST", url: "/metrics", payload: "x", headers: { "content-type": "text/plain" } });
  assert.is(wrong.statusCode, 415);
  const post = await app.inject({ method: "POST", url: "/healthz" });
  assert.equal([post.statusCode, post.headers.allow], [405, "GET, HEAD"]);
  await app.close();
});

test("a failing probe is a 500 envelope, its error logged, not leaked", async () => {
  const logs = captureLogger("warn");
  const { app } = buildMetricsApp(deps({ logger: logs.logger, metrics: async () => Promise.reject(new Error("registry exploded: postgres://u:secret@db")) }));
  const res = await app.inject({ method: "GET", url: "/metrics" });
  assert.equal([res.statusCode, res.json()], [500, { ok: false, error: { code: "internal", message: "internal error" } }]);
  assert.ok(logs.lines().some((l) => l.msg === "http request failed"));
  assert.not.match(logs.text(), /secret/);
  await app.close();
});

test("connections past the cap are dropped at once; the rest idle out; then the listener answers again", async () => {
  const listener = await startMetricsListener(deps(), { host: "127.0.0.1", port: 0, edge: { maxConnections: 5, idleTimeoutMs: 800 } });
  try {
    const held = Array.from({ length: 8 }, () => holdSocket(listener.port));
    await Promise.all(held.map((h) => h.connected));
    const closedAfter = (await Promise.all(held.map((h) => h.closed))).sort((a, b) => a - b);
    assert.ok(closedAfter.slice(0, 3).every((ms) => ms < 400), `3 dropped at accept: ${closedAfter}`);
    assert.ok(closedAfter.slice(3).every((ms) => ms >= 700 && ms < 2000), `5 closed by the idle timer: ${closedAfter}`);
    assert.is((await fetch(`${listener.url}/healthz`)).status, 200);
  } finally {
    await listener.close();
  }
});

test("the idle timer never cuts a request in progress: a probe slower than it is answered", async () => {
  const slow = deps({ health: async () => (await delay(1200), { ok: true }) });
  const listener = await startMetricsListener(slow, { host: "127.0.0.1", port: 0, edge: { idleTimeoutMs: 500 } });
  try {
    const res = await rawGet(listener.port, "/healthz");
    assert.equal([res.status, JSON.parse(res.body)], [200, { ok: true }]);
    assert.ok(res.ms >= 1200, `answered after ${res.ms} ms`);
  } finally {
    await listener.close();
  }
});

test("edge limits from the environment; timeouts checked often enough to fire on time", () => {
  const limits = edgeLimitsOf(loadEnv({ HTTP_MAX_CONNECTIONS: "100", HTTP_HEADERS_TIMEOUT_MS: "10000", HTTP_REQUEST_TIMEOUT_MS: "60000", HTTP_IDLE_TIMEOUT_MS: "3000" }));
  assert.equal(limits, { maxConnections: 100, idleTimeoutMs: 3000, headersTimeoutMs: 10_000, requestTimeoutMs: 60_000, bodyLimitBytes: 1024 * 1024 });
  assert.is(checkingIntervalMs(limits), 1000);
  assert.is(checkingIntervalMs({ headersTimeoutMs: 1500, requestTimeoutMs: 3000 }), 150);
  assert.throws(() => edgeLimitsOf(loadEnv({ HTTP_HEADERS_TIMEOUT_MS: "70000" })), /HTTP_HEADERS_TIMEOUT_MS \(70000\) must not exceed HTTP_REQUEST_TIMEOUT_MS/);
});

test.run();
