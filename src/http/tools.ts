/**
 * `POST /v1/tools/execute`: the HTTP binding of the gateway. The body is the runbooks' envelope
 * `{tool, action, params, agent_id}` with `Authorization: Bearer <key>`; the call goes through the
 * same executeTool as NATS (auth, RBAC, limits, audit), with channel `http`. The reply body is
 * the same envelope; the status comes from `statusOf` (status.ts).
 */
import type { IncomingMessage } from "node:http";
import type { FastifyError, FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import { headerValue } from "../gateway/auth.js";
import { nestsDeeperThan } from "../gateway/decode.js";
import { executeTool } from "../gateway/execute.js";
import { encodeReply } from "../gateway/replies.js";
import type { CallHeaders, GatewayDeps } from "../gateway/types.js";
import type { ToolCall } from "../gateway/types.js";
import { isBodyError, routeOnly, sendEdgeError } from "./edge.js";
import { statusOf } from "./status.js";

export const HTTP_CHANNEL = "http";
/** The tool name audited when the request does not name one (unparseable or oversize body). */
export const MISSING_TOOL = "?";
export const TOOLS_PATH = "/v1/tools/execute";
/** Room for the `tool` member, which the NATS envelope carries in the subject instead. */
const ENVELOPE_SLACK_BYTES = 512;

/** The largest body any tool accepts (tool_limits.yml): bodies are never read past it. */
export function bodyBound(deps: Pick<GatewayDeps, "policies">): number {
  const l = deps.policies.toolLimits;
  const perTool = Object.values(l.tools).map((t) => t.max_payload_bytes ?? 0);
  return Math.max(l.defaults.max_payload_bytes, ...perTool) + ENVELOPE_SLACK_BYTES;
}

/**
 * Headers from the raw list, so a repeated name keeps every value: Node's `req.headers` keeps only
 * the first `Authorization`, and the gateway must see both to refuse them.
 */
export function callHeadersOf(raw: Pick<IncomingMessage, "rawHeaders">): CallHeaders {
  const out: Record<string, string | string[]> = Object.create(null) as Record<string, string | string[]>;
  const pairs = raw.rawHeaders;
  for (let i = 0; i + 1 < pairs.length; i += 2) {
    const name = pairs[i]!.toLowerCase();
    const value = pairs[i + 1]!;
    const prev = out[name];
    out[name] = prev === undefined ? value : [...(typeof prev === "string" ? [prev] : prev), value];
  }
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

/**
 * Stands in for a body refused unread (413 at the edge) so the gateway still audits the call as
 * payload_too_large: only its size is known, the declared Content-Length or "past the bound".
 */
function unreadBody(sizeBytes: number): Uint8Array {
  return Object.defineProperty(new Uint8Array(0), "byteLength", { value: sizeBytes });
}

async function answer(deps: GatewayDeps, call: ToolCall, reply: FastifyReply): Promise<FastifyReply> {
  const { reply: envelope, bytes } = encodeReply(await executeTool(deps, call), deps.logger);
  reply.code(statusOf(envelope)).type("application/json");
  if (!envelope.ok && envelope.error.code === "rate_limited") {
    const retryMs = (envelope.error.details as { retry_after_ms?: number } | undefined)?.retry_after_ms;
    if (retryMs !== undefined) reply.header("retry-after", Math.max(1, Math.ceil(retryMs / 1000)));
  }
  const requestId = call.headers && headerValue(call.headers, "x-request-id");
  if (requestId) reply.header("x-request-id", requestId);
  return reply.send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
}

export const toolRoutes: FastifyPluginAsync<{ gateway: GatewayDeps }> = async (app, { gateway }) => {
  const bound = bodyBound(gateway);
  const call = (request: FastifyRequest, tool: string, body: unknown): ToolCall => ({ tool, body, headers: callHeadersOf(request.raw), channel: HTTP_CHANNEL });

  app.setErrorHandler(async (err: FastifyError, request, reply) => {
    if (!(isBodyError(err) && err.statusCode === 413)) return sendEdgeError(err, request, reply, gateway.logger);
    // The rest of the body is never read: the connection closes after this reply.
    reply.header("connection", "close");
    const declared = Number(request.headers["content-length"]);
    const size = Number.isSafeInteger(declared) && declared > bound ? declared : bound + 1;
    return answer(gateway, call(request, MISSING_TOOL, unreadBody(size)), reply);
  });

  routeOnly(
    app,
    "POST",
    TOOLS_PATH,
    async (request, reply) => {
      const { tool, body } = Buffer.isBuffer(request.body) ? splitEnvelope(request.body) : { tool: MISSING_TOOL, body: undefined };
      return answer(gateway, call(request, tool, body), reply);
    },
    { bodyLimit: bound },
  );
};
