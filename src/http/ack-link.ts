/**
 * Ack links on the HTTP listener: `GET /ack/<token>` answers a confirmation page and changes
 * nothing (mail scanners and link previews follow links); its button is `POST /ack/<token>`, which
 * acknowledges the incident through the gateway core as the agent `ack-link`
 * (oncall_tool.incident_ack: the RBAC matrix, tool limits and the audit, as every HTTP tool call).
 *
 * The token (src/notify/ack-link.ts) is the credential: signed, expiring, single use (its SHA-256
 * claimed in a JetStream KV bucket before the acknowledge). Refusals, each audited (tool `ack_link`,
 * decision deny) and answered as HTML or, when the client asks for it, JSON:
 * - 403: not a link this server signed (malformed, bad signature);
 * - 410: one it signed that is spent (expired, already used);
 * - 404: ack links are off here (staging or prod without OPSBUS_ACK_SECRET).
 * A link whose acknowledge fails for a passing reason (store unavailable, rate limited) is released
 * so it can be tried again.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import type { AuditRecord } from "../audit/store.js";
import { HTTP_STATUS, type ErrorCode } from "../errors.js";
import { headerValue } from "../gateway/auth.js";
import { executeTool } from "../gateway/execute.js";
import { callerFor, roleOf } from "../gateway/rbac.js";
import type { GatewayDeps } from "../gateway/types.js";
import { newId } from "../ids.js";
import type { IncidentRecord, IncidentStore } from "../incidents/store.js";
import { scrubSecrets } from "../log.js";
import { ackTokenHash, verifyAckLink, type AckLinkRefusal, type UsedAckLinks } from "../notify/ack-link.js";
import type { ToolReply } from "../subjects/index.js";
import { METHOD_NOT_ALLOWED, refuse } from "./edge.js";
import { statusOf } from "./status.js";
import { callHeadersOf, HTTP_CHANNEL } from "./tools.js";

export const ACK_PATH = "/ack/:token";
/** The agent an ack link acknowledges as (config/rbac_tools_matrix.yml gives it only tools.incidents.write). */
export const ACK_LINK_AGENT = "ack-link";
/** The audit's tool name for a refused link. */
export const ACK_AUDIT_TOOL = "ack_link";
/** Bodies of the confirmation form are tiny; nothing in them is read. */
const ACK_BODY_LIMIT_BYTES = 4096;

export interface AckLinkDeps {
  /** OPSBUS_ACK_SECRET (ackLinksFrom). */
  secret: string;
  used: UsedAckLinks;
  /** For the confirmation page. */
  incidents: Pick<IncidentStore, "get">;
  now?: () => Date;
}

export interface AckLinkRouteOptions {
  gateway: GatewayDeps;
  /** Absent: ack links are off here, every request answers 404. */
  ackLinks?: AckLinkDeps;
}

type Refusal = AckLinkRefusal | "used" | "off";

const REFUSALS: Record<Refusal, { http: number; code: ErrorCode; message: string }> = {
  malformed: { http: 403, code: "forbidden", message: "This is not an acknowledgement link (malformed)." },
  "bad signature": { http: 403, code: "forbidden", message: "This link was not issued by this server, or was altered (bad signature)." },
  expired: { http: 410, code: "forbidden", message: "This acknowledgement link has expired." },
  used: { http: 410, code: "forbidden", message: "This acknowledgement link has already been used." },
  off: { http: 404, code: "not_found", message: "Acknowledgement links are not enabled on this server." },
};

const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);

/** JSON when the client asks for it and not for HTML (curl -H 'Accept: application/json'); a browser gets HTML. */
function wantsJson(request: FastifyRequest): boolean {
  const accept = String(request.headers.accept ?? "");
  return accept.includes("application/json") && !accept.includes("text/html");
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>${escapeHtml(title)} · opsbus</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;color:#222}
dt{font-weight:600}dd{margin:0 0 .5rem}button{font-size:1rem;padding:.5rem 1.25rem}</style></head>
<body><h1>${escapeHtml(title)}</h1>
${body}
</body></html>
`;
}

function incidentFacts(inc: IncidentRecord): string {
  const rows: Array<[string, string]> = [
    ["Incident", inc.id],
    ["Title", inc.title],
    ["Service", `${inc.service} (${inc.env})`],
    ["Severity", inc.severity],
    ["Status", inc.status],
    ["Started", inc.started_at],
  ];
  if (inc.acknowledged_at) rows.push(["Acknowledged", `by ${inc.acknowledged_by ?? "?"} at ${inc.acknowledged_at}`]);
  return `<dl>${rows.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join("")}</dl>`;
}

/** Set on every answer: the token is in the URL, so it must not leak through a Referer or a cache. */
function secure(reply: FastifyReply): FastifyReply {
  return reply
    .header("cache-control", "no-store")
    .header("referrer-policy", "no-referrer")
    .header("x-robots-tag", "noindex")
    .header("x-content-type-options", "nosniff")
    .header("content-security-policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
}

function sendHtml(reply: FastifyReply, status: number, html: string): FastifyReply {
  return secure(reply).code(status).type("text/html; charset=utf-8").send(html);
}

export const ackLinkRoutes: FastifyPluginAsync<AckLinkRouteOptions> = async (app, { gateway, ackLinks: d }) => {
  const log = gateway.logger.child({ component: "ack-link" });
  const now = () => (d?.now ?? gateway.now ?? (() => new Date()))();
  // The confirmation page posts a form; its body is never read.
  app.addContentTypeParser("*", { parseAs: "buffer", bodyLimit: ACK_BODY_LIMIT_BYTES }, (_request, _body, done) => done(null, undefined));

  /** One audit record per refused request, through the gateway's audit sink (as every HTTP refusal). */
  function audit(request: FastifyRequest, action: string, refusal: Refusal, params: Record<string, unknown>, startedAt: Date, started: number): void {
    const requestId = headerValue(callHeadersOf(request.raw), "x-request-id");
    const r = REFUSALS[refusal];
    const record: AuditRecord = {
      id: newId("aud"),
      ts: startedAt.toISOString(),
      agent_id: ACK_LINK_AGENT,
      role: roleOf(gateway.policies.rbac, ACK_LINK_AGENT),
      tool: ACK_AUDIT_TOOL,
      action,
      decision: "deny",
      status: r.code,
      duration_ms: Math.round((performance.now() - started) * 1000) / 1000,
      params: { reason: refusal, ...params },
      channel: HTTP_CHANNEL,
      node_id: gateway.nodeId,
      error_message: scrubSecrets(`${refusal}: ${r.message}`),
      ...(requestId ? { request_id: requestId.slice(0, 200) } : {}),
    };
    try {
      gateway.audit.write(record);
    } catch (err) {
      log.error({ err }, "could not audit a refused ack link");
    }
  }

  function refused(request: FastifyRequest, reply: FastifyReply, action: string, refusal: Refusal, params: Record<string, unknown>, startedAt: Date, started: number): FastifyReply {
    audit(request, action, refusal, params, startedAt, started);
    const r = REFUSALS[refusal];
    if (wantsJson(request)) return secure(reply).code(r.http).type("application/json").send({ ok: false, error: { code: r.code, reason: refusal, message: r.message } });
    return sendHtml(reply, r.http, page(r.http === 404 ? "Not available" : "Link refused", `<p>${escapeHtml(r.message)}</p><p>Acknowledge the incident in opsbus instead (oncall_tool incident_ack).</p>`));
  }

  /** The token checked: its payload and hash, or the refusal (already audited and answered). */
  async function checked(request: FastifyRequest, reply: FastifyReply, action: string) {
    const startedAt = now();
    const started = performance.now();
    const token = (request.params as { token?: string }).token ?? "";
    // Only the token's hash prefix and length are audited: the token itself is a working link.
    const id = { token_sha256: ackTokenHash(token).slice(0, 16), token_chars: token.length };
    if (!d) return { answered: refused(request, reply, action, "off", id, startedAt, started) };
    const check = verifyAckLink(token, d.secret, now());
    if (!check.ok) {
      const known = check.reason === "expired" ? { incident_id: check.payload.incident_id, key: check.payload.key } : {};
      return { answered: refused(request, reply, action, check.reason, { ...id, ...known }, startedAt, started) };
    }
    const p = check.payload;
    return { d, token, hash: ackTokenHash(token), payload: p, params: { ...id, incident_id: p.incident_id, key: p.key }, startedAt, started };
  }

  app.route({
    method: "GET",
    url: ACK_PATH,
    handler: async (request, reply) => {
      const c = await checked(request, reply, "confirm_page");
      if ("answered" in c) return c.answered;
      if (await c.d.used.used(c.hash)) return refused(request, reply, "confirm_page", "used", c.params, c.startedAt, c.started);
      const inc = await c.d.incidents.get(c.payload.incident_id);
      if (wantsJson(request)) return secure(reply).code(200).type("application/json").send({ ok: true, result: { incident: inc, acknowledge: "POST this URL" } });
      if (!inc) return sendHtml(reply, 404, page("Incident not found", `<p>${escapeHtml(`No incident ${c.payload.incident_id} here.`)}</p>`));
      if (inc.status === "closed") return sendHtml(reply, 200, page("Incident closed", `${incidentFacts(inc)}<p>It is closed: nothing to acknowledge.</p>`));
      const lead = inc.acknowledged_at ? "<p>It is already acknowledged; acknowledging again changes nothing.</p>" : "<p>Acknowledge it to say you are on it: its repeat notifications stop.</p>";
      return sendHtml(reply, 200, page("Acknowledge incident?", `${incidentFacts(inc)}${lead}<form method="post"><button type="submit">Acknowledge</button></form>`));
    },
  });

  app.route({
    method: "POST",
    url: ACK_PATH,
    bodyLimit: ACK_BODY_LIMIT_BYTES,
    handler: async (request, reply) => {
      const c = await checked(request, reply, "acknowledge");
      if ("answered" in c) return c.answered;
      if (!(await c.d.used.claim(c.hash))) return refused(request, reply, "acknowledge", "used", c.params, c.startedAt, c.started);
      const requestId = headerValue(callHeadersOf(request.raw), "x-request-id");
      const envelope: ToolReply = await executeTool(gateway, {
        tool: "oncall_tool",
        channel: HTTP_CHANNEL,
        trustedCaller: callerFor(gateway.policies.rbac, ACK_LINK_AGENT, { authenticated: true, channel: HTTP_CHANNEL }),
        ...(requestId ? { requestId } : {}),
        body: { action: "incident_ack", params: { incident_id: c.payload.incident_id, note: `acknowledged by link (notification ${c.payload.key})` } },
      });
      if (!envelope.ok && ["unavailable", "internal", "rate_limited"].includes(envelope.error.code)) {
        // Not the link's fault: it can be used again.
        await c.d.used.release(c.hash).catch((err: unknown) => log.warn({ err }, "could not release an ack link after a failed acknowledge"));
      }
      const status = statusOf(envelope);
      if (wantsJson(request)) return secure(reply).code(status).type("application/json").send(envelope);
      if (!envelope.ok) {
        const title = envelope.error.code === "invalid_request" ? "Not acknowledged" : `Not acknowledged (${HTTP_STATUS[envelope.error.code]})`;
        return sendHtml(reply, status, page(title, `<p>${escapeHtml(envelope.error.message)}</p>`));
      }
      const { incident, changed } = envelope.result as { incident: IncidentRecord; changed: boolean };
      const title = changed ? "Acknowledged" : "Already acknowledged";
      return sendHtml(reply, 200, page(title, incidentFacts(incident)));
    },
  });

  app.route({
    method: ["PUT", "DELETE", "PATCH", "OPTIONS"],
    url: ACK_PATH,
    config: { [METHOD_NOT_ALLOWED]: true },
    handler: async (_request, reply) => refuse(reply.header("allow", "GET, HEAD, POST"), 405, "invalid_request", `${ACK_PATH} takes GET, HEAD, POST`),
  });
};

type Json = Record<string, unknown>;

/** The ack link routes as /openapi.json describes them (open: the token is the credential). */
export function ackLinkPaths(): Record<string, Json> {
  const token = { name: "token", in: "path", required: true, schema: { type: "string", maxLength: 2048 }, description: "the signed token of a notification's ack link" };
  const html = (description: string): Json => ({ description, content: { "text/html": { schema: { type: "string" } }, "application/json": { schema: { type: "object" } } } });
  const refusals = {
    "403": html("not a link this server signed (malformed, bad signature); audited"),
    "404": html("ack links are off on this server"),
    "410": html("the link expired or was used; audited"),
  };
  return {
    "/ack/{token}": {
      get: {
        operationId: "ackLinkPage",
        summary: "The confirmation page of an ack link; changes nothing",
        tags: ["ack links"],
        parameters: [token],
        responses: { "200": html("the incident and an Acknowledge button (a POST to this URL)"), ...refusals },
      },
      post: {
        operationId: "ackLinkAcknowledge",
        summary: "Acknowledge the link's incident (oncall_tool.incident_ack as ack-link); the link is spent",
        tags: ["ack links"],
        parameters: [token],
        responses: { "200": html("acknowledged, or already acknowledged"), "400": html("the incident is closed"), ...refusals },
      },
    },
  };
}
