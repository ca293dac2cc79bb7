/**
 * Every tool opsbus serves, built from the context. The gateway serves this registry over NATS;
 * the job runner executes scheduled tasks through the same one, so both share actions and RBAC.
 */
import { AlertWork } from "../alerts/work.js";
import { checkPoliciesAgainstTools } from "../config/load.js";
import type { Ctx } from "./context.js";
import { incidentPaths } from "../incidents/paths.js";
import type { Logger } from "../log.js";
import { heartbeatOf, monitorStatus } from "../observability/monitor/status.js";
import { BYPASS_ENTITLEMENT } from "../release/bypass.js";
import { ingestDeps } from "./alerts-in.js";
import { monitorStatusDeps } from "./control-plane.js";
import { appDeps } from "./deps.js";
import { graphRuns, incidentBridge } from "./incidents.js";
import { jobRunsOf } from "./job-runs.js";
import { releaseDepsOf } from "./release.js";
import { silenceServiceOf } from "./silences.js";
import { createAlertIngestTool } from "../tools/alert-ingest-tool.js";
import { createArchitecturePressureTool } from "../tools/architecture-pressure-tool.js";
import { createAuditTool } from "../tools/audit-tool.js";
import { createBacklogTool } from "../tools/backlog-tool.js";
import { createGraphsTool } from "../tools/graphs-tool.js";
import { createIncidentIntelligenceTool } from "../tools/incident-intelligence-tool.js";
import { createJobsTool } from "../tools/jobs-tool.js";
import { createMonitorTool } from "../tools/monitor-tool.js";
import { lastNodesStatus } from "../observability/monitor/nodes.js";
import { createOncallTool } from "../tools/oncall-tool.js";
import { createReleaseTool } from "../tools/release-tool.js";
import { createRiskHistoryTool } from "../tools/risk-history-tool.js";
import { createSilenceTool } from "../tools/silence-tool.js";
import { createNotificationTool } from "../tools/notification-tool.js";
import { notifyOf } from "./notify.js";
import { toolRegistry, type ToolDef, type ToolRegistry } from "../tools/types.js";

export function alertWork(ctx: Ctx): AlertWork {
  return new AlertWork({
    nc: ctx.nc,
    js: ctx.js,
    jsm: ctx.jsm,
    store: ctx.stores.alerts,
    events: appDeps(ctx).events,
    subjects: ctx.subjects,
    policy: ctx.policies.alertRouting,
    logger: ctx.logger.child({ component: "alert-work" }),
    now: ctx.now,
    ...(ctx.metrics ? { metrics: ctx.metrics } : {}),
  });
}

/** `extraTools` (tests: a controllable tool) are served too, and checked against the config with the rest. */
export function buildToolRegistry(ctx: Ctx, opts: { logger: Logger; work?: AlertWork; extraTools?: ToolDef[] }): ToolRegistry {
  const { logger } = opts;
  const paths = incidentPaths(ctx.env);
  const { events } = appDeps(ctx);
  const bridge = incidentBridge(ctx, logger);
  const registry = toolRegistry([
    createAlertIngestTool({
      ingest: ingestDeps(ctx),
      work: opts.work ?? alertWork(ctx),
      policy: ctx.policies.alertRouting,
      retentionDays: ctx.policies.dataGovernance.retention.alerts_days,
    }),
    createAuditTool({ audit: ctx.stores.audit, retentionDays: ctx.policies.dataGovernance.retention.audit_days }),
    createOncallTool({
      incidents: ctx.stores.incidents,
      artifactsDir: paths.artifactsDir,
      events,
      alertToIncident: (ref, o, by) => bridge.alertToIncident(ref, o, by),
    }),
    createIncidentIntelligenceTool({
      incidents: ctx.stores.incidents,
      alerts: ctx.stores.alerts,
      policy: ctx.policies.incidentIntelligence,
      reportsDir: paths.reportsDir,
      events,
    }),
    createGraphsTool({ runs: graphRuns(ctx, logger) }),
    createRiskHistoryTool({
      incidents: ctx.stores.incidents,
      alerts: ctx.stores.alerts,
      history: ctx.stores.risk,
      policy: ctx.policies.riskPolicy,
      attribution: ctx.policies.riskAttribution,
      reportsDir: paths.reportsDir,
    }),
    createArchitecturePressureTool({
      incidents: ctx.stores.incidents,
      history: ctx.stores.risk,
      policy: ctx.policies.architecturePressure,
      reportsDir: paths.reportsDir,
    }),
    createJobsTool(jobRunsOf(ctx, logger)),
    createBacklogTool({ backlog: ctx.stores.backlog, policy: ctx.policies.backlog, reportsDir: paths.reportsDir, events }),
    createMonitorTool({ status: () => monitorStatus(monitorStatusDeps(ctx), heartbeatOf(ctx.nc)), nodes: () => lastNodesStatus(ctx) }),
    createReleaseTool(releaseDepsOf(ctx)),
    createSilenceTool({ silences: silenceServiceOf(ctx), incidents: { incidents: ctx.stores.incidents, now: ctx.now } }),
    createNotificationTool({ sentLog: ctx.sentLog, replay: (record, by) => notifyOf(ctx).planner.replay(record, by) }),
    ...(opts.extraTools ?? []),
  ]);
  // A misspelt entitlement or tool name in the config refuses start-up here, where both are known.
  checkPoliciesAgainstTools(ctx.policies, registry, ctx.env.CONFIG_DIR, [BYPASS_ENTITLEMENT]);
  return registry;
}
