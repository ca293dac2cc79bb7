/**
 * Gateway latency: `alert_ingest_tool.list` through a gateway in a child process, against a
 * services-API echo in another child process, both asked one request at a time.
 */
import type { NatsConnection } from "@nats-io/nats-core";
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { loadPolicies } from "../../src/config/load.js";
import { limitsFor } from "../../src/gateway/limits.js";
import { naming, subjects, type ToolReply } from "../../src/subjects/index.js";
import { waitFor } from "../../test/harness/wait.js";
import { crashGuard, spawnNode, type NodeChild } from "./child.js";
import type { Cleanup } from "./cleanup.js";
import { interleavedLatency } from "./latency.js";
import { say } from "./progress.js";
import type { LatencySummary } from "./stats.js";

const S = subjects(naming());
const TOOL = "alert_ingest_tool";
export const GATEWAY_AGENT = "sofiia";

export interface GatewayPlan {
  seed: number;
  warmup: number;
  count: number;
}

export interface GatewayContext {
  repoRoot: string;
  tmpRoot: string;
  natsUrl: string;
  nc: NatsConnection;
  cleanup: Cleanup;
}

export interface GatewayResult {
  echo: LatencySummary;
  list: LatencySummary;
  seeded: number;
  list_returned: number;
  /** Set when the repo's tool_limits.yml would have throttled the bench and a raised copy was used. */
  config_note: string | null;
}

const listBody = JSON.stringify({ action: "list", params: { limit: 50, window_minutes: 240 }, agent_id: GATEWAY_AGENT });

/**
 * The repo's config when its rate limit lets every bench call through (burst alone covers
 * them, since the calls come faster than any refill); otherwise a bench-only copy with a raised limit.
 */
function benchConfigDir(ctx: GatewayContext, calls: number): { dir: string; note: string | null } {
  const repoConfig = join(ctx.repoRoot, "config");
  const limits = limitsFor(loadPolicies(repoConfig).toolLimits, TOOL, GATEWAY_AGENT);
  if (limits.burst >= calls) return { dir: repoConfig, note: null };
  const dir = mkdtempSync(join(ctx.tmpRoot, "config-"));
  cpSync(repoConfig, dir, { recursive: true });
  const file = join(dir, "tool_limits.yml");
  const doc = (parse(readFileSync(file, "utf8")) ?? {}) as { agents?: Record<string, unknown> };
  doc.agents = { ...doc.agents, [GATEWAY_AGENT]: { rate_per_minute: 10 * calls * 60, burst: 2 * calls } };
  writeFileSync(file, stringify(doc));
  const note =
    `config/tool_limits.yml gives ${GATEWAY_AGENT} on ${TOOL} burst ${limits.burst}, ${limits.rate_per_minute}/min: ` +
    `too few for ${calls} back-to-back calls; used a bench-only CONFIG_DIR copy with the limit raised`;
  say(`gateway: ${note}`);
  return { dir, note };
}

function replyResult<T>(data: Uint8Array): T {
  const reply = JSON.parse(new TextDecoder().decode(data)) as ToolReply<T>;
  if (!reply.ok) throw new Error(`${TOOL} replied ${reply.error.code}: ${reply.error.message}`);
  return reply.result;
}

async function startChild(ctx: GatewayContext, name: string, args: string[], env: Record<string, string>): Promise<NodeChild> {
  const child = spawnNode({ name, args, cwd: ctx.repoRoot, env, logFile: join(ctx.tmpRoot, `${name.replace(/\W+/g, "-")}.log`) });
  ctx.cleanup.defer(`stop ${name}`, () => child.stop());
  return child;
}

async function ready(child: NodeChild, probe: () => Promise<boolean>, what: string): Promise<void> {
  const guard = crashGuard(child);
  try {
    await Promise.race([guard.promise, waitFor(probe, { timeoutMs: 60_000, intervalMs: 100, message: what })]);
  } finally {
    guard.cancel();
  }
}

export async function runGatewayLatency(ctx: GatewayContext, plan: GatewayPlan): Promise<GatewayResult> {
  const echoSubject = "bench.echo";
  const echo = await startChild(ctx, "echo service", ["dist/bench/lib/echo-server.js", ctx.natsUrl, echoSubject], {});
  // + readiness probes (list calls too) with room to spare.
  const calls = plan.seed + plan.warmup + plan.count + 50;
  const config = benchConfigDir(ctx, calls);
  say("gateway: starting (child process, memory backends)…");
  const gateway = await startChild(ctx, "gateway", ["dist/src/cli.js", "worker", "gateway"], {
    NATS_URL: ctx.natsUrl,
    ALERT_BACKEND: "memory",
    AUDIT_BACKEND: "memory",
    OPS_ENV: "dev",
    CONFIG_DIR: config.dir,
    DATA_DIR: mkdtempSync(join(ctx.tmpRoot, "data-gateway-")),
    LOG_LEVEL: "warn",
    OPSBUS_START_NATS: "0",
  });
  const subject = S.tools.of(TOOL);
  await ready(echo, async () => (await ctx.nc.request(echoSubject, "ping", { timeout: 1000 })).data.length > 0, "the echo service");
  await ready(gateway, async () => (await ctx.nc.request(subject, listBody, { timeout: 1000 })).data.length > 0, "the gateway's tool endpoint");

  const guards = [crashGuard(echo), crashGuard(gateway)];
  try {
    return await Promise.race([
      ...guards.map((g) => g.promise),
      (async (): Promise<GatewayResult> => {
        say(`gateway: seeding ${plan.seed} alerts via ${TOOL}.ingest…`);
        for (let i = 0; i < plan.seed; i++) {
          const body = JSON.stringify({
            action: "ingest",
            params: { service: `svc-${i % 10}`, title: `seeded alert ${i}`, kind: "latency", severity: "P2", source: "bench", fingerprint: `seed-${i}`, labels: { n: i } },
            agent_id: GATEWAY_AGENT,
          });
          const r = replyResult<{ accepted: boolean }>((await ctx.nc.request(subject, body, { timeout: 10_000 })).data);
          if (!r.accepted) throw new Error(`seed alert ${i} was not accepted`);
        }
        const returned = replyResult<{ count: number }>((await ctx.nc.request(subject, listBody, { timeout: 10_000 })).data).count;
        if (returned < 50) throw new Error(`list returned ${returned} alerts after seeding ${plan.seed}; expected 50`);
        const [echoLatency, list] = await interleavedLatency(
          ctx.nc,
          [
            { subject: echoSubject, body: listBody },
            // A rate_limited or any other error reply throws: it would not be a list latency.
            { subject, body: listBody, check: (data) => void replyResult(data) },
          ],
          { warmup: plan.warmup, count: plan.count, label: `latency: ${plan.count} × (echo, ${TOOL}.list limit 50), alternating` },
        );
        return { echo: echoLatency!, list: list!, seeded: plan.seed, list_returned: returned, config_note: config.note };
      })(),
    ]);
  } finally {
    for (const g of guards) g.cancel();
    await gateway.stop();
    await echo.stop();
  }
}
