/** The incident workers' dependencies (alert → incident bridge, graph runs), taken from the process context. */
import { sweepAutoResolve } from "../incidents/auto-resolve.js";
import { IncidentBridge } from "../incidents/bridge.js";
import type { GraphExecDeps } from "../incidents/graph-exec.js";
import { GraphRuns } from "../incidents/graph-runs.js";
import { incidentPaths } from "../incidents/paths.js";
import type { Logger } from "../log.js";
import { scheduledRetryDelay } from "../nats/settle.js";
import * as bridgeWorker from "../workers/incident-bridge.js";
import * as graphRunsWorker from "../workers/graph-runs.js";
import type { RunningWorker } from "../workers/types.js";
import type { Ctx } from "./context.js";
import { appDeps } from "./deps.js";

export function graphRuns(ctx: Ctx, logger: Logger = ctx.logger): GraphRuns {
  return new GraphRuns({ incidents: ctx.stores.incidents, js: ctx.js, subjects: ctx.subjects, logger, now: ctx.now });
}

export function incidentBridge(ctx: Ctx, logger: Logger = ctx.logger): IncidentBridge {
  return new IncidentBridge({
    incidents: ctx.stores.incidents,
    alerts: ctx.stores.alerts,
    routing: ctx.policies.alertRouting,
    escalation: ctx.policies.incidentEscalation,
    events: appDeps(ctx).events,
    graphs: graphRuns(ctx, logger),
    actor: `triage@${ctx.env.NODE_ID}`,
    logger,
    now: ctx.now,
  });
}

/** The stores are read at each use, as the worker always did: tests swap in failing ones on a running process. */
export function graphExecDeps(ctx: Ctx): GraphExecDeps {
  return {
    get incidents() {
      return ctx.stores.incidents;
    },
    get alerts() {
      return ctx.stores.alerts;
    },
    policy: ctx.policies.incidentIntelligence,
    artifactsDir: incidentPaths(ctx.env).artifactsDir,
    events: appDeps(ctx).events,
    now: ctx.now,
  };
}

export function startIncidentBridge(ctx: Ctx): Promise<RunningWorker> {
  const logger = ctx.logger.child({ worker: "incident-bridge" });
  return bridgeWorker.start({
    batch: {
      bridge: incidentBridge(ctx, logger),
      alerts: ctx.stores.alerts,
      owner: `triage@${ctx.env.NODE_ID}`,
      retryDelay: scheduledRetryDelay(ctx.policies.alertRouting.work.backoff_seconds, 30),
      now: ctx.now,
      ...(ctx.metrics ? { recordAlertLoop: (ms: number) => ctx.metrics?.recordAlertLoop(ms) } : {}),
    },
    js: ctx.js,
    subjects: ctx.subjects,
    features: ctx.features,
    logger: ctx.logger,
    batchSize: ctx.policies.alertRouting.incidents.batch_size,
    sweepIntervalMs: ctx.policies.incidentEscalation.sweep_interval_seconds * 1000,
    ...(ctx.metrics ? { metrics: ctx.metrics } : {}),
    autoResolve: () =>
      sweepAutoResolve({
        incidents: ctx.stores.incidents,
        alerts: ctx.stores.alerts,
        policy: ctx.policies.incidentEscalation.resolve,
        events: appDeps(ctx).events,
        actor: `incident-bridge@${ctx.env.NODE_ID}`,
        logger,
        now: ctx.now,
      }),
  });
}

export function startGraphRuns(ctx: Ctx): Promise<RunningWorker> {
  return graphRunsWorker.start({
    exec: graphExecDeps(ctx),
    runs: graphRuns(ctx, ctx.logger.child({ worker: "graph-runs" })),
    js: ctx.js,
    subjects: ctx.subjects,
    features: ctx.features,
    logger: ctx.logger,
  });
}
