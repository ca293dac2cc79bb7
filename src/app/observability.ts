/** What every process runs besides its roles: health, metrics, and their listener. */
import type { HttpListener } from "../http/metrics-listener.js";
import { ProcessHealth } from "../observability/health.js";
import { OpsMetrics } from "../observability/metrics/opsbus.js";
import type { RunningWorker } from "../workers/types.js";
import type { Ctx } from "./context.js";

/** The observability part of a process; `metrics` is its own listener when METRICS_PORT is set. */
export interface RunningObservability extends RunningWorker {
  metrics?: HttpListener;
}

/**
 * What every process runs besides its roles: its health (`ctx.health`: its consumers, its audit
 * writers; sampled in the background where someone asks for it, so a stall shows on the first
 * question), the metrics gauges fed from it, and with METRICS_PORT its own `/metrics` and
 * `/healthz`, so a worker-only process shows what it does. Started before the roles, stopped after.
 */
export async function startObservability(ctx: Ctx, roles: readonly string[]): Promise<RunningObservability> {
  const health = new ProcessHealth(ctx, roles, { stallMs: ctx.env.HEALTH_STALL_SECONDS * 1000 });
  ctx.health = health;
  const metrics = (ctx.metrics ??= new OpsMetrics());
  metrics.watchQueues(() => health.queues());
  metrics.watchConsumers(() => health.queues());
  metrics.watchAudit(() => health.audit().map((a) => ({ writer: a.writer, backlog: a.backlog, deadLettered: a.dead_lettered })));
  if (roles.includes("gateway") || ctx.env.METRICS_PORT !== undefined) health.start();
  if (roles.includes("gateway") || roles.includes("notifier")) {
    const { receiverProblems } = await import("../notify/integrations/index.js");
    const off = receiverProblems(ctx.policies.receivers, process.env).map((p) => p.message);
    health.receiversOff = () => off;
  }
  health.watchStores();
  let listener: HttpListener | undefined;
  if (ctx.env.METRICS_PORT !== undefined) {
    try {
      // Loaded only here: an HTTP framework a worker without METRICS_PORT would carry for nothing.
      const [{ startMetricsListener }, { edgeLimitsOf }] = await Promise.all([import("../http/metrics-listener.js"), import("../http/edge.js")]);
      listener = await startMetricsListener(
        { metrics: () => metrics.render(), health: () => health.report(), logger: ctx.logger },
        { host: ctx.env.METRICS_HOST, port: ctx.env.METRICS_PORT, edge: edgeLimitsOf(ctx.env) },
      );
    } catch (err) {
      health.stop();
      throw err;
    }
  }
  return {
    name: "observability",
    ...(listener ? { metrics: listener } : {}),
    async stop() {
      await listener?.close();
      health.stop();
    },
  };
}

