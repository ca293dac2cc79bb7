/** The parts of opsbus a process can run: all of them (`start`) or one (`worker <name>`). */
import type { Ctx } from "./context.js";
import { AlertWork } from "./alerts/work.js";
import { AuditWriter, startToolService } from "./gateway/index.js";
import { serveHealth } from "./health.js";
import { EventPublisher } from "./nats/events.js";
import { createAlertIngestTool } from "./tools/alert-ingest-tool.js";
import { createAuditTool } from "./tools/audit-tool.js";
import { createGraphsTool } from "./tools/graphs-tool.js";
import { createIncidentIntelligenceTool } from "./tools/incident-intelligence-tool.js";
import { createOncallTool } from "./tools/oncall-tool.js";
import { incidentPaths } from "./incidents/paths.js";
import { toolRegistry } from "./tools/types.js";
import { VERSION } from "./version.js";
import * as alertsIn from "./workers/alerts-in.js";
import * as graphRunsWorker from "./workers/graph-runs.js";
import * as triage from "./workers/triage.js";
import type { RunningWorker } from "./workers/types.js";

export const ROLES = ["gateway", "alerts-in", "triage", "graph-runs"] as const;
export type Role = (typeof ROLES)[number];

export function alertWork(ctx: Ctx): AlertWork {
  return new AlertWork({
    nc: ctx.nc,
    js: ctx.js,
    jsm: ctx.jsm,
    store: ctx.stores.alerts,
    events: new EventPublisher(ctx.js, ctx.subjects, ctx.env.NODE_ID, ctx.now),
    subjects: ctx.subjects,
    policy: ctx.policies.alertRouting,
    logger: ctx.logger.child({ component: "alert-work" }),
    now: ctx.now,
  });
}

/** The tool API over NATS (services API), `ops.health`, and the dead-alert watcher. */
export async function startGateway(ctx: Ctx, roles: readonly string[]): Promise<RunningWorker> {
  const logger = ctx.logger.child({ worker: "gateway" });
  const work = alertWork(ctx);
  const audit = new AuditWriter(ctx.stores.audit, logger);
  const paths = incidentPaths(ctx.env);
  const events = new EventPublisher(ctx.js, ctx.subjects, ctx.env.NODE_ID, ctx.now);
  const bridge = triage.incidentBridge(ctx, logger);
  const registry = toolRegistry([
    createAlertIngestTool({
      ingest: alertsIn.ingestDeps(ctx),
      work,
      policy: ctx.policies.alertRouting,
      retentionDays: ctx.policies.dataGovernance.retention.alerts_days,
    }),
    createAuditTool({ audit: ctx.stores.audit, retentionDays: ctx.policies.dataGovernance.retention.audit_days }),
    createOncallTool({
      incidents: ctx.stores.incidents,
      artifactsDir: paths.artifactsDir,
      events,
      alertToIncident: (ref, opts, by) => bridge.alertToIncident(ref, opts, by),
    }),
    createIncidentIntelligenceTool({
      incidents: ctx.stores.incidents,
      alerts: ctx.stores.alerts,
      policy: ctx.policies.incidentIntelligence,
      reportsDir: paths.reportsDir,
      events,
    }),
    createGraphsTool({ runs: triage.graphRuns(ctx, logger) }),
  ]);
  const service = await startToolService({
    registry,
    policies: ctx.policies,
    opsEnv: ctx.env.OPS_ENV,
    apiKeys: ctx.env.apiKeys,
    audit,
    logger,
    nodeId: ctx.env.NODE_ID,
    now: ctx.now,
    nc: ctx.nc,
    subjects: ctx.subjects,
    version: VERSION,
  });
  const stopHealth = serveHealth(ctx, [...roles]);
  const stopWatch = work.watchExhausted();
  logger.info({ tools: [...registry.keys()] }, "gateway started");
  return {
    name: "gateway",
    async stop() {
      stopHealth();
      stopWatch();
      await service.stop();
      await audit.close();
    },
  };
}

export async function startRole(ctx: Ctx, role: Role, all: readonly string[]): Promise<RunningWorker> {
  switch (role) {
    case "gateway":
      return startGateway(ctx, all);
    case "alerts-in":
      return alertsIn.start(ctx);
    case "triage":
      return triage.start(ctx);
    case "graph-runs":
      return graphRunsWorker.start(ctx);
  }
}
