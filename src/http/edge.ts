/**
 * The HTTP edge every listener shares (the gateway's, and each process's metrics listener): a
 * fastify app on a Node server whose bounds hold from a connection's first moment.
 * - Idle: a connection that sends no request (not a byte yet, or nothing between keep-alive
 *   requests) is closed after `idleTimeoutMs`. Node's header/request timeouts only start with a
 *   request, so silent sockets used to pile up until the process ran out of file descriptors.
 * - Header and request timeouts: Node checks them every `connectionsCheckingInterval` (30 s by
 *   default, so a 10 s timeout fired at up to 40 s); here a tenth of the shorter one, at most 1 s.
 *   A request in progress is timed by these and the tool deadline, never by idleness.
 * - `maxConnections`: connections past it are dropped at accept, before they cost a descriptor
 *   for long.
 * - Bodies: only `application/json` is read (415 otherwise: no form or text/plain posts from a
 *   browser; the tool API also reads curl's form-labelled JSON when no browser sent it, see
 *   tools.ts); a declared Content-Length over the route's limit is 413 before a byte of the body
 *   is read, a chunked body as soon as it passes the limit, and either way the connection is
 *   closed rather than drained.
 * - Paths: dot segments (`..`, `%2e%2e`) are never resolved; a path holding one is 404. A path
 *   whose percent-escapes do not decode is routed with them taken literally, and a path parameter
 *   may be as long as a request line, so each route answers such a request in its own protocol
 *   (and audits it) instead of the router answering in fastify's.
 */
import { createServer, STATUS_CODES, type IncomingMessage, type RequestListener, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest, type RouteShorthandOptions } from "fastify";
import { HTTP_EDGE_DEFAULTS, type RuntimeEnv } from "../config/env.js";
import { ConfigError } from "../config/errors.js";
import type { ErrorCode } from "../errors.js";
import type { Logger } from "../log.js";

export interface EdgeLimits {
  maxConnections: number;
  idleTimeoutMs: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  /** Default body bound of a route; a route may set its own (the tool API does). */
  bodyLimitBytes: number;
}

export const DEFAULT_EDGE_LIMITS: EdgeLimits = { ...HTTP_EDGE_DEFAULTS };

/** The edge limits the environment asks for (HTTP_MAX_CONNECTIONS, HTTP_*_TIMEOUT_MS, HTTP_BODY_LIMIT_BYTES). */
export function edgeLimitsOf(env: Pick<RuntimeEnv, "HTTP_MAX_CONNECTIONS" | "HTTP_IDLE_TIMEOUT_MS" | "HTTP_HEADERS_TIMEOUT_MS" | "HTTP_REQUEST_TIMEOUT_MS" | "HTTP_BODY_LIMIT_BYTES">): EdgeLimits {
  if (env.HTTP_HEADERS_TIMEOUT_MS > env.HTTP_REQUEST_TIMEOUT_MS) {
    throw new ConfigError("environment", [
      `HTTP_HEADERS_TIMEOUT_MS (${env.HTTP_HEADERS_TIMEOUT_MS}) must not exceed HTTP_REQUEST_TIMEOUT_MS (${env.HTTP_REQUEST_TIMEOUT_MS}): the headers are part of the request`,
    ]);
  }
  return {
    maxConnections: env.HTTP_MAX_CONNECTIONS,
    idleTimeoutMs: env.HTTP_IDLE_TIMEOUT_MS,
    headersTimeoutMs: env.HTTP_HEADERS_TIMEOUT_MS,
    requestTimeoutMs: env.HTTP_REQUEST_TIMEOUT_MS,
    bodyLimitBytes: env.HTTP_BODY_LIMIT_BYTES,
  };
}

/** How often Node looks for requests past their timeouts: late by at most a tenth of the shorter one. */
export function checkingIntervalMs(limits: Pick<EdgeLimits, "headersTimeoutMs" | "requestTimeoutMs">): number {
  return Math.min(1000, Math.max(25, Math.floor(Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs) / 10)));
}

/** Drops past maxConnections are logged at most this often (an attack would flood the log). */
const DROP_LOG_INTERVAL_MS = 10_000;

function edgeServer(handler: RequestListener, limits: EdgeLimits, log: Logger): Server {
  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      connectionsCheckingInterval: checkingIntervalMs(limits),
    },
    handler,
  );
  server.keepAliveTimeout = limits.idleTimeoutMs;
  server.maxConnections = limits.maxConnections;
  // A socket timing out with no 'timeout' listener anywhere is destroyed by Node.
  server.on("connection", (socket) => socket.setTimeout(limits.idleTimeoutMs));
  server.on("request", (req: IncomingMessage) => req.socket.setTimeout(0));
  let dropped = 0;
  let lastLog = 0;
  server.on("drop", () => {
    dropped++;
    if (Date.now() - lastLog < DROP_LOG_INTERVAL_MS) return;
    lastLog = Date.now();
    log.warn({ dropped, max_connections: limits.maxConnections }, "connections dropped: HTTP_MAX_CONNECTIONS reached");
    dropped = 0;
  });
  return server;
}

export interface EdgeApp {
  app: FastifyInstance;
  server: Server;
  /** Every path a route was registered for, for the 404 message. */
  paths: Set<string>;
}

/** `/a/../b`, `/./a`, `/%2e%2e/b`, `/a/.%2E`: a segment made only of one or two dots, raw or percent-encoded. */
const DOT_SEGMENT = /(?:^|\/)(?:\.|%2e){1,2}(?:\/|$)/i;

export function pathOf(url: string): string {
  const end = url.search(/[?#]/);
  return end === -1 ? url : url.slice(0, end);
}

/**
 * Errors Node raises before a request reaches fastify (a timeout, an unparseable request), answered
 * with the same envelope as every other refusal, then the connection is closed.
 */
function clientErrorReply(err: NodeJS.ErrnoException, limits: EdgeLimits): { status: number; message: string } {
  if (err.code === "ERR_HTTP_REQUEST_TIMEOUT") {
    return { status: 408, message: `request too slow: headers within ${limits.headersTimeoutMs} ms, the whole request within ${limits.requestTimeoutMs} ms` };
  }
  if (err.code === "HPE_HEADER_OVERFLOW") return { status: 431, message: "request headers too large" };
  return { status: 400, message: "malformed HTTP request" };
}

function answerClientError(err: NodeJS.ErrnoException, socket: Duplex, limits: EdgeLimits): void {
  if (err.code === "ECONNRESET" || socket.destroyed) return;
  const { status, message } = clientErrorReply(err, limits);
  const body = JSON.stringify({ ok: false, error: { code: "invalid_request", message } });
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  }
  socket.destroy();
}

/** Set on a request routed again with its path's escapes taken literally, so it is routed again once. */
const LITERAL_PATH = Symbol("literalPath");
/** Node's default header bound: no request line, so no path parameter, is longer. */
const MAX_PARAM_LENGTH = 16 * 1024;

/** `url` with every `%` of its path escaped: decoding it then gives the path as sent. */
function literalPath(url: string): string {
  const path = pathOf(url);
  return path.replaceAll("%", "%25") + url.slice(path.length);
}

export function createEdgeApp(logger: Logger, limits: EdgeLimits): EdgeApp {
  let server: Server | undefined;
  const app: FastifyInstance = Fastify({
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    frameworkErrors: (err, request, reply) => {
      const raw = request.raw as IncomingMessage & { [LITERAL_PATH]?: true };
      if (err.code === "FST_ERR_BAD_URL" && !raw[LITERAL_PATH] && !DOT_SEGMENT.test(pathOf(raw.url ?? ""))) {
        raw[LITERAL_PATH] = true;
        raw.url = literalPath(raw.url ?? "/");
        return app.routing(raw, reply.raw);
      }
      return refuse(reply, err.statusCode ?? 400, "invalid_request", err.message);
    },
    loggerInstance: logger,
    // Per-request lines would be noise: the gateway logs each tool call, and refusals are counted.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: limits.bodyLimitBytes,
    serverFactory: (handler) => (server = edgeServer(handler as RequestListener, limits, logger)),
    clientErrorHandler: (err, socket) => answerClientError(err, socket, limits),
    // Typed with fastify's base logger, as plugins expect; the instance logs through our pino child.
  }) as unknown as FastifyInstance;
  const paths = new Set<string>();
  app.addHook("onRoute", (route) => void paths.add(route.url));
  // Routes get the raw bytes of a JSON body and parse them with their own bounds (the gateway
  // refuses deep nesting before JSON.parse could block the event loop).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("application/json", { parseAs: "buffer" }, (_req, body, done) => done(null, body));
  app.addHook("onRequest", async (request, reply) => {
    if (DOT_SEGMENT.test(pathOf(request.url))) {
      return refuse(reply, 404, "not_found", "the path holds a dot segment (. or ..), which this server does not resolve");
    }
  });
  app.setNotFoundHandler((request, reply) =>
    refuse(reply, 404, "not_found", `no route ${request.method} ${pathOf(request.url)}; routes: ${[...paths].sort().join(", ")}`),
  );
  app.setErrorHandler((err: FastifyError, request, reply) => sendEdgeError(err, request, reply, logger));
  if (!server) throw new Error("fastify did not call the server factory");
  return { app, server, paths };
}

/** The reply envelope of the tool API, for refusals made at the edge. */
export function refuse(reply: FastifyReply, status: number, code: ErrorCode, message: string): FastifyReply {
  return reply.code(status).type("application/json").send({ ok: false, error: { code, message } });
}

const CODE_OF_STATUS: Record<number, ErrorCode> = { 401: "unauthenticated", 403: "forbidden", 404: "not_found", 409: "conflict", 413: "payload_too_large", 429: "rate_limited", 503: "unavailable" };

/** True for the errors fastify raises while reading a body: the rest of it is not worth draining. */
export function isBodyError(err: FastifyError): boolean {
  return typeof err.code === "string" && err.code.startsWith("FST_ERR_CTP_");
}

/** Errors fastify raised (body, media type, …) or a route threw, as the reply envelope. */
export function sendEdgeError(err: FastifyError, request: FastifyRequest, reply: FastifyReply, log: Logger): FastifyReply {
  const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
  if (status >= 500) {
    log.error({ err, method: request.method, path: pathOf(request.url) }, "http request failed");
    return refuse(reply, status, "internal", "internal error");
  }
  if (isBodyError(err)) reply.header("connection", "close");
  const message = status === 415 ? `Content-Type must be application/json (got ${JSON.stringify(request.headers["content-type"] ?? "")})` : err.message;
  return refuse(reply, status, CODE_OF_STATUS[status] ?? "invalid_request", message);
}

const METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"] as const;
/** The route config key set on routeOnly's 405 catch-all routes. */
export const METHOD_NOT_ALLOWED = "methodNotAllowed";
type Handler = (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;

/**
 * A route for one method (GET also answers HEAD), and 405 with `Allow` for the other common
 * methods on the same path.
 */
export function routeOnly(app: FastifyInstance, method: "GET" | "POST", url: string, handler: Handler, opts: RouteShorthandOptions = {}): void {
  app.route({ method, url, handler, ...opts });
  // fastify answers HEAD for a GET route itself.
  const others = METHODS.filter((m) => m !== method && !(method === "GET" && m === "HEAD"));
  const allow = method === "GET" ? "GET, HEAD" : method;
  app.route({
    method: others,
    url,
    // Marks the 405 catch-all, so a route listing (the OpenAPI check) can tell it from a route.
    config: { [METHOD_NOT_ALLOWED]: true },
    handler: async (_request, reply) => refuse(reply.header("allow", allow), 405, "invalid_request", `${url} takes ${allow}`),
  });
}

export interface HttpListener {
  /** The bound port (port 0 picks a free one). */
  port: number;
  url: string;
  close(): Promise<void>;
}

export async function listenEdge(edge: EdgeApp, opts: { host: string; port: number }, log: Logger): Promise<HttpListener> {
  try {
    await edge.app.listen({ host: opts.host, port: opts.port });
  } catch (err) {
    await edge.app.close().catch(() => undefined);
    throw err;
  }
  const port = (edge.server.address() as AddressInfo).port;
  const url = `http://${opts.host.includes(":") ? `[${opts.host}]` : opts.host}:${port}`;
  log.info({ url, routes: [...edge.paths].sort() }, "http listener started");
  return {
    port,
    url,
    async close() {
      const closing = edge.app.close();
      edge.server.closeAllConnections();
      await closing;
    },
  };
}
