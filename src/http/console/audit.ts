/**
 * Audit records of what the console refuses before the gateway core runs (no session, a cross-site
 * or CSRF-less write, a failed login) and of logins and logouts: one record each, channel
 * `console`, through the gateway's audit sink. Tool calls themselves are audited by the core.
 */
import type { AuditRecord } from "../../audit/store.js";
import { ANONYMOUS_AGENT } from "../../gateway/auth.js";
import { UNKNOWN_ROLE } from "../../gateway/execute.js";
import { roleOf } from "../../gateway/rbac.js";
import type { GatewayDeps } from "../../gateway/types.js";
import { newId } from "../../ids.js";
import { scrubSecrets } from "../../log.js";
import type { ErrorCode } from "../../errors.js";

export const CONSOLE_CHANNEL = "console";
/** The audit's tool name for the console's own actions (login, logout, session, events). */
export const CONSOLE_AUDIT_TOOL = "console";

export interface ConsoleAuditEntry {
  agentId?: string;
  tool?: string;
  action: string;
  decision: "allow" | "deny";
  status: "ok" | ErrorCode;
  params: Record<string, unknown>;
  message?: string;
  requestId?: string;
  startedAt: Date;
  started: number;
}

export function writeConsoleAudit(gateway: GatewayDeps, e: ConsoleAuditEntry): void {
  const record: AuditRecord = {
    id: newId("aud"),
    ts: e.startedAt.toISOString(),
    agent_id: e.agentId ?? ANONYMOUS_AGENT,
    role: e.agentId === undefined ? UNKNOWN_ROLE : roleOf(gateway.policies.rbac, e.agentId),
    tool: (e.tool ?? CONSOLE_AUDIT_TOOL).slice(0, 128),
    action: e.action.slice(0, 128),
    decision: e.decision,
    status: e.status,
    duration_ms: Math.round((performance.now() - e.started) * 1000) / 1000,
    params: e.params,
    channel: CONSOLE_CHANNEL,
    node_id: gateway.nodeId,
    ...(e.message ? { error_message: scrubSecrets(e.message) } : {}),
    ...(e.requestId ? { request_id: e.requestId.slice(0, 200) } : {}),
  };
  try {
    gateway.audit.write(record);
  } catch (err) {
    gateway.logger.error({ err }, "could not audit a console request");
  }
}
