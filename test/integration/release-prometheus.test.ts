/**
 * slo_watch against a real Prometheus: the test runs a tiny exporter on loopback (request-duration
 * histogram and request counter for two services), starts `prometheus` scraping it every second,
 * waits until the shipped PromQL answers, and checks release_check through the gateway: the
 * service within its SLOs passes, the breaching one fails strict (prod) and warns (staging), and a
 * Prometheus that went away is "slo source unavailable".
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { loadPolicies } from "../../src/config/load.js";
import { instantQuery, renderQuery } from "../../src/release/prometheus.js";
import type { ReleaseCheckResult } from "../../src/release/types.js";
import type { ToolReply } from "../../src/subjects/index.js";
import { startPrometheus } from "../harness/prometheus.js";
import { startStack } from "../harness/stack.js";
import { waitFor } from "../harness/wait.js";

const BUCKETS = [0.05, 0.1, 0.25, 0.5, 1] as const;

/**
 * Per scrape, each service serves `perScrape` more requests, all with latencies in one bucket
 * (upper bound `le`) and `errors` of them 5xx. Counters grow by a fixed step per scrape, so rates
 * differ by service but every ratio (quantile interpolation, error share) is exact:
 * fast: all in (0.05, 0.1] → p95 = 0.05 + 0.05 × 0.95 = 97.5 ms; 1 error in 1000 → 0.1 %.
 * slow: all in (0.5, 1]    → p95 = 0.5 + 0.5 × 0.95 = 975 ms;   50 errors in 1000 → 5 %.
 */
const SERVICES = { fast: { le: 0.1, perScrape: 1000, errors: 1 }, slow: { le: 1, perScrape: 1000, errors: 50 } } as const;

let scrapes = 0;
function metrics(): string {
  const n = ++scrapes;
  const lines = ["# TYPE http_request_duration_seconds histogram", "# TYPE http_requests_total counter"];
  for (const [service, s] of Object.entries(SERVICES)) {
    const total = n * s.perScrape;
    for (const le of BUCKETS) lines.push(`http_request_duration_seconds_bucket{service="${service}",le="${le}"} ${le >= s.le ? total : 0}`);
    lines.push(`http_request_duration_seconds_bucket{service="${service}",le="+Inf"} ${total}`);
    lines.push(`http_request_duration_seconds_count{service="${service}"} ${total}`, `http_request_duration_seconds_sum{service="${service}"} ${total * s.le}`);
    lines.push(`http_requests_total{service="${service}",code="200"} ${n * (s.perScrape - s.errors)}`, `http_requests_total{service="${service}",code="500"} ${n * s.errors}`);
  }
  return `${lines.join("\n")}\n`;
}

const exporter = createServer((req, res) => {
  if (req.url !== "/metrics") return void res.writeHead(404).end();
  res.writeHead(200, { "content-type": "text/plain; version=0.0.4" }).end(metrics());
});
await new Promise<void>((resolve) => exporter.listen(0, "127.0.0.1", resolve));
const exporterPort = (exporter.address() as AddressInfo).port;

const prom = await startPrometheus({ targets: [`127.0.0.1:${exporterPort}`] });
const shipped = loadPolicies("config").observabilitySources.prometheus;
const s = await startStack({
  roles: ["gateway"],
  policies: { observabilitySources: { prometheus: { ...shipped, enabled: true, base_url: prom.url, timeout_ms: 2000 } } },
});
test.after(async () => {
  await s.stop();
  await prom.stop();
  exporter.closeAllConnections();
  await new Promise((resolve) => exporter.close(resolve));
});

function ok<T>(r: ToolReply<T>): T {
  assert.ok(r.ok, JSON.stringify(r).slice(0, 800));
  return (r as { ok: true; result: T }).result;
}
const check = async (params: Record<string, unknown>) => ok(await s.call<ReleaseCheckResult>("release_tool", "release_check", params, { agent: "helion" }));
const slo = (r: ReleaseCheckResult) => r.gates.find((g) => g.gate === "slo_watch")!;

test("the shipped PromQL answers from real scrapes; within SLO → pass, breaching → strict fail in prod, warn in staging", async () => {
  // rate() needs two samples in its window: wait until every query of both services has a value.
  await waitFor(
    async () => {
      for (const service of Object.keys(SERVICES)) {
        for (const template of Object.values(shipped.queries)) {
          const q = renderQuery(template!, { service, env: "prod" });
          if ((await instantQuery(prom.url, q, { timeoutMs: 1000 })).value === undefined) return false;
        }
      }
      return true;
    },
    { timeoutMs: 30_000, intervalMs: 200, message: "prometheus to answer every SLO query with data" },
  ).catch((err: Error) => assert.unreachable(`${err.message}\n--- prometheus log ---\n${prom.log()}`));

  const fast = await check({ service: "fast", env: "prod" });
  assert.equal([fast.pass, fast.verdict, slo(fast).verdict], [true, "pass", "pass"]);
  assert.equal(slo(fast).reasons.slice(0, 2), ["fast latency_p95_ms 97.5 ms ≤ 500 ms (prometheus)", "fast error_rate_pct 0.1% ≤ 1% (prometheus)"]);

  const slow = await check({ service: "slow", env: "prod" });
  assert.equal([slow.pass, slow.verdict, slow.blocked_by, slo(slow).verdict], [false, "fail", ["slo_watch"], "fail"]);
  assert.equal(slo(slow).reasons, ["slow latency_p95_ms 975 ms > 500 ms (prometheus)", "slow error_rate_pct 5% > 1% (prometheus)"]);
  assert.equal(
    (slo(slow).details.readings as Array<{ metric: string; value: number; breached: boolean }>).map((x) => [x.metric, Math.round(x.value * 1e6) / 1e6, x.breached]),
    [["latency_p95_ms", 975, true], ["error_rate_pct", 5, true]],
  );

  const staging = await check({ service: "slow", env: "staging" });
  assert.equal([staging.pass, slo(staging).verdict, staging.warnings.length], [true, "warn", 2]);
});

test("Prometheus gone: slo source unavailable, strict → fail with the reason, the gateway still answers", async () => {
  await prom.stop();
  const r = await check({ service: "fast", env: "prod" });
  assert.equal([r.verdict, r.blocked_by], ["fail", ["slo_watch"]]);
  assert.equal(slo(r).reasons.length, 1);
  assert.match(slo(r).reasons[0]!, new RegExp(`^slo source unavailable: prometheus: GET ${prom.url}/api/v1/query failed: connect ECONNREFUSED`));
});

test.run();
