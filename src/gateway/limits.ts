import type { ToolLimits } from "../config/policies.js";

/** The limits that apply to one call, after merging `tool_limits.yml` layers. */
export interface EffectiveLimits {
  max_payload_bytes: number;
  timeout_ms: number;
  rate_per_minute: number;
  burst: number;
}

/**
 * The payload limit checked before the body is parsed, when only the tool is known:
 * the tool's own limit, else the default.
 */
export function payloadLimitFor(limits: ToolLimits, tool: string): number {
  return limits.tools[tool]?.max_payload_bytes ?? limits.defaults.max_payload_bytes;
}

/**
 * Every limit for an identified agent calling a tool: each field from the agent's override,
 * then the tool's, then the defaults. An agent's `max_payload_bytes` can only tighten the
 * tool limit, since the tool limit has been enforced before parsing.
 */
export function limitsFor(limits: ToolLimits, tool: string, agentId: string): EffectiveLimits {
  // Own entries only: an agent or tool named `constructor` must not pick up Object's prototype.
  const agent = (Object.hasOwn(limits.agents, agentId) ? limits.agents[agentId] : undefined) ?? {};
  const perTool = (Object.hasOwn(limits.tools, tool) ? limits.tools[tool] : undefined) ?? {};
  const d = limits.defaults;
  return {
    max_payload_bytes: agent.max_payload_bytes ?? perTool.max_payload_bytes ?? d.max_payload_bytes,
    timeout_ms: agent.timeout_ms ?? perTool.timeout_ms ?? d.timeout_ms,
    rate_per_minute: agent.rate_per_minute ?? perTool.rate_per_minute ?? d.rate_per_minute,
    burst: agent.burst ?? perTool.burst ?? d.burst,
  };
}
