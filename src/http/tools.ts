/**
 * `POST /v1/tools/execute` and `POST /v1/tools/<tool>`: the HTTP binding of the gateway. The body
 * is the runbooks' envelope `{tool, action, params, agent_id}` (the tool in the path instead, for
 * the second), with params nested or flat beside `action`; the key comes as
 * `Authorization: Bearer <key>` or `X-API-Key: <key>`. The call goes through the same executeTool
 * as NATS (auth, RBAC, limits, audit), with channel `http`. The reply body is the same envelope;
 * the status comes from `statusOf` (status.ts).
 */
import type { IncomingMessage } from "node:http";
import type { FastifyError, FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
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
/** `POST /v1/tools/<tool>`: `<tool>` is a tool's name, or its name without `_tool` (`/v1/tools/jobs`). */
export const TOOL_PATH = "/v1/tools/:tool";
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

/**
 * `X-API-Key: <key>` (the runbooks' habit) is read as `Authorization: Bearer <key>`. Both headers
 * naming different keys, or either sent twice, reach the gateway as two Authorization values,
 * which it refuses (400, audited) as it refuses two Authorization headers.
 */
export function gatewayHeadersOf(raw: Pick<IncomingMessage, "rawHeaders">): CallHeaders {
  const { ["x-api-key"]: apiKeys, ...headers } = callHeadersOf(raw);
  if (apiKeys === undefined) return headers;
  const auth = headers.authorization === undefined ? [] : typeof headers.authorization === "string" ? [headers.authorization] : [...headers.authorization];
  const sameKey = (bearer: string, key: string) => bearer.match(/^\s*bearer\s+(\S+)\s*$/i)?.[1] === key.trim();
  const extra = (typeof apiKeys === "string" ? [apiKeys] : apiKeys).filter((k) => !(auth.length === 1 && sameKey(auth[0]!, k)));
  const all = [...auth, ...extra.map((k) => `Bearer ${k.trim()}`)];
  return { ...headers, authorization: all.length === 1 ? all[0]! : all };
}

type JsonObject = Record<string, unknown>;
const isObject = (v: unknown): v is JsonObject => typeof v === "object" && v !== null && !Array.isArray(v);
const ENVELOPE_KEYS = new Set(["action", "params", "agent_id"]);

/**
 * The gateway envelope `{action, params, agent_id}` of a body whose params may sit flat beside
 * `action` (`{"action":"list","service":"pay"}`) or nested, or both. A flat key that `params` also
 * names is left beside it, so the gateway refuses the ambiguous body (400, audited) rather than
 * one of the two silently winning.
 */
export function envelopeOf(body: JsonObject): JsonObject {
  const flat = Object.entries(body).filter(([k]) => !ENVELOPE_KEYS.has(k));
  if (flat.length === 0) return body;
  const nested = body.params === undefined ? {} : body.params;
  if (!isObject(nested)) return body;
  const envelope: JsonObject = Object.fromEntries(Object.entries(body).filter(([k]) => ENVELOPE_KEYS.has(k)));
  const params: JsonObject = { ...nested };
  for (const [k, v] of flat) {
    if (Object.hasOwn(nested, k)) envelope[k] = v;
    else params[k] = v;
  }
  return { ...envelope, params };
}

/** The body as a JSON value, or undefined when it is not JSON (or nests too deep to parse here). */
export function parsedBody(body: unknown): unknown {
  if (!Buffer.isBuffer(body)) return undefined;
  try {
    const text = body.toString("utf8");
    // Not parsed here: the gateway refuses it before JSON.parse would block the event loop.
    if (nestsDeeperThan(text)) return undefined;
    return JSON.parse(text) as unknown;
  } catch {
    return undefined; // not JSON: the gateway says so, and audits it
  }
}

/**
 * Splits `{tool, ...envelope}` (the tool from the path when `pathTool` is given); anything else
 * goes to the gateway as raw bytes, which refuses it.
 */
function splitEnvelope(bytes: unknown, pathTool?: string): { tool: string; body: unknown } {
  const raw = parsedBody(bytes);
  if (pathTool !== undefined) return { tool: pathTool, body: isObject(raw) ? envelopeOf(raw) : bytes };
  if (isObject(raw) && typeof raw.tool === "string") {
    const { tool, ...envelope } = raw;
    return { tool, body: envelopeOf(envelope) };
  }
  return { tool: MISSING_TOOL, body: Buffer.isBuffer(bytes) ? bytes : undefined };
}

/** `/v1/tools/<name>`: the tool of that name, else `<name>_tool` when that one exists. */
export function toolOfPath(deps: Pick<GatewayDeps, "registry">, name: string): string {
  return !deps.registry.has(name) && deps.registry.has(`${name}_tool`) ? `${name}_tool` : name;
}

/**
 * `curl -d '{...}'` without `-H 'Content-Type: application/json'` labels its JSON as a form, so
 * the tool API reads a form body as JSON too, unless a browser sent it (browsers mark every form
 * post with Origin and Sec-Fetch-Site): a page must not reach the API with a form post, which needs
 * no CORS preflight. Other types (text/plain included) stay 415.
 */
export function acceptCurlBodies(app: FastifyInstance): void {
  app.addContentTypeParser("application/x-www-form-urlencoded", { parseAs: "buffer" }, (request, body, done) => {
    if (request.headers.origin === undefined && request.headers["sec-fetch-site"] === undefined) return done(null, body);
    const err = Object.assign(new Error("Content-Type must be application/json"), { statusCode: 415, code: "FST_ERR_CTP_INVALID_MEDIA_TYPE" });
    done(err, undefined);
  });
}

/**
 * Stands in for a body refused unread (413 at the edge) so the gateway still audits the call as
 * payload_too_large: only its size is known, the declared Content-Length or "past the bound".
 */
function unreadBody(sizeBytes: number): Uint8Array {
  return Object.defineProperty(new Uint8Array(0), "byteLength", { value: sizeBytes });
}

export async function answer(deps: GatewayDeps, call: ToolCall, reply: FastifyReply): Promise<FastifyReply> {
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

/**
 * A body over the bound is answered by the gateway as payload_too_large, so it is audited like
 * every other refusal; `toolOf` names the tool when the path does.
 */
export function auditOversizeBodies(app: FastifyInstance, gateway: GatewayDeps, toolOf: (request: FastifyRequest) => string): void {
  const bound = bodyBound(gateway);
  app.setErrorHandler(async (err: FastifyError, request, reply) => {
    if (!(isBodyError(err) && err.statusCode === 413)) return sendEdgeError(err, request, reply, gateway.logger);
    // The rest of the body is never read: the connection closes after this reply.
    reply.header("connection", "close");
    const declared = Number(request.headers["content-length"]);
    const size = Number.isSafeInteger(declared) && declared > bound ? declared : bound + 1;
    return answer(gateway, httpCall(request, toolOf(request), unreadBody(size)), reply);
  });
}

/** One HTTP request as a gateway call on the `http` channel. */
export function httpCall(request: FastifyRequest, tool: string, body: unknown): ToolCall {
  return { tool, body, headers: gatewayHeadersOf(request.raw), channel: HTTP_CHANNEL };
}

export const toolRoutes: FastifyPluginAsync<{ gateway: GatewayDeps }> = async (app, { gateway }) => {
  const bound = bodyBound(gateway);
  acceptCurlBodies(app);
  auditOversizeBodies(app, gateway, (request) => {
    const name = (request.params as { tool?: string } | undefined)?.tool;
    return name === undefined ? MISSING_TOOL : toolOfPath(gateway, name);
  });

  routeOnly(
    app,
    "POST",
    TOOLS_PATH,
    async (request, reply) => {
      const { tool, body } = splitEnvelope(request.body);
      return answer(gateway, httpCall(request, tool, body), reply);
    },
    { bodyLimit: bound },
  );
  routeOnly(
    app,
    "POST",
    TOOL_PATH,
    async (request, reply) => {
      const name = (request.params as { tool: string }).tool;
      const { tool, body } = splitEnvelope(request.body, toolOfPath(gateway, name));
      return answer(gateway, httpCall(request, tool, body), reply);
    },
    { bodyLimit: bound },
  );
};
