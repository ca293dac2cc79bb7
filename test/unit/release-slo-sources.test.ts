/**
 * The Prometheus source against a scripted HTTP server on loopback: the query sent, the answer
 * shapes (vector, scalar, NaN, no series), and every way the source can be unavailable, as the
 * error message and as slo_watch verdicts (strict → fail, warn → warn, never a crash).
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { instantQuery, renderQuery, SloSourceError } from "../../src/release/prometheus.js";
import { freePort } from "../harness/ports.js";
import { gateOf, onlyGate, releaseFixture } from "./release-fixtures.js";

type Reply = (req: IncomingMessage, res: ServerResponse) => void;
const queries: string[] = [];
let reply: Reply = (_req, res) => res.end();
const server = createServer((req, res) => {
  queries.push(new URL(req.url ?? "/", "http://x").searchParams.get("query") ?? "");
  reply(req, res);
});
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
test.after(() => {
  server.closeAllConnections();
  server.close();
});

const json = (status: number, body: unknown): Reply => (_req, res) => {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
};
const vector = (...values: string[]) =>
  json(200, { status: "success", data: { resultType: "vector", result: values.map((v, i) => ({ metric: { instance: `i${i}` }, value: [1773144000, v] })) } });

async function sourceError(p: Promise<unknown>): Promise<SloSourceError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof SloSourceError) return err;
    throw err;
  }
  throw new Error("expected a SloSourceError");
}

test("renderQuery fills {{service}} and {{env}}", () => {
  assert.is(renderQuery('x{service="{{service}}",env="{{env}}"} > {{service}}', { service: "checkout", env: "prod" }), 'x{service="checkout",env="prod"} > checkout');
});

test("instant query: the worst finite sample over the series; NaN or no series is no value", async () => {
  reply = vector("120.5", "87", "NaN");
  assert.equal(await instantQuery(base, "up", { timeoutMs: 1000 }), { value: 120.5, series: 3 });
  assert.is(queries.at(-1), "up");
  reply = vector("NaN");
  assert.equal(await instantQuery(`${base}/`, "up", { timeoutMs: 1000 }), { value: undefined, series: 1 });
  reply = vector();
  assert.equal(await instantQuery(base, "up", { timeoutMs: 1000 }), { value: undefined, series: 0 });
  reply = json(200, { status: "success", data: { resultType: "scalar", result: [1773144000, "2.5"] } });
  assert.equal(await instantQuery(base, "scalar(1)", { timeoutMs: 1000 }), { value: 2.5, series: 1 });
});

test("unavailable: refused, timed out, Prometheus error, not JSON, unexpected JSON — each with its reason", async () => {
  const closed = await freePort();
  assert.match((await sourceError(instantQuery(`http://127.0.0.1:${closed}`, "up", { timeoutMs: 1000 }))).message, /^GET http:\/\/127\.0\.0\.1:\d+\/api\/v1\/query failed: connect ECONNREFUSED/);

  reply = () => undefined; // never answers
  assert.match((await sourceError(instantQuery(base, "up", { timeoutMs: 150 }))).message, /^GET http:\/\/127\.0\.0\.1:\d+\/api\/v1\/query timed out after 150 ms$/);

  reply = json(400, { status: "error", errorType: "bad_data", error: 'parse error at char 3: unexpected "}"' });
  assert.is((await sourceError(instantQuery(base, "up{", { timeoutMs: 1000 }))).message, 'query refused (bad_data): parse error at char 3: unexpected "}"');

  reply = (_req, res) => res.writeHead(502).end("<html>bad gateway</html>");
  assert.match((await sourceError(instantQuery(base, "up", { timeoutMs: 1000 }))).message, /answered HTTP 502 without JSON: <html>bad gateway<\/html>$/);

  reply = json(200, { status: "success", data: { resultType: "matrix", result: [] } });
  assert.match((await sourceError(instantQuery(base, "up", { timeoutMs: 1000 }))).message, /answered HTTP 200 with an unexpected body/);
});

const promOnly = (baseUrl: string, extra: Record<string, unknown> = {}) => ({
  prometheus: {
    enabled: true,
    base_url: baseUrl,
    timeout_ms: 500,
    queries: { latency_p95_ms: 'p95{service="{{service}}",env="{{env}}"}', error_rate_pct: 'errors{service="{{service}}"}' },
    ...extra,
  },
  alerts: { enabled: false },
});

test("slo_watch on Prometheus readings: within thresholds passes, above fails (strict), thresholds per service", async () => {
  const f = releaseFixture({ gates: onlyGate("slo_watch", "prod", "strict"), sources: promOnly(base), slo: { services: { checkout: { latency_p95_ms: 300 } } } });
  reply = (req, res) => vector(String(req.url).includes("p95") ? "250" : "0.4")(req, res);
  const ok = gateOf(await f.check({ service: "checkout", env: "prod" }), "slo_watch");
  assert.equal([ok.verdict, ok.reasons], ["pass", ["checkout latency_p95_ms 250 ms ≤ 300 ms (prometheus)", "checkout error_rate_pct 0.4% ≤ 1% (prometheus)"]]);
  assert.ok(queries.includes('p95{service="checkout",env="prod"}'), "the template was rendered for the service and env");

  reply = (req, res) => vector(String(req.url).includes("p95") ? "412.3456" : "0.4")(req, res);
  const bad = await f.check({ service: "checkout", env: "prod" });
  assert.equal([bad.verdict, gateOf(bad, "slo_watch").reasons], ["fail", ["checkout latency_p95_ms 412.346 ms > 300 ms (prometheus)"]]);
  assert.equal((gateOf(bad, "slo_watch").details.notes as string[]), ["checkout error_rate_pct 0.4% ≤ 1% (prometheus)"]);
});

test("no data fails when require_data (default), is a note otherwise", async () => {
  reply = vector();
  const strict = releaseFixture({ gates: onlyGate("slo_watch", "prod", "strict"), sources: promOnly(base, { queries: { latency_p95_ms: "p95" } }) });
  const r = gateOf(await strict.check({ service: "checkout", env: "prod" }), "slo_watch");
  assert.equal([r.verdict, r.reasons], ["fail", ["prometheus: no data for latency_p95_ms of checkout (0 series; no traffic or no such service?)"]]);
  const lax = releaseFixture({ gates: onlyGate("slo_watch", "prod", "strict"), sources: promOnly(base, { queries: { latency_p95_ms: "p95" }, require_data: false }) });
  assert.is(gateOf(await lax.check({ service: "checkout", env: "prod" }), "slo_watch").verdict, "pass");
});

test("an unreachable source: strict → fail, warn → warn, one reason per distinct error, the call answers", async () => {
  const closed = `http://127.0.0.1:${await freePort()}`;
  for (const [mode, verdict, pass] of [["strict", "fail", false], ["warn", "warn", true]] as const) {
    const f = releaseFixture({ gates: onlyGate("slo_watch", "staging", mode), sources: promOnly(closed) });
    const r = await f.check({ service: "checkout", env: "staging" });
    const g = gateOf(r, "slo_watch");
    assert.equal([r.pass, g.verdict, g.reasons.length], [pass, verdict, 1], mode);
    assert.match(g.reasons[0]!, /^slo source unavailable: prometheus: GET http:\/\/127\.0\.0\.1:\d+\/api\/v1\/query failed: connect ECONNREFUSED/);
  }
});

test("both sources off, or an env-wide check with no listed services: a reason, not a pass", async () => {
  const none = releaseFixture({ gates: onlyGate("slo_watch", "prod", "strict"), sources: { alerts: { enabled: false } } });
  assert.equal(gateOf(await none.check({ service: "checkout", env: "prod" }), "slo_watch").reasons, ["no slo source enabled in observability_sources.yml"]);
  const wide = releaseFixture({ gates: onlyGate("slo_watch", "prod", "strict"), sources: promOnly(base) });
  assert.equal(gateOf(await wide.check({ env: "prod" }), "slo_watch").reasons, ["prometheus: no service to read (give `service`, or list services in slo_policy.yml)"]);
});

test.run();
