/**
 * `POST /v1/tools/execute`: the HTTP binding of the gateway. The body is the runbooks' envelope
 * `{tool, action, params, agent_id}` with `Authorization: Bearer <key>`; the call goes through the
 * same executeTool as NATS (auth, RBAC, limits, audit), with channel `http`. The reply body is
 * the same envelope; the status comes from the error code.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { HTTP_STATUS } from "../errors.js";
import { nestsDeeperThan } from "../gateway/decode.js";
import { executeTool } from "../gateway/execute.js";
import { encodeReply } from "../gateway/replies.js";
import type { GatewayDeps } from "../gateway/types.js";
import type { ToolReply } from "../subjects/index.js";
import { readBounded } from "./body.js";

export const HTTP_CHANNEL = "http";
/** The tool name audited when the request does not name one (unparseable or oversize body). */
export const MISSING_TOOL = "?";
/** Room for the `tool` member, which the NATS envelope carries in the subject instead. */
const ENVELOPE_SLACK_BYTES = 512;

/** The largest body any tool accepts (tool_limits.yml): bodies are never buffered past it. */
export function bodyBound(deps: Pick<GatewayDeps, "policies">): number {
  const l = deps.policies.toolLimits;
  const perTool = Object.values(l.tools).map((t) => t.max_payload_bytes ?? 0);
  return Math.max(l.defaults.max_payload_bytes, ...perTool) + ENVELOPE_SLACK_BYTES;
}

export function statusOf(reply: ToolReply): number {
  return reply.ok ? 200 : HTTP_STATUS[reply.error.code];
}

function headerRecord(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(", ") : v;
  return out;
}

/** Splits `{tool, ...envelope}`; anything else goes to the gateway as raw bytes, which refuses it. */
function splitEnvelope(bytes: Buffer): { tool: string; body: unknown } {
  try {
    const text = bytes.toString("utf8");
    // Not parsed here: the gateway refuses it before JSON.parse would block the event loop.
    if (nestsDeeperThan(text)) return { tool: MISSING_TOOL, body: bytes };
    const raw = JSON.parse(text) as unknown;
    if (raw && typeof raw === "object" && !Array.isArray(raw) && typeof (raw as { tool?: unknown }).tool === "string") {
      const { tool, ...envelope } = raw as { tool: string };
      return { tool, body: envelope };
    }
  } catch {
    // not JSON: the gateway says so, and audits it
  }
  return { tool: MISSING_TOOL, body: bytes };
}

export async function executeOverHttp(deps: GatewayDeps, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const bound = bodyBound(deps);
  const { bytes, truncated } = await readBounded(req, bound);
  const headers = headerRecord(req);
  // An oversize body is not parsed; its first bound+1 bytes are enough for payload_too_large.
  const { tool, body } = truncated ? { tool: MISSING_TOOL, body: bytes } : splitEnvelope(bytes);
  const { reply, bytes: encoded } = encodeReply(await executeTool(deps, { tool, body, headers, channel: HTTP_CHANNEL }), deps.logger);
  const out: Record<string, string | number> = { "content-type": "application/json" };
  if (!reply.ok && reply.error.code === "rate_limited") {
    const retryMs = (reply.error.details as { retry_after_ms?: number } | undefined)?.retry_after_ms;
    if (retryMs !== undefined) out["retry-after"] = Math.max(1, Math.ceil(retryMs / 1000));
  }
  const requestId = headers["x-request-id"];
  if (requestId) out["x-request-id"] = requestId;
  res.writeHead(statusOf(reply), out).end(encoded);
}
