import type { OpsEnv } from "../config/env.js";
import type { Policies } from "../config/policies.js";
import type { Logger } from "../log.js";
import type { Caller, ToolRegistry } from "../tools/types.js";
import type { AuditSink } from "./auditWriter.js";
import type { RateLimiter } from "./rateLimit.js";

/** What the gateway core needs; built once by main.ts and shared by every channel. */
export interface GatewayDeps {
  registry: ToolRegistry;
  policies: Pick<Policies, "rbac" | "toolLimits" | "dataGovernance">;
  opsEnv: OpsEnv;
  /** Bearer key → agent id (`RuntimeEnv.apiKeys`). */
  apiKeys: ReadonlyMap<string, string>;
  audit: AuditSink;
  logger: Logger;
  nodeId: string;
  now?: () => Date;
  /**
   * Token buckets. When omitted, one limiter per `policies.toolLimits` object is shared by every
   * channel of the process, so an agent's rate is the same over NATS and HTTP.
   */
  rateLimiter?: RateLimiter;
}

/**
 * Request headers as a channel received them. A name sent more than once keeps every value (an
 * array), so the core can refuse ambiguous ones such as two `Authorization` headers.
 */
export type CallHeaders = Readonly<Record<string, string | readonly string[]>>;

/** One tool call as a channel received it. */
export interface ToolCall {
  tool: string;
  /** Raw bytes or text (parsed and size-checked here), or an already-parsed value. */
  body: unknown;
  /** `Authorization`, `X-Request-Id`, …; names are matched case-insensitively. */
  headers?: CallHeaders;
  /** `nats`, `http`, `scheduler`, … */
  channel: string;
  /** A caller the channel has already established (the scheduler's service account): skips auth, not RBAC. */
  trustedCaller?: Caller;
  /** Refuse a result whose JSON is larger than this (the NATS server's max_payload). */
  maxReplyBytes?: number;
  requestId?: string;
  /** Aborts the handler early (a canceled job run); the call fails with the signal's reason. */
  signal?: AbortSignal;
}
