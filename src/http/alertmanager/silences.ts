/**
 * Alertmanager's silence API v2 (what `amtool silence add|query|expire` speaks): POST and GET
 * `/api/v2/silences`, GET and DELETE `/api/v2/silence/{silenceID}`. Each request is one call of
 * `silence_tool` through the gateway core (auth, RBAC `tools.silences.read|write`, limits, one
 * audit record), so these routes only translate: Alertmanager's body and query in, the tool's
 * reply out in Alertmanager's shapes and status codes. `createdBy` in a body is ignored: the
 * silence is created by the caller the gateway authenticated.
 */
import type { FastifyError, FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import { executeTool } from "../../gateway/execute.js";
import { nestsDeeperThan } from "../../gateway/decode.js";
import type { GatewayDeps } from "../../gateway/types.js";
import type { Silence, SilenceState } from "../../silences/silence.js";
import type { ToolReply } from "../../subjects/index.js";
import { METHOD_NOT_ALLOWED, isBodyError, refuse, sendEdgeError } from "../edge.js";
import { bodyBound, httpCall } from "../tools.js";
import { goBool, sendAmError, sendAmJson, sendAmMessage } from "./access.js";

export const SILENCES_PATH = "/api/v2/silences";
export const SILENCE_PATH = "/api/v2/silence/:silenceID";
export const SILENCE_TOOL = "silence_tool";
/** Every silence in one GET, as Alertmanager answers (the tool's own bound). */
const LIST_ALL = 10_000;

type Json = Record<string, unknown>;
type Stated = Silence & { state: SilenceState };

/** Alertmanager's gettableSilence, keys in the order its Go model writes them. */
export function gettableSilence(s: Stated): Json {
  return {
    id: s.id,
    status: { state: s.state },
    updatedAt: s.updated_at,
    comment: s.comment,
    createdBy: s.created_by,
    endsAt: s.ends_at,
    matchers: s.matchers.map((m) => ({ isEqual: m.is_equal, isRegex: m.is_regex, name: m.name, value: m.value })),
    startsAt: s.starts_at,
  };
}

const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/** A matcher of Alertmanager's body as the tool takes it; anything else goes through for the tool to refuse. */
function matcherParam(m: unknown): unknown {
  if (!isObject(m)) return m;
  return { name: m.name, value: m.value, is_regex: m.isRegex ?? false, is_equal: m.isEqual ?? true };
}

/**
 * postableSilence → silence_tool.create params (an empty id, as Go sends for none, is a new
 * silence). A missing comment is empty; a null one goes on to be refused as not a string.
 */
export function createParamsOf(body: Json): Json {
  const params: Json = { matchers: Array.isArray(body.matchers) ? body.matchers.map(matcherParam) : body.matchers, comment: body.comment === undefined ? "" : body.comment };
  if (body.id !== undefined && body.id !== "") params.id = body.id;
  if (body.startsAt !== undefined) params.starts_at = body.startsAt;
  if (body.endsAt !== undefined) params.ends_at = body.endsAt;
  return params;
}

function parseSilenceBody(body: unknown): { params?: Json; error?: string } {
  if (!Buffer.isBuffer(body)) return { error: "the body must be a JSON silence" };
  const text = body.toString("utf8");
  if (nestsDeeperThan(text)) return { error: "parsing silence body failed: nested too deep" };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return { error: `parsing silence body failed: ${(err as Error).message}` };
  }
  return isObject(parsed) ? { params: createParamsOf(parsed) } : { error: "parsing silence body failed: expected a JSON object" };
}


/**
 * GET /api/v2/silences's query: `filter` (repeated) and the state switches of newer Alertmanagers,
 * read as its generated server reads booleans (goBool: absent is true, never a 400).
 */
function listParamsOf(request: FastifyRequest): Json {
  const q = (request.query ?? {}) as Json;
  const filter = q.filter === undefined ? [] : Array.isArray(q.filter) ? q.filter.map(String) : [String(q.filter)];
  const states = (["active", "pending", "expired"] as const).filter((state): state is SilenceState => goBool(q[state], true));
  return { filter, state: states, limit: LIST_ALL };
}

/** The tool's refusal as Alertmanager words it: a JSON string, with the invalid params named. */
function refusalText(r: Extract<ToolReply, { ok: false }>): string {
  const issues = (r.error.details as { issues?: Array<{ path: string; message: string }> } | undefined)?.issues;
  return issues?.length ? `${r.error.message}: ${issues.map((i) => `${i.path}: ${i.message}`).join("; ")}` : r.error.message;
}

export const silenceRoutes: FastifyPluginAsync<{ gateway: GatewayDeps }> = async (app, { gateway: g }) => {
  const bound = bodyBound(g);
  const call = (request: FastifyRequest, action: string, params: unknown) => executeTool(g, httpCall(request, SILENCE_TOOL, { action, params }));
  const json = (reply: FastifyReply, value: unknown) => sendAmJson(reply, 200, `${JSON.stringify(value)}\n`);
  /** Alertmanager's 404 for a silence id: no body. */
  const answer = (reply: FastifyReply, r: ToolReply, ok: (result: never) => FastifyReply, emptyNotFound = false): FastifyReply => {
    if (r.ok) return ok(r.result as never);
    if (emptyNotFound && r.error.code === "not_found") return reply.code(404).send();
    return sendAmError(reply, r.error.code, refusalText(r));
  };

  // A body the edge refuses is still one audited silence_tool call (payload_too_large, or
  // invalid_request for one it could not read), answered as Alertmanager answers: a JSON string.
  app.setErrorHandler(async (err: FastifyError, request, reply) => {
    const status = err.statusCode ?? 500;
    if (!isBodyError(err) || status < 400 || status >= 500) return sendEdgeError(err, request, reply, g.logger);
    // The rest of the body is never read: the connection closes after this reply.
    reply.header("connection", "close");
    const tooLarge = status === 413;
    const stand = tooLarge ? Object.defineProperty(new Uint8Array(0), "byteLength", { value: bound + 1 }) : Buffer.from("");
    const r = await executeTool(g, httpCall(request, SILENCE_TOOL, stand));
    const message = tooLarge && !r.ok ? r.error.message : status === 415 ? `Content-Type must be application/json (got ${JSON.stringify(request.headers["content-type"] ?? "")})` : err.message;
    return sendAmMessage(reply, status, message);
  });

  app.route({
    method: "POST",
    url: SILENCES_PATH,
    bodyLimit: bound,
    handler: async (request, reply) => {
      const { params, error } = parseSilenceBody(request.body);
      // An unreadable body still goes through the gateway, so it is authenticated and audited like the rest.
      const r = await call(request, "create", params ?? {});
      if (error && r.ok === false && r.error.code === "invalid_request") return sendAmError(reply, "invalid_request", error);
      return answer(reply, r, (res: { silence_id: string }) => json(reply, { silenceID: res.silence_id }));
    },
  });
  app.route({
    method: "GET",
    url: SILENCES_PATH,
    handler: async (request, reply) => {
      const r = await call(request, "list", listParamsOf(request));
      return answer(reply, r, (res: { silences: Stated[] }) => json(reply, res.silences.map(gettableSilence)));
    },
  });
  app.route({
    method: "GET",
    url: SILENCE_PATH,
    handler: async (request, reply) => {
      const id = (request.params as { silenceID: string }).silenceID;
      return answer(reply, await call(request, "get", { id }), (res: { silence: Stated }) => json(reply, gettableSilence(res.silence)), true);
    },
  });
  app.route({
    method: "DELETE",
    url: SILENCE_PATH,
    handler: async (request, reply) => {
      const id = (request.params as { silenceID: string }).silenceID;
      return answer(reply, await call(request, "expire", { id }), () => reply.code(200).send(), true);
    },
  });
  for (const [url, allow] of [[SILENCES_PATH, "GET, HEAD, POST"], [SILENCE_PATH, "GET, HEAD, DELETE"]] as const) {
    app.route({
      method: allow.includes("POST") ? ["PUT", "DELETE", "PATCH", "OPTIONS"] : ["PUT", "POST", "PATCH", "OPTIONS"],
      url,
      config: { [METHOD_NOT_ALLOWED]: true },
      handler: async (_request, reply) => refuse(reply.header("allow", allow), 405, "invalid_request", `${url} takes ${allow}`),
    });
  }
};
