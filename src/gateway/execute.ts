/**
 * The gateway core: one tool call from raw request to reply, whatever the channel (NATS services
 * endpoint, HTTP bridge, job runner). Steps, each failing with its SPEC error code:
 * size → JSON → envelope → tool/action lookup → auth → RBAC → rate limit → params → handler
 * (with a deadline). Every call, allowed or denied, leaves exactly one audit record.
 */
import { newId } from "../ids.js";
import { notFound, OpsError } from "../errors.js";
import { scrubSecrets } from "../log.js";
import type { AuditRecord } from "../audit/store.js";
import type { ToolReply } from "../subjects/index.js";
import type { ActionDef, ToolDef } from "../tools/types.js";
import { ANONYMOUS_AGENT, authenticate, headerValue, rejectImpersonation } from "./auth.js";
import { withDeadline } from "./deadline.js";
import { bodySize, checkSize, issueDetails, parseBody, parseEnvelope, salvageEnvelope } from "./decode.js";
import { limitsFor, payloadLimitFor } from "./limits.js";
import { RateLimiter, rateKey } from "./rateLimit.js";
import { authorize } from "./rbac.js";
import { REDACTED, redactParams } from "./redact.js";
import { classifyError, errorReply, okReply } from "./replies.js";
import { findUnstorable } from "../util/storable.js";
import type { GatewayDeps, ToolCall } from "./types.js";

/** Role recorded in the audit log when the call failed before the caller was established. */
export const UNKNOWN_ROLE = "unknown";
/** Action recorded when the request did not say which action it wanted. */
export const UNKNOWN_ACTION = "?";

/** What the steps have learnt so far; the audit record is built from it whatever step failed. */
interface CallTrace {
  action: string;
  agentId: string;
  role: string;
  decision: AuditRecord["decision"];
  params: unknown;
}

const sharedLimiters = new WeakMap<object, RateLimiter>();

function limiterOf(deps: GatewayDeps): RateLimiter {
  if (deps.rateLimiter) return deps.rateLimiter;
  let limiter = sharedLimiters.get(deps.policies.toolLimits);
  if (!limiter) {
    limiter = new RateLimiter();
    sharedLimiters.set(deps.policies.toolLimits, limiter);
  }
  return limiter;
}

/** Runs one tool call; never throws. */
export async function executeTool(deps: GatewayDeps, call: ToolCall): Promise<ToolReply> {
  const now = deps.now ?? (() => new Date());
  const startedAt = now();
  const started = performance.now();
  const trace: CallTrace = {
    action: UNKNOWN_ACTION,
    agentId: ANONYMOUS_AGENT,
    role: UNKNOWN_ROLE,
    decision: "deny",
    params: undefined,
  };
  const requestId = call.requestId ?? headerValue(call.headers ?? {}, "x-request-id");
  const log = deps.logger.child({ tool: call.tool, channel: call.channel, ...(requestId ? { request_id: requestId } : {}) });

  let reply: ToolReply;
  try {
    reply = okReply(await runSteps(deps, call, trace, now));
  } catch (err) {
    reply = errorReply(classifyError(err, log.child({ action: trace.action, agent: trace.agentId })));
  }

  const durationMs = Math.round((performance.now() - started) * 1000) / 1000;
  try {
    const record = auditRecordOf(deps, call, { trace, reply, startedAt, durationMs, requestId });
    deps.audit.write(record);
    const level = record.status === "unavailable" ? "warn" : "debug";
    log[level](
      { action: trace.action, agent: trace.agentId, decision: trace.decision, status: record.status, duration_ms: durationMs },
      "tool call",
    );
  } catch (err) {
    log.error({ err }, "could not audit a tool call");
  }
  return reply;
}

interface CallOutcome {
  trace: CallTrace;
  reply: ToolReply;
  startedAt: Date;
  durationMs: number;
  requestId: string | undefined;
}

/** The one audit record of a call: who, role, what, decision, status, duration, redacted params. */
function auditRecordOf(deps: GatewayDeps, call: ToolCall, o: CallOutcome): AuditRecord {
  return {
    id: newId("aud"),
    ts: o.startedAt.toISOString(),
    agent_id: o.trace.agentId,
    role: o.trace.role,
    tool: call.tool.slice(0, 128),
    action: o.trace.action,
    decision: o.trace.decision,
    status: o.reply.ok ? "ok" : o.reply.error.code,
    duration_ms: o.durationMs,
    params: redactParams(o.trace.params ?? {}, deps.policies.dataGovernance.redact_param_keys),
    channel: call.channel,
    node_id: deps.nodeId,
    ...(o.reply.ok ? {} : { error_message: scrubSecrets(o.reply.error.message) }),
    ...(o.requestId ? { request_id: o.requestId } : {}),
  };
}

async function runSteps(deps: GatewayDeps, call: ToolCall, trace: CallTrace, now: () => Date): Promise<unknown> {
  const { rbac, toolLimits } = deps.policies;

  const size = bodySize(call.body);
  checkSize(size, payloadLimitFor(toolLimits, call.tool));
  const raw = parseBody(call.body);
  const known = salvageEnvelope(raw);
  trace.action = known.action ?? UNKNOWN_ACTION;
  // A bearer key sent as agent_id must not reach the audit log when auth then fails.
  trace.agentId = known.agentId === undefined ? ANONYMOUS_AGENT : deps.apiKeys.has(known.agentId) ? REDACTED : known.agentId;
  trace.params = known.params;

  const request = parseEnvelope(raw);
  const tool = lookupTool(deps, call.tool);
  const action = lookupAction(tool, request.action);

  const caller = authenticate({
    opsEnv: deps.opsEnv,
    rbac,
    apiKeys: deps.apiKeys,
    headers: call.headers ?? {},
    claimedAgentId: request.agent_id,
    channel: call.channel,
    ...(call.trustedCaller ? { trustedCaller: call.trustedCaller } : {}),
  });
  trace.agentId = caller.agent_id;
  trace.role = caller.role;
  rejectImpersonation(caller, request.agent_id);
  authorize(caller, tool.name, request.action, action);

  const limits = limitsFor(toolLimits, tool.name, caller.agent_id);
  checkSize(size, limits.max_payload_bytes);
  const rate = limiterOf(deps).take(rateKey(caller.agent_id, tool.name), limits, now().getTime());
  if (!rate.allowed) {
    throw new OpsError(
      "rate_limited",
      `agent "${caller.agent_id}" exceeded ${limits.rate_per_minute}/min (burst ${limits.burst}) on ${tool.name}`,
      { retry_after_ms: rate.retryAfterMs },
    );
  }
  trace.decision = "allow";

  // A NUL or lone surrogate cannot reach any store (Postgres fails the query or batch): refuse it
  // here, for every tool, with the field named; the audit keeps the call with the text escaped.
  const unstorable = findUnstorable(request.params, "params");
  if (unstorable) throw new OpsError("invalid_request", unstorable);
  const params = action.params.safeParse(request.params);
  if (!params.success) {
    throw new OpsError("invalid_request", `invalid params for ${tool.name}.${request.action}`, {
      issues: issueDetails(params.error.issues),
    });
  }
  const logger = deps.logger.child({ tool: tool.name, action: request.action, agent: caller.agent_id });
  const result = await withDeadline(
    limits.timeout_ms,
    (signal) => action.handler(params.data, { caller, logger, signal, now }),
    call.signal,
  );
  if (call.maxReplyBytes !== undefined) checkReplySize(result, call.maxReplyBytes);
  return result;
}

function lookupTool(deps: GatewayDeps, name: string): ToolDef {
  const tool = deps.registry.get(name);
  if (!tool) throw notFound(`unknown tool ${name}`, { tools: [...deps.registry.keys()] });
  return tool;
}

function lookupAction(tool: ToolDef, name: string): ActionDef {
  const action = Object.hasOwn(tool.actions, name) ? tool.actions[name] : undefined;
  if (!action) throw notFound(`unknown action ${tool.name}.${name}`, { actions: Object.keys(tool.actions) });
  return action;
}

/** A result the channel could not carry is refused here, so the audit record says so. */
function checkReplySize(result: unknown, maxBytes: number): void {
  const size = Buffer.byteLength(JSON.stringify({ ok: true, result }) ?? "", "utf8");
  if (size > maxBytes) {
    throw new OpsError(
      "payload_too_large",
      `reply of ${size} bytes exceeds the channel limit of ${maxBytes} bytes; narrow the request (e.g. a smaller limit)`,
      { size_bytes: size, max_bytes: maxBytes },
    );
  }
}
