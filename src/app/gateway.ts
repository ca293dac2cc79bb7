/**
 * The gateway core's deps, built once per process: the gateway role's channels (NATS, HTTP) and
 * the job runner share one tool registry, one alert work queue and one audit writer, so they
 * share actions, RBAC, limits and audit.
 */
import type { AlertWork } from "../alerts/work.js";
import { ANONYMOUS_AGENT, AuditWriter, callerFor, executeTool, redactParams, UNKNOWN_ROLE, type GatewayDeps } from "../gateway/index.js";
import type { TaskGateway } from "../jobs/task-gateway.js";
import { newId } from "../ids.js";
import { countingAudit } from "../observability/metrics/opsbus.js";
import type { ToolRegistry } from "../tools/types.js";
import { deadLetterPath } from "../util/dead-letter.js";
import type { Ctx } from "./context.js";
import { perProcess } from "./deps.js";
import { alertWork, buildToolRegistry } from "./tools.js";

export const workOf = (ctx: Ctx): AlertWork => perProcess(ctx, "work", () => alertWork(ctx));

export const toolsOf = (ctx: Ctx): ToolRegistry =>
  perProcess(ctx, "registry", () => buildToolRegistry(ctx, { logger: ctx.logger, work: workOf(ctx) }));

/** The gateway core's deps, held by a role until it stops; the audit writer closes after the last holder. */
export interface HeldGateway {
  gateway: GatewayDeps;
  audit: AuditWriter;
  release(): Promise<void>;
}

interface Shared {
  gateway: GatewayDeps;
  audit: AuditWriter;
  holders: number;
  unwatch(): void;
}

const shared = new WeakMap<Ctx, Shared>();

function build(ctx: Ctx, role: string, tools: ToolRegistry): Shared {
  const logger = ctx.logger.child({ component: "gateway-core" });
  // Records the audit store refuses for good go to <DATA_DIR>/dead-letter/<file>.jsonl (counted in health and /metrics).
  const file = role === "gateway" ? "audit" : `audit-${role}`;
  const audit = new AuditWriter(ctx.stores.audit, logger, { deadLetterPath: deadLetterPath(ctx.env.DATA_DIR, file) });
  const gateway: GatewayDeps = {
    registry: tools,
    policies: ctx.policies,
    opsEnv: ctx.env.OPS_ENV,
    apiKeys: ctx.env.apiKeys,
    audit: countingAudit(audit, ctx.metrics, { tools }),
    logger,
    nodeId: ctx.env.NODE_ID,
    now: ctx.now,
  };
  return { gateway, audit, holders: 0, unwatch: ctx.health?.watchAudit(role, audit) ?? (() => undefined) };
}

/**
 * `role` names the audit writer (health, dead-letter file) when this call creates it. A given
 * `registry` (tests: the production tools plus a test-only one) gets deps and an audit writer of its own.
 */
export function holdGateway(ctx: Ctx, role: string, registry?: ToolRegistry): HeldGateway {
  let s = registry ? undefined : shared.get(ctx);
  if (!s) {
    s = build(ctx, role, registry ?? toolsOf(ctx));
    if (!registry) shared.set(ctx, s);
  }
  const held = s;
  held.holders++;
  let released = false;
  return {
    gateway: held.gateway,
    audit: held.audit,
    async release() {
      if (released) return;
      released = true;
      if (--held.holders > 0) return;
      if (shared.get(ctx) === held) shared.delete(ctx);
      await held.audit.close();
      held.unwatch();
    },
  };
}

/** The job runner's port onto the gateway core: its calls go through RBAC, limits and audit on the `scheduler` channel. */
export function taskGatewayOf(gateway: GatewayDeps): TaskGateway {
  return {
    execute: (c) =>
      executeTool(gateway, {
        tool: c.tool,
        body: { action: c.action, params: c.params, agent_id: c.agent },
        channel: "scheduler",
        trustedCaller: callerFor(gateway.policies.rbac, c.agent, { authenticated: true, channel: "scheduler" }),
        signal: c.signal,
        requestId: c.requestId,
      }),
    auditRefusal: (r) =>
      gateway.audit.write({
        id: newId("aud"), ts: r.ts, agent_id: ANONYMOUS_AGENT, role: UNKNOWN_ROLE,
        tool: r.tool, action: r.action, decision: "deny", status: "forbidden", duration_ms: 0,
        params: redactParams(r.params, gateway.policies.dataGovernance.redact_param_keys),
        error_message: r.error_message, channel: r.channel, node_id: gateway.nodeId, request_id: r.request_id,
      }),
  };
}
