/**
 * The gateway's HTTP listener (on when HTTP_PORT is set): `GET /metrics` (Prometheus text),
 * `GET /healthz` (the health subject's answer; 503 when not ok), `GET /monitor/status` (the monitor
 * status subject's answer) and `POST /v1/tools/execute` (the tool API). Node's own http module: four routes need
 * no framework.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { GatewayDeps } from "../gateway/types.js";
import type { Logger } from "../log.js";
import { EXPOSITION_CONTENT_TYPE } from "../metrics/registry.js";
import { executeOverHttp } from "./tools.js";

export interface HttpDeps {
  gateway: GatewayDeps;
  logger: Logger;
  /** Prometheus text; absent → /metrics is 404. */
  metrics?: () => Promise<string>;
  health: () => Promise<{ ok: boolean }>;
  status: () => Promise<unknown>;
}

export interface HttpListener {
  /** The bound port (HTTP_PORT=0 picks a free one). */
  port: number;
  url: string;
  close(): Promise<void>;
}

/** Slow clients cannot hold sockets open: headers within 10 s, the whole request within 60 s. */
const HEADERS_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 60_000;

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}

function refuse(res: ServerResponse, status: number, code: string, message: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "application/json", ...extra }).end(JSON.stringify({ ok: false, error: { code, message } }));
}

type Route = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

function routes(d: HttpDeps): Record<string, { method: string; handle: Route }> {
  return {
    "/metrics": {
      method: "GET",
      handle: async (_req, res) => {
        if (!d.metrics) return refuse(res, 404, "not_found", "metrics are not enabled in this process");
        const text = await d.metrics();
        res.writeHead(200, { "content-type": EXPOSITION_CONTENT_TYPE }).end(text);
      },
    },
    "/healthz": {
      method: "GET",
      handle: async (_req, res) => {
        const report = await d.health();
        json(res, report.ok ? 200 : 503, report);
      },
    },
    "/monitor/status": { method: "GET", handle: async (_req, res) => json(res, 200, await d.status()) },
    "/v1/tools/execute": { method: "POST", handle: (req, res) => executeOverHttp(d.gateway, req, res) },
  };
}

export async function startHttpListener(d: HttpDeps, opts: { host: string; port: number }): Promise<HttpListener> {
  const log = d.logger.child({ component: "http" });
  const table = routes(d);
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    const route = table[path];
    if (!route) return refuse(res, 404, "not_found", `no route ${path}; routes: ${Object.keys(table).join(", ")}`);
    if (req.method !== route.method && !(route.method === "GET" && req.method === "HEAD")) {
      return refuse(res, 405, "invalid_request", `${path} takes ${route.method}`, { allow: route.method });
    }
    route.handle(req, res).catch((err: unknown) => {
      log.error({ err, path }, "http request failed");
      if (!res.headersSent) refuse(res, 500, "internal", "internal error");
      else res.destroy();
    });
  });
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${opts.host.includes(":") ? `[${opts.host}]` : opts.host}:${port}`;
  log.info({ url }, "http listener started");
  return {
    port,
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
