/**
 * The gateway's HTTP listener (on when HTTP_PORT is set), on the shared edge (edge.ts): `GET /metrics`
 * and `GET /healthz` (probes.ts), `GET /monitor/status` (the monitor status subject's answer) and
 * `POST /v1/tools/execute` and `POST /v1/tools/<tool>` (tools.ts), the runbook shortcuts
 * (runbook-routes.ts), `GET /openapi.json` (openapi.ts), the ack links `GET|POST /ack/<token>` (ack-link.ts)
 * and the operator console: its server routes `/console/...` (console/routes.ts) and its pages,
 * `/` → `/console/` (console/pages/routes.ts).
 * Each route group is an encapsulated fastify plugin.
 */
import type { FastifyPluginAsync } from "fastify";
import type { GatewayDeps } from "../gateway/types.js";
import type { Logger } from "../log.js";
import { ackLinkRoutes, type AckLinkDeps } from "./ack-link.js";
import { alertmanagerRoutes, type AlertmanagerDeps } from "./alertmanager/index.js";
import { consolePages } from "./console/pages/routes.js";
import { consoleRoutes, type ConsoleDeps } from "./console/routes.js";
import { createEdgeApp, DEFAULT_EDGE_LIMITS, listenEdge, routeOnly, type EdgeApp, type EdgeLimits, type HttpListener } from "./edge.js";
import { pagerDutyRoutes, type PagerDutyDeps } from "./pagerduty.js";
import { probeRoutes, type ProbeDeps } from "./probes.js";
import { openApiRoutes } from "./openapi.js";
import { runbookRoutes } from "./runbook-routes.js";
import { toolRoutes } from "./tools.js";

export type { HttpListener } from "./edge.js";

export interface HttpDeps extends ProbeDeps {
  gateway: GatewayDeps;
  logger: Logger;
  status: () => Promise<unknown>;
  /** PagerDuty Events v2 intake (POST /v2/enqueue); absent: the route answers 503. */
  pagerduty?: PagerDutyDeps;
  /** The Alertmanager API v2 (alertmanager/); absent: its routes answer 503. */
  alertmanager?: AlertmanagerDeps;
  /** Ack links (GET/POST /ack/<token>); absent: off, the routes answer 404. */
  ackLinks?: AckLinkDeps;
  /** The operator console (/console/...); absent: off, its routes answer 404. */
  console?: ConsoleDeps;
}

const monitorRoutes: FastifyPluginAsync<{ status: () => Promise<unknown> }> = async (app, { status }) => {
  routeOnly(app, "GET", "/monitor/status", async (_request, reply) => reply.type("application/json").send(await status()));
};

/** The app without a socket: tests call `app.inject()` on it. */
export function buildHttpApp(d: HttpDeps, limits: EdgeLimits = DEFAULT_EDGE_LIMITS): EdgeApp {
  const edge = createEdgeApp(d.logger.child({ component: "http" }), limits);
  void edge.app.register(probeRoutes, { health: d.health, ...(d.metrics ? { metrics: d.metrics } : {}) });
  void edge.app.register(monitorRoutes, { status: d.status });
  void edge.app.register(toolRoutes, { gateway: d.gateway });
  void edge.app.register(alertmanagerRoutes, { gateway: d.gateway, ...(d.alertmanager ? { alertmanager: d.alertmanager } : {}) });
  void edge.app.register(runbookRoutes, { gateway: d.gateway });
  void edge.app.register(openApiRoutes, { gateway: d.gateway });
  void edge.app.register(pagerDutyRoutes, { gateway: d.gateway, ...(d.pagerduty ? { pagerduty: d.pagerduty } : {}) });
  void edge.app.register(ackLinkRoutes, { gateway: d.gateway, ...(d.ackLinks ? { ackLinks: d.ackLinks } : {}) });
  void edge.app.register(consoleRoutes, { gateway: d.gateway, ...(d.console ? { console: d.console } : {}) });
  void edge.app.register(consolePages, { gateway: d.gateway, health: d.health, ...(d.console ? { console: d.console } : {}) });
  return edge;
}

export async function startHttpListener(d: HttpDeps, opts: { host: string; port: number; edge?: EdgeLimits }): Promise<HttpListener> {
  return listenEdge(buildHttpApp(d, opts.edge), opts, d.logger.child({ component: "http" }));
}
