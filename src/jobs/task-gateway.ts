/**
 * The job runner's port to the gateway core: execute a task's tool action as the task's service
 * account (registry, RBAC, limits and audit all apply), and audit a trigger the runner refused
 * itself. The composition root wires it to the gateway (src/app/jobs.ts).
 */
import type { ToolReply } from "../subjects/index.js";

export interface TaskToolCall {
  tool: string;
  action: string;
  params: Record<string, unknown>;
  /** The task's service account: the call is authorized as this agent. */
  agent: string;
  signal: AbortSignal;
  /** The run id: the audit record's request id. */
  requestId: string;
}

/** A refusal the runner decided (a forged trigger), audited as a denied call by no known agent. */
export interface TaskRefusal {
  ts: string;
  tool: string;
  action: string;
  /** Redacted by the gateway's rules before it is stored. */
  params: Record<string, unknown>;
  error_message: string;
  channel: string;
  request_id: string;
}

export interface TaskGateway {
  /** Never throws for a refused or failed call: the reply says why. */
  execute(call: TaskToolCall): Promise<ToolReply>;
  auditRefusal(r: TaskRefusal): void;
}
