/**
 * The console's pages on the gateway's HTTP listener: `/` → `/console/`, the login page, overview,
 * alerts, incidents (list and one), silences, notifications, jobs, backlog, release check, audit,
 * and `/console/static/app.{js,css}`. A page the role may not use answers 403 with a page saying why.
 * Every page is rendered on the server for the session's agent (no session: to the login page);
 * its data comes from tool calls through the gateway core on channel console, so a page shows
 * only what the role may read. Each answer carries a fresh CSP nonce and the console's headers.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import { parseCookies, SESSION_COOKIE } from "../../../console/cookies.js";
import { contentSecurityPolicy, newNonce } from "../../../console/csp.js";
import { executeTool } from "../../../gateway/execute.js";
import type { GatewayDeps } from "../../../gateway/types.js";
import { refuse, routeOnly } from "../../edge.js";
import { callerOfSession, requestIdOf, withConsoleHeaders } from "../access.js";
import { CONSOLE_CHANNEL } from "../audit.js";
import type { ConsoleDeps } from "../routes.js";
import { alertsPage } from "./alerts.js";
import { auditPage } from "./audit.js";
import { backlogPage } from "./backlog.js";
import { incidentListPage, incidentPage } from "./incidents.js";
import { jobsPage } from "./jobs.js";
import { layout, type Page, type PageContext, type ToolAnswer } from "./layout.js";
import { loginPage } from "./login.js";
import { notificationsPage } from "./notifications.js";
import { overviewPage } from "./overview.js";
import { releasePage } from "./release.js";
import { silencesPage } from "./silences.js";
import { STATIC_FILES } from "./static.js";

export interface ConsolePageOptions {
  gateway: GatewayDeps;
  /** Absent: the console is off, its pages answer 404. */
  console?: ConsoleDeps;
  /** The process's health answer (queue depth per consumer for the overview). */
  health: () => Promise<unknown>;
}

const INCIDENT_PATH = /^[A-Za-z0-9_-]{1,64}$/;

function sendHtml(reply: FastifyReply, nonce: string, body: string, status = 200): FastifyReply {
  return withConsoleHeaders(reply).code(status).header("content-security-policy", contentSecurityPolicy(nonce)).type("text/html; charset=utf-8").send(body);
}

const queryOf = (request: FastifyRequest): Record<string, string> =>
  Object.fromEntries(Object.entries((request.query ?? {}) as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === "string"));

export const consolePages: FastifyPluginAsync<ConsolePageOptions> = async (app, { gateway, console: d, health }) => {
  routeOnly(app, "GET", "/", async (_request, reply) => reply.redirect("/console/", 302));
  if (!d) {
    const off = async (_request: FastifyRequest, reply: FastifyReply) => refuse(withConsoleHeaders(reply), 404, "not_found", "the console is not enabled on this server");
    // POST /console/login (routes.ts) answers the other methods of this path.
    app.route({ method: "GET", url: "/console/login", handler: off });
    for (const url of ["/console", "/console/", "/console/alerts", "/console/incidents", "/console/incidents/:id", "/console/silences", "/console/notifications", "/console/static/:name"]) routeOnly(app, "GET", url, off);
    for (const url of ["/console/jobs", "/console/backlog"]) routeOnly(app, "GET", url, off);
    for (const url of ["/console/release", "/console/audit"]) routeOnly(app, "GET", url, off);
    return;
  }
  const now = () => (gateway.now ?? (() => new Date()))();

  routeOnly(app, "GET", "/console/static/:name", async (request, reply) => {
    const name = (request.params as { name: string }).name;
    const f = Object.hasOwn(STATIC_FILES, name) ? STATIC_FILES[name] : undefined;
    if (!f) return refuse(withConsoleHeaders(reply), 404, "not_found", "no such console file");
    withConsoleHeaders(reply).header("etag", f.etag).type(f.type);
    // Fine to cache between deploys: the etag changes with the content.
    reply.header("cache-control", "no-cache");
    if (request.headers["if-none-match"] === f.etag) return reply.code(304).send();
    return reply.send(f.body);
  });

  // POST /console/login (routes.ts) answers the other methods of this path.
  app.route({ method: "GET", url: "/console/login", handler: async (request, reply) => {
    const next = queryOf(request).next;
    const nonce = newNonce();
    return sendHtml(reply, nonce, loginPage(nonce, { dev: gateway.opsEnv === "dev", agents: Object.keys(gateway.policies.rbac.agents), ...(next ? { next } : {}) }));
  } });

  /** A page for the request's session; without one, a redirect to the login page. */
  const page = (render: (ctx: PageContext, request: FastifyRequest) => Promise<Page>) => async (request: FastifyRequest, reply: FastifyReply) => {
    const found = await d.sessions.lookup(parseCookies(request.headers.cookie).get(SESSION_COOKIE));
    if ("miss" in found) {
      const path = request.url.startsWith("/console/") ? request.url : "/console/";
      return withConsoleHeaders(reply).redirect(`/console/login?next=${encodeURIComponent(path)}`, 303);
    }
    const caller = callerOfSession(gateway, found);
    const requestId = requestIdOf(request);
    const call = async (tool: string, action: string, params: Record<string, unknown> = {}): Promise<ToolAnswer> => {
      const r = await executeTool(gateway, { tool, channel: CONSOLE_CHANNEL, trustedCaller: caller, body: { action, params }, ...(requestId ? { requestId } : {}) });
      return r.ok ? { ok: true, result: (r.result ?? {}) as Record<string, unknown> } : { ok: false, message: r.error.message };
    };
    const may = (tool: string, action: string) => {
      const ent = gateway.registry.get(tool)?.actions[action]?.entitlement;
      return ent !== undefined && caller.entitlements.has(ent);
    };
    const nonce = newNonce();
    const ctx: PageContext = { caller, csrf: found.record.csrf, nonce, now: now(), call, may, query: queryOf(request) };
    const p = await render(ctx, request);
    return sendHtml(reply, nonce, layout(ctx, p), p.status ?? 200);
  };

  routeOnly(app, "GET", "/console", async (_request, reply) => reply.redirect("/console/", 302));
  routeOnly(app, "GET", "/console/", page((ctx) => overviewPage(ctx, health)));
  routeOnly(app, "GET", "/console/alerts", page(alertsPage));
  routeOnly(app, "GET", "/console/incidents", page(incidentListPage));
  routeOnly(
    app,
    "GET",
    "/console/incidents/:id",
    page(async (ctx, request) => {
      const id = (request.params as { id: string }).id;
      return INCIDENT_PATH.test(id) ? incidentPage(ctx, id) : incidentPage(ctx, "invalid");
    }),
  );
  routeOnly(app, "GET", "/console/silences", page(silencesPage));
  routeOnly(app, "GET", "/console/notifications", page(notificationsPage));
  routeOnly(app, "GET", "/console/jobs", page(jobsPage));
  routeOnly(app, "GET", "/console/release", page(releasePage));
  routeOnly(app, "GET", "/console/audit", page(auditPage));
  routeOnly(app, "GET", "/console/backlog", page(backlogPage));
};
