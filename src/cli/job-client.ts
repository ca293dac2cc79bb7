/** Tool API calls for the `job` and `demo` commands: one reply shape, errors that say what to do. */
import { headers, type NatsConnection } from "@nats-io/nats-core";
import type { Subjects, ToolReply } from "../subjects/index.js";

export interface CallerOptions {
  agent?: string;
  key?: string;
  timeoutMs?: number;
}

/** A tool answered `ok: false`: code and message as the gateway sent them. */
export class ToolCallError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(`${code}: ${message}`);
    this.name = "ToolCallError";
  }
}

export type ToolCaller = <T>(tool: string, action: string, params?: Record<string, unknown>) => Promise<T>;

/** A caller bound to one connection and identity; the key defaults to $OPSBUS_KEY. */
export function toolCaller(nc: NatsConnection, subjects: Subjects, o: CallerOptions): ToolCaller {
  const key = o.key ?? process.env.OPSBUS_KEY;
  return async <T>(tool: string, action: string, params: Record<string, unknown> = {}): Promise<T> => {
    const h = headers();
    if (key) h.set("Authorization", `Bearer ${key}`);
    const body = JSON.stringify({ action, params, ...(o.agent ? { agent_id: o.agent } : {}) });
    let reply: ToolReply<T>;
    try {
      reply = (await nc.request(subjects.tools.of(tool), body, { timeout: o.timeoutMs ?? 10_000, headers: h })).json<ToolReply<T>>();
    } catch (err) {
      const msg = (err as Error).message;
      if (/no responders/i.test(msg)) throw new Error(`no gateway answers on ${subjects.tools.of(tool)}; start one with npm start (or opsbus worker gateway)`);
      throw new Error(`${tool}.${action}: ${msg}`);
    }
    if (!reply.ok) {
      const hint = reply.error.code === "unauthenticated" ? " (pass --key or set OPSBUS_KEY)" : reply.error.code === "forbidden" ? " (try --agent with a role that has the entitlement, see config/rbac_tools_matrix.yml)" : "";
      throw new ToolCallError(reply.error.code, `${reply.error.message}${hint}`, reply.error.details);
    }
    return reply.result;
  };
}

/** Parses a JSON object option; a clear message names the option otherwise. */
export function jsonObjectOption(name: string, raw: string | undefined): Record<string, unknown> | undefined {
  if (raw === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new UsageError(`${name} is not valid JSON: ${raw}`);
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) throw new UsageError(`${name} must be a JSON object, e.g. '{"env":"prod"}'`);
  return value as Record<string, unknown>;
}

/** A mistake in the command line: exit 2 with the message. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** A positive integer option, or a UsageError naming it. */
export function intOption(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${name} must be a positive integer, got "${raw}"`);
  return n;
}
