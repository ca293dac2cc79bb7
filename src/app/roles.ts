/** The parts of opsbus a process can run: all of them (`start`) or one (`worker <name>`). */
import type { Ctx } from "./context.js";
import { startToolService } from "../gateway/index.js";
import { ProcessHealth, serveHealth } from "../observability/health.js";
import { edgeLimitsOf } from "../http/edge.js";
import { startMetricsListener, type HttpListener } from "../http/metrics-listener.js";
import { OpsMetrics } from "../observability/metrics/opsbus.js";
import { startControlPlane } from "./control-plane.js";
import { VERSION } from "../version.js";
import { startAlertsIn } from "./alerts-in.js";
import { startSuppressionRelease } from "./suppression.js";
import { holdGateway, workOf } from "./gateway.js";
import { startSilenceSweep } from "./silences.js";
import { startGraphRuns, startIncidentBridge } from "./incidents.js";
import { startJobs, startScheduler } from "./jobs.js";
import { startNotifier } from "./notify.js";
import { receiverProblems } from "../notify/integrations/index.js";
import { lowerCpuPriority } from "../util/cpu-priority.js";
import type { RunningWorker } from "../workers/types.js";

export const ROLES = ["gateway", "alerts-in", "incident-bridge", "graph-runs", "scheduler", "jobs", "notifier"] as const;
export type Role = (typeof ROLES)[number];

/** Former role names, still accepted by `opsbus worker` with a deprecation warning. */
export const DEPRECATED_ROLES: Readonly<Record<string, Role>> = { triage: "incident-bridge" };

/** The role a name on the command line means (a deprecated name gives its successor), or undefined. */
export function resolveRole(name: string): { role: Role; deprecated?: string } | undefined {
  if ((ROLES as readonly string[]).includes(name)) return { role: name as Role };
  const role = Object.hasOwn(DEPRECATED_ROLES, name) ? DEPRECATED_ROLES[name] : undefined;
  return role ? { role, deprecated: name } : undefined;
}

/**
 * The tool API over NATS (services API), `ops.health`, the dead-alert watcher, and the control
 * plane: `subjects.tools.monitorStatus`, the nodes poller, the HTTP listener (HTTP_PORT).
 */
export async function startGateway(ctx: Ctx, roles: readonly string[]): Promise<RunningWorker> {
  const logger = ctx.logger.child({ worker: "gateway" });
  const work = workOf(ctx);
  // One set of gateway deps for every channel (NATS, HTTP) and the job runner: same auth, RBAC, limits, audit.
  const held = holdGateway(ctx, "gateway");
  const { gateway } = held;
  const registry = gateway.registry;
  const service = await startToolService({ ...gateway, nc: ctx.nc, subjects: ctx.subjects, version: VERSION }).catch(async (err: unknown) => {
    await held.release();
    throw err;
  });
  const stopHealth = serveHealth(ctx, [...roles]);
  const control = await startControlPlane(ctx, { roles: [...roles], gateway }).catch(async (err: unknown) => {
    stopHealth();
    await service.stop();
    await held.release();
    throw err;
  });
  const stopWatch = work.watchExhausted();
  const stopRelease = startSuppressionRelease(ctx);
  const stopSilenceSweep = startSilenceSweep(ctx);
  logger.info({ tools: [...registry.keys()] }, "gateway started");
  return {
    name: "gateway",
    async stop() {
      await control.stop();
      stopHealth();
      stopWatch();
      stopRelease();
      stopSilenceSweep();
      await service.stop();
      await held.release();
    },
  };
}

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
    const off = receiverProblems(ctx.policies.receivers, process.env).map((p) => p.message);
    health.receiversOff = () => off;
  }
  health.watchStores();
  let listener: HttpListener | undefined;
  if (ctx.env.METRICS_PORT !== undefined) {
    try {
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

/**
 * An ingest worker with a process of its own yields the CPU to the HTTP intake (OPSBUS_INGEST_NICE)
 * once the intake's traffic reaches it: during a storm the gateway answers the senders first, and
 * the worker catches up from the stream. Where monitors only publish on NATS, where a publish is
 * durable at its PubAck whatever the worker does, it keeps its full share.
 */
function yieldToIntake(ctx: Ctx): void {
  const by = ctx.env.OPSBUS_INGEST_NICE;
  if (by === 0) return;
  const changed = lowerCpuPriority(by);
  const log = ctx.logger.child({ worker: "alerts-in" });
  if (changed.error) log.warn({ ...changed, by }, "could not lower the ingest worker's CPU priority everywhere; it competes with the intake as an equal");
  else log.info({ ...changed, by }, "ingest worker runs at a lower CPU priority than the intake (OPSBUS_INGEST_NICE)");
}

export async function startRole(ctx: Ctx, role: Role, all: readonly string[]): Promise<RunningWorker> {
  switch (role) {
    case "gateway":
      return startGateway(ctx, all);
    case "alerts-in":
      return startAlertsIn(ctx, all.length === 1 ? () => yieldToIntake(ctx) : undefined);
    case "incident-bridge":
      return startIncidentBridge(ctx);
    case "graph-runs":
      return startGraphRuns(ctx);
    case "scheduler":
      return startScheduler(ctx);
    case "jobs":
      return startJobs(ctx);
    case "notifier":
      return startNotifier(ctx);
  }
}
