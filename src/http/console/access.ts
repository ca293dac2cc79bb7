/**
 * Who a console request is and whether it may write: the session from the `opsbus_session` cookie
 * (401 without a live one), and for writes the same-origin check and the session's CSRF token
 * (403 otherwise). Every refusal is audited with channel `console`; none echoes a credential.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import { parseCookies, SESSION_COOKIE } from "../../console/cookies.js";
import { CONSOLE_HEADERS } from "../../console/csp.js";
import { CSRF_HEADER, csrfTokenRefusal, originOf, sameOriginRefusal } from "../../console/csrf.js";
import type { ErrorCode } from "../../errors.js";
import { callerFor } from "../../gateway/rbac.js";
import type { GatewayDeps } from "../../gateway/types.js";
import type { Caller } from "../../tools/types.js";
import { refuse } from "../edge.js";
import { CONSOLE_CHANNEL, writeConsoleAudit } from "./audit.js";
import type { ConsoleSessions, LiveSession } from "./sessions.js";

export interface ConsoleContext {
  gateway: GatewayDeps;
  sessions: ConsoleSessions;
  /** OPSBUS_PUBLIC_URL: its origin is this server's too, and https there means Secure cookies. */
  publicUrl?: string;
}

/** What an audited refusal names: the tool and action asked for, or the console's own action. */
export interface Target {
  tool?: string;
  action: string;
}

export const requestIdOf = (request: FastifyRequest): string | undefined => {
  const v = request.headers["x-request-id"];
  return typeof v === "string" && v.length > 0 ? v : undefined;
};

export function withConsoleHeaders(reply: FastifyReply): FastifyReply {
  for (const [k, v] of Object.entries(CONSOLE_HEADERS)) reply.header(k, v);
  return reply;
}

/** True when the cookie must be Secure: the request came over TLS, or the public URL is https. */
export function secureCookies(ctx: ConsoleContext, request: FastifyRequest): boolean {
  return request.protocol === "https" || (ctx.publicUrl?.startsWith("https:") ?? false);
}

/** This server's origins: the one the request addressed (its Host), and OPSBUS_PUBLIC_URL's. */
export function allowedOrigins(ctx: ConsoleContext, request: FastifyRequest): string[] {
  const out: string[] = [];
  const host = request.headers.host;
  if (host) out.push(`${request.protocol}://${host}`.toLowerCase());
  const pub = originOf(ctx.publicUrl);
  if (pub) out.push(pub.toLowerCase());
  return out;
}

export function refuseAudited(
  ctx: ConsoleContext,
  request: FastifyRequest,
  reply: FastifyReply,
  r: { status: number; code: ErrorCode; reason: string; message: string; target: Target; agentId?: string; params?: Record<string, unknown>; startedAt: Date; started: number },
): FastifyReply {
  const requestId = requestIdOf(request);
  writeConsoleAudit(ctx.gateway, {
    ...(r.agentId ? { agentId: r.agentId } : {}),
    ...(r.target.tool ? { tool: r.target.tool } : {}),
    action: r.target.action,
    decision: "deny",
    status: r.code,
    params: { reason: r.reason, ip: request.ip, ...(r.params ?? {}) },
    message: `${r.reason}: ${r.message}`,
    ...(requestId ? { requestId } : {}),
    startedAt: r.startedAt,
    started: r.started,
  });
  return refuse(withConsoleHeaders(reply), r.status, r.code, r.message);
}

export interface SessionOf {
  session: LiveSession;
  caller: Caller;
}

const now = (ctx: ConsoleContext) => (ctx.gateway.now ?? (() => new Date()))();

/** The caller a session acts as: the RBAC matrix's role of its agent, on channel console. */
export function callerOfSession(gateway: GatewayDeps, s: LiveSession): Caller {
  return callerFor(gateway.policies.rbac, s.record.agent_id, { authenticated: s.record.authenticated, channel: CONSOLE_CHANNEL });
}

/**
 * The request's live session, or a 401 (audited) already sent. With `write`, also the
 * same-origin check and the CSRF token (403, audited).
 */
export async function sessionOf(ctx: ConsoleContext, request: FastifyRequest, reply: FastifyReply, target: Target, opts: { write: boolean }): Promise<SessionOf | { answered: FastifyReply }> {
  const startedAt = now(ctx);
  const started = performance.now();
  const cookie = parseCookies(request.headers.cookie).get(SESSION_COOKIE);
  const found = await ctx.sessions.lookup(cookie);
  if ("miss" in found) {
    const message = found.miss === "no session" ? "log in first: POST /console/login" : `session ended (${found.miss}); log in again`;
    return { answered: refuseAudited(ctx, request, reply, { status: 401, code: "unauthenticated", reason: found.miss, message, target, startedAt, started }) };
  }
  const agentId = found.record.agent_id;
  if (opts.write) {
    const cross = sameOriginRefusal({ origin: headerOf(request, "origin"), secFetchSite: headerOf(request, "sec-fetch-site"), allowed: allowedOrigins(ctx, request) });
    const bad = cross ?? csrfTokenRefusal(found.record.csrf, headerOf(request, CSRF_HEADER));
    if (bad) {
      const message = cross ? "cross-origin request refused" : `a console write needs the session's token in X-CSRF-Token (GET /console/session)`;
      return { answered: refuseAudited(ctx, request, reply, { status: 403, code: "forbidden", reason: bad, message, target, agentId, startedAt, started }) };
    }
  }
  return { session: found, caller: callerOfSession(ctx.gateway, found) };
}

export function headerOf(request: FastifyRequest, name: string): string | undefined {
  const v = request.headers[name];
  return typeof v === "string" ? v : Array.isArray(v) ? v[0] : undefined;
}
