/** `GET /metrics` (Prometheus text) and `GET /healthz` (the health report; 503 when not ok). */
import type { FastifyPluginAsync } from "fastify";
import { refuse, routeOnly } from "./edge.js";

/** The Prometheus text exposition format, 0.0.4 (what prom-client's registry renders too). */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export interface ProbeDeps {
  /** Prometheus text; absent → /metrics is 404. */
  metrics?: () => Promise<string>;
  health: () => Promise<{ ok: boolean }>;
}

export const probeRoutes: FastifyPluginAsync<ProbeDeps> = async (app, d) => {
  routeOnly(app, "GET", "/metrics", async (_request, reply) => {
    if (!d.metrics) return refuse(reply, 404, "not_found", "metrics are not enabled in this process");
    const text = await d.metrics();
    return reply.type(PROMETHEUS_CONTENT_TYPE).send(text);
  });
  routeOnly(app, "GET", "/healthz", async (_request, reply) => {
    const report = await d.health();
    return reply.code(report.ok ? 200 : 503).type("application/json").send(report);
  });
};
