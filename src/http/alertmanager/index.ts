/**
 * The Alertmanager API v2 on the HTTP listener (what Prometheus, vmalert, the Loki/Mimir/Thanos
 * rulers and amtool speak): POST/GET `/api/v2/alerts`, `/api/v2/alerts/groups`, `/api/v2/status`,
 * `/api/v2/receivers`, `/-/healthy`, `/-/ready`, and the silences (silences.ts: `/api/v2/silences`, `/api/v2/silence/{id}`,
 * which need only the gateway core). Without its deps (a process that did not wire them) every
 * other route answers 503, so a sender retries rather than drops.
 */
import type { FastifyError, FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import type { GatewayDeps } from "../../gateway/types.js";
import { isBodyError, refuse, routeOnly, sendEdgeError } from "../edge.js";
import { audit, callerOf, failureOf, permit, sendAmError, sendAmJson, sendAmMessage } from "./access.js";
import type { AlertmanagerDeps } from "./deps.js";
import { postAlertsHandler } from "./post.js";
import { groupsOf, makeAlertReader, parseAlertQuery } from "./read.js";
import { silenceRoutes } from "./silences.js";
import { jetstreamAnswers, statusOf } from "./status.js";

export type { AlertmanagerDeps } from "./deps.js";

export const AM_PATHS = ["/api/v2/alerts", "/api/v2/alerts/groups", "/api/v2/status", "/api/v2/receivers", "/-/healthy", "/-/ready"] as const;

// JSON replies end with a newline, as Go's encoder writes them: byte-for-byte what Alertmanager sends.
const text = (reply: FastifyReply, status: number, body: string) => reply.code(status).type("text/plain; charset=utf-8").send(body);

const unwired: FastifyPluginAsync = async (app) => {
  const answer = async (_r: FastifyRequest, reply: FastifyReply) => sendAmError(reply, "unavailable", "the Alertmanager API is not wired in this process");
  app.route({ method: ["GET", "POST"], url: "/api/v2/alerts", handler: answer });
  for (const path of AM_PATHS.filter((p) => p !== "/api/v2/alerts")) routeOnly(app, "GET", path, answer);
};

export const alertmanagerRoutes: FastifyPluginAsync<{ gateway: GatewayDeps; alertmanager?: AlertmanagerDeps }> = async (app, { gateway: g, alertmanager: d }) => {
  // Silences are silence_tool calls through the gateway core: they need nothing else.
  await app.register(silenceRoutes, { gateway: g });
  if (!d) return unwired(app, {});
  const cfg = d.policies.intake.alertmanager;
  const now = d.now ?? (() => new Date());
  const startedAt = d.startedAt ?? now();
  const readAlerts = makeAlertReader(d);

  // A body the edge refuses (413 too large, 415 not JSON, 400 unreadable) is answered as
  // Alertmanager answers (a JSON string) and audited like every other request.
  app.setErrorHandler(async (err: FastifyError, request, reply) => {
    const status = err.statusCode ?? 500;
    if (!isBodyError(err) || status < 400 || status >= 500) return sendEdgeError(err, request, reply, g.logger);
    const tooLarge = status === 413;
    // The rest of a too-large body is never read: the connection closes after this reply.
    if (tooLarge) reply.header("connection", "close");
    const message = tooLarge
      ? `request body larger than ${cfg.max_body_bytes} bytes`
      : status === 415
        ? `Content-Type must be application/json (got ${JSON.stringify(request.headers["content-type"] ?? "")})`
        : err.message;
    let caller;
    try {
      caller = callerOf(g, request);
    } catch {
      caller = undefined;
    }
    const code = tooLarge ? "payload_too_large" : "invalid_request";
    audit(g, request, { action: "post_alerts", ...(caller ? { caller } : {}), status: code, params: {}, message, startedAt: now(), started: performance.now() });
    return sendAmMessage(reply, status, message);
  });


  const read = (action: string, shape: (alerts: Awaited<ReturnType<typeof readAlerts>>) => unknown) => async (request: FastifyRequest, reply: FastifyReply) => {
    const startedAt = now();
    const started = performance.now();
    let caller;
    try {
      caller = callerOf(g, request);
      permit(g, caller, "tools.alerts.read");
      const alerts = await readAlerts(parseAlertQuery(request));
      audit(g, request, { action, caller, status: "ok", params: { alerts: alerts.length }, startedAt, started });
      return sendAmJson(reply, 200, `${JSON.stringify(shape(alerts))}\n`);
    } catch (err) {
      const { code, message } = failureOf(err);
      if (code === "internal") g.logger.error({ err }, `GET ${action} failed`);
      audit(g, request, { action, ...(caller ? { caller } : {}), status: code, params: {}, message, startedAt, started });
      return sendAmError(reply, code, message);
    }
  };
  // GET and POST on one path: routeOnly takes one method, so the 405 for the rest is set here.
  app.route({ method: "POST", url: "/api/v2/alerts", handler: postAlertsHandler(g, d), bodyLimit: cfg.max_body_bytes });
  app.route({ method: "GET", url: "/api/v2/alerts", handler: read("get_alerts", (alerts) => alerts) });
  app.route({
    method: ["PUT", "DELETE", "PATCH", "OPTIONS"],
    url: "/api/v2/alerts",
    handler: async (_request, reply) => refuse(reply.header("allow", "GET, HEAD, POST"), 405, "invalid_request", "/api/v2/alerts takes GET, HEAD, POST"),
  });
  routeOnly(app, "GET", "/api/v2/alerts/groups", read("get_alert_groups", (alerts) => groupsOf(alerts, cfg.receiver)));

  routeOnly(app, "GET", "/api/v2/status", async (_request, reply) =>
    sendAmJson(reply, 200, `${JSON.stringify(statusOf(d, startedAt, g.nodeId))}\n`),
  );
  // The receivers the status's config names (one), open as Alertmanager's are: a name, nothing more.
  routeOnly(app, "GET", "/api/v2/receivers", async (_request, reply) => sendAmJson(reply, 200, `${JSON.stringify([{ name: cfg.receiver }])}\n`));
  routeOnly(app, "GET", "/-/healthy", async (_request, reply) => text(reply, 200, "OK"));
  routeOnly(app, "GET", "/-/ready", async (_request, reply) =>
    (await jetstreamAnswers(d)) ? text(reply, 200, "OK") : text(reply, 503, "JetStream is not answering"),
  );
};
