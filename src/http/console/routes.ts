/**
 * The console's server routes on the gateway's HTTP listener (pages come on top of these):
 * - `POST /console/login` (JSON or form: `api_key`, or in dev `agent` naming an agent of the RBAC
 *   matrix) → a server-side session and the `opsbus_session` cookie; failures audited, never the
 *   key, and rate limited per client address;
 * - `POST /console/logout` ends the session; `GET /console/session` says who it is, with the CSRF
 *   token every write sends back in `X-CSRF-Token`;
 * - `POST /console/api/tools/<tool>/<action>` (JSON params) runs through the gateway core as the
 *   session's agent on channel `console`: the same RBAC, limits and audit as NATS and /v1/tools;
 * - `GET /console/events`: the live feed (events.ts);
 * - `POST /console/csp-report` counts Content-Security-Policy violation reports, `GET` reads the count.
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import { clearedSessionCookie, sessionCookie } from "../../console/cookies.js";
import { CSP_REPORT_PATH } from "../../console/csp.js";
import { sameOriginRefusal } from "../../console/csrf.js";
import type { GatewayDeps } from "../../gateway/types.js";
import { executeTool } from "../../gateway/execute.js";
import { encodeReply } from "../../gateway/replies.js";
import { RateLimiter } from "../../gateway/rateLimit.js";
import { METHOD_NOT_ALLOWED, refuse, routeOnly } from "../edge.js";
import { statusOf } from "../status.js";
import { bodyBound, parsedBody, toolOfPath } from "../tools.js";
import { CONSOLE_AUDIT_TOOL, CONSOLE_CHANNEL, writeConsoleAudit } from "./audit.js";
import { allowedOrigins, callerOfSession, headerOf, refuseAudited, requestIdOf, secureCookies, sessionOf, withConsoleHeaders, type ConsoleContext, type SessionOf } from "./access.js";
import { eventRoute } from "./events-route.js";
import type { EventFeed } from "./events.js";
import type { ConsoleSessions } from "./sessions.js";

export const LOGIN_PATH = "/console/login";
export const LOGOUT_PATH = "/console/logout";
export const SESSION_PATH = "/console/session";
export const CONSOLE_TOOL_PATH = "/console/api/tools/:tool/:action";
export const EVENTS_PATH = "/console/events";
export { CSP_REPORT_PATH };

/** Failed logins per client address: a burst of 10, then 10 a minute; past it every login from there is 429 for a while. */
export const LOGIN_RATE = { rate_per_minute: 10, burst: 10 } as const;
const LOGIN_BODY_LIMIT_BYTES = 4096;
const CSP_REPORT_BODY_LIMIT_BYTES = 16 * 1024;
const CSP_RECENT = 20;

export interface ConsoleDeps {
  sessions: ConsoleSessions;
  /** The live feed; absent: GET /console/events answers 503. */
  events?: EventFeed;
  publicUrl?: string;
}

export interface ConsoleRouteOptions {
  gateway: GatewayDeps;
  /** Absent: the console is off here, every console route answers 404. */
  console?: ConsoleDeps;
}

/** CSP violation reports received by this process (the hostile-data browser test reads them). */
export class CspReports {
  count = 0;
  readonly recent: Array<Record<string, unknown>> = [];
  add(report: Record<string, unknown>): void {
    this.count++;
    this.recent.push(report);
    if (this.recent.length > CSP_RECENT) this.recent.shift();
  }
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

function sessionBody(gateway: GatewayDeps, s: SessionOf): Json {
  return { agent: s.caller.agent_id, role: s.caller.role, entitlements: [...s.caller.entitlements].sort(), csrf: s.session.record.csrf, expires_at: s.session.expiresAt.toISOString() };
}

/** The login form's fields, from JSON or a urlencoded form. */
function loginFields(request: FastifyRequest): { apiKey?: string; agent?: string } | undefined {
  const body = request.body;
  if (!Buffer.isBuffer(body)) return {};
  const type = String(request.headers["content-type"] ?? "");
  let fields: Json;
  if (type.startsWith("application/x-www-form-urlencoded")) {
    fields = Object.fromEntries(new URLSearchParams(body.toString("utf8")));
  } else {
    const parsed = parsedBody(body);
    if (!isObject(parsed)) return undefined;
    fields = parsed;
  }
  const str = (v: unknown) => (typeof v === "string" && v.trim() !== "" ? v.trim() : undefined);
  const apiKey = str(fields.api_key);
  const agent = str(fields.agent);
  return { ...(apiKey ? { apiKey } : {}), ...(agent ? { agent } : {}) };
}

function methodNotAllowed(app: FastifyInstance, url: string, allow: string): void {
  app.route({
    method: ["PUT", "DELETE", "PATCH", "OPTIONS"],
    url,
    config: { [METHOD_NOT_ALLOWED]: true },
    handler: async (_request, reply) => refuse(reply.header("allow", allow), 405, "invalid_request", `${url} takes ${allow}`),
  });
}

/** The console's routes for a context that is on. */
function consoleOn(app: FastifyInstance, gateway: GatewayDeps, d: ConsoleDeps, csp: CspReports): void {
  const ctx: ConsoleContext = { gateway, sessions: d.sessions, ...(d.publicUrl ? { publicUrl: d.publicUrl } : {}) };
  const now = () => (gateway.now ?? (() => new Date()))();
  const failures = new RateLimiter();
  /** Address → until when its logins are refused (its failures ran past LOGIN_RATE). */
  const blocked = new Map<string, number>();

  void app.register(async (login) => {
    login.addContentTypeParser("application/x-www-form-urlencoded", { parseAs: "buffer" }, (_r, body, done) => done(null, body));
    // GET /console/login is the login page (pages/routes.ts): only the other methods are 405 here.
    methodNotAllowed(login, LOGIN_PATH, "GET, HEAD, POST");
    login.route({
      method: "POST",
      url: LOGIN_PATH,
      bodyLimit: LOGIN_BODY_LIMIT_BYTES,
      handler: async (request, reply) => {
        const startedAt = now();
        const started = performance.now();
        const target = { action: "login", tool: CONSOLE_AUDIT_TOOL };
        const nowMs = startedAt.getTime();
        const deny = (status: number, code: "unauthenticated" | "forbidden" | "rate_limited" | "invalid_request", reason: string, message: string, params: Json = {}) => {
          if (status !== 429) {
            const rate = failures.take(request.ip, LOGIN_RATE, nowMs);
            if (!rate.allowed) blocked.set(request.ip, nowMs + rate.retryAfterMs);
          }
          return refuseAudited(ctx, request, reply, { status, code, reason, message, target, params, startedAt, started });
        };
        const until = blocked.get(request.ip);
        if (until !== undefined && until > nowMs) {
          const seconds = Math.max(1, Math.ceil((until - nowMs) / 1000));
          reply.header("retry-after", seconds);
          return deny(429, "rate_limited", "too many failed logins", `too many failed logins from this address; retry in ${seconds} s`);
        }
        if (until !== undefined) blocked.delete(request.ip);
        const cross = sameOriginRefusal({ origin: headerOf(request, "origin"), secFetchSite: headerOf(request, "sec-fetch-site"), allowed: allowedOrigins(ctx, request) });
        if (cross) return deny(403, "forbidden", cross, "cross-origin login refused");
        const fields = loginFields(request);
        if (!fields) return deny(400, "invalid_request", "unreadable body", "send JSON {\"api_key\": \"...\"} or a form with api_key");
        let agentId: string | undefined;
        let authenticated = false;
        if (fields.apiKey !== undefined) {
          agentId = gateway.apiKeys.get(fields.apiKey);
          authenticated = true;
          // Only the key's length is audited.
          if (agentId === undefined) return deny(401, "unauthenticated", "unknown API key", "unknown API key", { key_chars: fields.apiKey.length });
        } else if (fields.agent !== undefined) {
          if (gateway.opsEnv !== "dev") return deny(401, "unauthenticated", "agent login outside dev", `log in with an API key (OPSBUS_API_KEYS) in ${gateway.opsEnv}`);
          if (!Object.hasOwn(gateway.policies.rbac.agents, fields.agent)) {
            // Not echoed or audited: a key typed into the agent field must not land in a reply or the audit log.
            return deny(401, "unauthenticated", "unknown agent", `no such agent in config/rbac_tools_matrix.yml; dev agents: ${Object.keys(gateway.policies.rbac.agents).join(", ")}`, { agent_chars: fields.agent.length });
          }
          agentId = fields.agent;
        } else {
          return deny(401, "unauthenticated", "no credentials", gateway.opsEnv === "dev" ? "send api_key, or agent (dev)" : "send api_key");
        }
        const created = await d.sessions.create(agentId, authenticated);
        const s: SessionOf = { session: created, caller: callerOfSession(gateway, created) };
        const requestId = requestIdOf(request);
        writeConsoleAudit(gateway, { agentId, action: "login", decision: "allow", status: "ok", params: { ip: request.ip, by: authenticated ? "api key" : "dev agent" }, ...(requestId ? { requestId } : {}), startedAt, started });
        reply.header("set-cookie", sessionCookie(created.id, { secure: secureCookies(ctx, request), maxAgeSeconds: d.sessions.policy.absoluteMs / 1000 }));
        return withConsoleHeaders(reply).code(200).type("application/json").send({ ok: true, result: sessionBody(gateway, s) });
      },
    });
  });

  routeOnly(app, "POST", LOGOUT_PATH, async (request, reply) => {
    const startedAt = now();
    const started = performance.now();
    const s = await sessionOf(ctx, request, reply, { tool: CONSOLE_AUDIT_TOOL, action: "logout" }, { write: true });
    if ("answered" in s) return s.answered;
    await d.sessions.end(s.session.hash);
    const requestId = requestIdOf(request);
    writeConsoleAudit(gateway, { agentId: s.caller.agent_id, action: "logout", decision: "allow", status: "ok", params: { ip: request.ip }, ...(requestId ? { requestId } : {}), startedAt, started });
    reply.header("set-cookie", clearedSessionCookie(secureCookies(ctx, request)));
    return withConsoleHeaders(reply).code(200).type("application/json").send({ ok: true, result: { logged_out: true } });
  });

  routeOnly(app, "GET", SESSION_PATH, async (request, reply) => {
    const s = await sessionOf(ctx, request, reply, { tool: CONSOLE_AUDIT_TOOL, action: "session" }, { write: false });
    if ("answered" in s) return s.answered;
    return withConsoleHeaders(reply).type("application/json").send({ ok: true, result: sessionBody(gateway, s) });
  });

  const bound = bodyBound(gateway);
  routeOnly(
    app,
    "POST",
    CONSOLE_TOOL_PATH,
    async (request, reply) => {
      const p = request.params as { tool: string; action: string };
      const tool = toolOfPath(gateway, p.tool);
      const s = await sessionOf(ctx, request, reply, { tool, action: p.action }, { write: true });
      if ("answered" in s) return s.answered;
      const raw = request.body;
      const params = Buffer.isBuffer(raw) && raw.length > 0 ? parsedBody(raw) : {};
      const requestId = requestIdOf(request);
      // A body that is not a JSON object goes to the core as it came: refused there (400) and audited.
      const body = isObject(params) ? { action: p.action, params } : raw;
      const envelope = await executeTool(gateway, { tool, channel: CONSOLE_CHANNEL, trustedCaller: s.caller, body, ...(requestId ? { requestId } : {}) });
      const { reply: sent, bytes } = encodeReply(envelope, gateway.logger);
      withConsoleHeaders(reply).code(statusOf(sent)).type("application/json");
      return reply.send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    },
    { bodyLimit: bound },
  );

  routeOnly(app, "GET", EVENTS_PATH, async (request, reply) => {
    const s = await sessionOf(ctx, request, reply, { tool: CONSOLE_AUDIT_TOOL, action: "events" }, { write: false });
    if ("answered" in s) return s.answered;
    if (!d.events) return refuse(withConsoleHeaders(reply), 503, "unavailable", "the live feed is not running in this process");
    return eventRoute(ctx, d.events, s, request, reply);
  });

  void app.register(async (reports) => {
    for (const type of ["application/csp-report", "application/reports+json"]) reports.addContentTypeParser(type, { parseAs: "buffer" }, (_r, body, done) => done(null, body));
    reports.route({
      method: "POST",
      url: CSP_REPORT_PATH,
      bodyLimit: CSP_REPORT_BODY_LIMIT_BYTES,
      handler: async (request, reply) => {
        const parsed = parsedBody(request.body);
        const list = Array.isArray(parsed) ? parsed : [parsed];
        for (const r of list) {
          if (!isObject(r)) continue;
          const body = isObject(r["csp-report"]) ? r["csp-report"] : isObject(r.body) ? r.body : r;
          const pick = (...keys: string[]) => keys.map((k) => body[k]).find((v) => typeof v === "string") as string | undefined;
          csp.add({ directive: (pick("violated-directive", "effectiveDirective", "effective-directive") ?? "?").slice(0, 200), blocked: (pick("blocked-uri", "blockedURL") ?? "?").slice(0, 200), at: now().toISOString() });
        }
        return withConsoleHeaders(reply).code(204).send();
      },
    });
    reports.route({
      method: "GET",
      url: CSP_REPORT_PATH,
      handler: async (request, reply) => {
        const s = await sessionOf(ctx, request, reply, { tool: CONSOLE_AUDIT_TOOL, action: "csp_reports" }, { write: false });
        if ("answered" in s) return s.answered;
        return withConsoleHeaders(reply).type("application/json").send({ ok: true, result: { count: csp.count, recent: csp.recent } });
      },
    });
    methodNotAllowed(reports, CSP_REPORT_PATH, "GET, HEAD, POST");
  });
}

export const CONSOLE_PATHS = [LOGIN_PATH, LOGOUT_PATH, SESSION_PATH, CONSOLE_TOOL_PATH, EVENTS_PATH, CSP_REPORT_PATH] as const;

export const consoleRoutes: FastifyPluginAsync<ConsoleRouteOptions & { csp?: CspReports }> = async (app, { gateway, console: d, csp }) => {
  if (d) return consoleOn(app, gateway, d, csp ?? new CspReports());
  const off = async (_request: FastifyRequest, reply: FastifyReply) => refuse(withConsoleHeaders(reply), 404, "not_found", "the console is not enabled on this server");
  app.route({ method: "POST", url: LOGIN_PATH, handler: off });
  methodNotAllowed(app, LOGIN_PATH, "GET, HEAD, POST");
  routeOnly(app, "POST", LOGOUT_PATH, off);
  routeOnly(app, "GET", SESSION_PATH, off);
  routeOnly(app, "POST", CONSOLE_TOOL_PATH, off);
  routeOnly(app, "GET", EVENTS_PATH, off);
  app.route({ method: ["GET", "POST"], url: CSP_REPORT_PATH, handler: off });
  methodNotAllowed(app, CSP_REPORT_PATH, "GET, HEAD, POST");
};
