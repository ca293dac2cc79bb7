import { z } from "zod";
import type { ErrorCode } from "../errors.js";
import { token, type Naming } from "./prefix.js";

/** The request body of `ops.tools.<tool>`. */
export const ToolRequest = z.strictObject({
  action: z.string().min(1).max(64),
  params: z.record(z.string(), z.unknown()).default({}),
  agent_id: z.string().min(1).max(128).optional(),
});
export type ToolRequest = z.infer<typeof ToolRequest>;

export type ToolReply<T = unknown> =
  | { ok: true; result: T }
  | { ok: false; error: { code: ErrorCode; message: string; details?: unknown } };

export const TOOL_NAMES = [
  "alert_ingest_tool",
  "oncall_tool",
  "incident_intelligence_tool",
  "risk_history_tool",
  "architecture_pressure_tool",
  "backlog_tool",
  "jobs_tool",
  "release_tool",
  "audit_tool",
  "monitor_tool",
  "graphs_tool",
  "silence_tool",
  "notification_tool",
] as const;

export const SERVICE_NAME = "opsbus-tools";

export function toolSubjects(n: Naming) {
  return {
    group: `${n.prefix}.tools`,
    of: (tool: string) => `${n.prefix}.tools.${tool}`,
    health: `${n.prefix}.health`,
    monitorStatus: `${n.prefix}.monitor.status`,
    /** `ops.monitor.status.<node_id>`: the status of one node, when several answer ops.monitor.status. */
    monitorStatusOf: (nodeId: string) => `${n.prefix}.monitor.status.${token(nodeId)}`,
  };
}
