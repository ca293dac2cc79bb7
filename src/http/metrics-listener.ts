/**
 * A listener every process can run (METRICS_PORT): only `GET /metrics` and `GET /healthz`, on the
 * same edge rules as the gateway's listener (idle and header timeouts, connection cap, no bodies
 * read, no dot segments).
 */
import type { Logger } from "../log.js";
import { createEdgeApp, DEFAULT_EDGE_LIMITS, listenEdge, type EdgeApp, type EdgeLimits, type HttpListener } from "./edge.js";
import { probeRoutes } from "./probes.js";

export type { HttpListener } from "./edge.js";

/** Scrapers and health checks are few: the cap stays far below the gateway's, whatever is passed. */
export const METRICS_MAX_CONNECTIONS = 64;
/** No route here takes a body. */
const METRICS_BODY_LIMIT_BYTES = 1024;

export interface MetricsListenerDeps {
  /** Prometheus text. */
  metrics: () => Promise<string>;
  /** 503 when `ok` is false; the report is the body. */
  health: () => Promise<{ ok: boolean }>;
  logger: Logger;
}

export interface MetricsListenerOptions {
  host: string;
  port: number;
  /** Timeouts from the environment (`edgeLimitsOf(env)`); defaults otherwise. */
  edge?: Partial<EdgeLimits>;
}

/** The app without a socket: tests call `app.inject()` on it. */
export function buildMetricsApp(d: MetricsListenerDeps, edge: Partial<EdgeLimits> = {}): EdgeApp {
  const merged = { ...DEFAULT_EDGE_LIMITS, ...edge };
  const limits: EdgeLimits = { ...merged, maxConnections: Math.min(merged.maxConnections, METRICS_MAX_CONNECTIONS), bodyLimitBytes: METRICS_BODY_LIMIT_BYTES };
  const app = createEdgeApp(d.logger.child({ component: "metrics-listener" }), limits);
  void app.app.register(probeRoutes, { metrics: d.metrics, health: d.health });
  return app;
}

export async function startMetricsListener(d: MetricsListenerDeps, opts: MetricsListenerOptions): Promise<HttpListener> {
  return listenEdge(buildMetricsApp(d, opts.edge), opts, d.logger.child({ component: "metrics-listener" }));
}
