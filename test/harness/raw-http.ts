/**
 * HTTP over a bare TCP socket, for edge tests that fetch cannot express: silent or trickling
 * clients, paths sent exactly as written (no dot-segment resolution), repeated headers, a declared
 * Content-Length with no body behind it.
 */
import { spawnSync } from "node:child_process";
import { connect, type Socket } from "node:net";

export interface RawResponse {
  /** 0 when the server closed without answering. */
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Milliseconds from connect to the server's close (or to the response, with `untilResponse`). */
  ms: number;
}

/** One socket: a connect promise and a promise of when (ms after connect) the server closed it. */
export interface HeldSocket {
  socket: Socket;
  connected: Promise<void>;
  closed: Promise<number>;
}

export function holdSocket(port: number, host = "127.0.0.1"): HeldSocket {
  const socket = connect({ port, host });
  let t0 = Date.now();
  const connected = new Promise<void>((resolve, reject) => {
    socket.once("connect", () => {
      t0 = Date.now();
      resolve();
    });
    socket.once("error", reject);
  });
  const closed = new Promise<number>((resolve) => socket.once("close", () => resolve(Date.now() - t0)));
  socket.on("error", () => undefined); // a reset is one way of being closed
  return { socket, connected, closed };
}

function parseResponse(raw: string): Omit<RawResponse, "ms"> {
  const split = raw.indexOf("\r\n\r\n");
  if (!raw.startsWith("HTTP/1.1 ") || split === -1) return { status: 0, headers: {}, body: raw };
  const [statusLine, ...lines] = raw.slice(0, split).split("\r\n");
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const at = line.indexOf(":");
    headers[line.slice(0, at).trim().toLowerCase()] = line.slice(at + 1).trim();
  }
  let body = raw.slice(split + 4);
  if (headers["transfer-encoding"] === "chunked") body = dechunk(body);
  return { status: Number(statusLine!.split(" ")[1]), headers, body };
}

function dechunk(text: string): string {
  let out = "";
  let rest = text;
  for (;;) {
    const eol = rest.indexOf("\r\n");
    const size = parseInt(rest.slice(0, eol), 16);
    if (!size) return out;
    out += rest.slice(eol + 2, eol + 2 + size);
    rest = rest.slice(eol + 4 + size);
  }
}

/**
 * Writes `request` (text sent as is), then waits for the server to close the connection, or
 * only for a complete response head when `untilResponse` is set.
 */
export async function rawRequest(port: number, request: string | Buffer, opts: { untilResponse?: boolean; timeoutMs?: number } = {}): Promise<RawResponse> {
  const held = holdSocket(port);
  await held.connected;
  const t0 = Date.now();
  const chunks: Buffer[] = [];
  const text = () => Buffer.concat(chunks).toString("utf8");
  const answered = new Promise<void>((resolve) => {
    held.socket.on("data", (c: Buffer) => {
      chunks.push(c);
      if (opts.untilResponse && text().includes("\r\n\r\n")) resolve();
    });
    void held.closed.then(() => resolve());
  });
  held.socket.write(request);
  const timer = setTimeout(() => held.socket.destroy(), opts.timeoutMs ?? 30_000);
  await answered;
  clearTimeout(timer);
  const ms = Date.now() - t0;
  held.socket.destroy();
  return { ...parseResponse(text()), ms };
}

/** A GET with `path` exactly as given: no client-side normalisation of dot segments. */
export function rawGet(port: number, path: string): Promise<RawResponse> {
  return rawRequest(port, `GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
}

/** `promise`, or a failure naming `what` once `ms` have passed: a server that never closes fails the test instead of hanging it. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** This process's open-file limit (`ulimit -n`), to size socket-heavy tests. */
export function openFileLimit(): number {
  const out = spawnSync("sh", ["-c", "ulimit -n"], { encoding: "utf8" }).stdout.trim();
  return out === "unlimited" ? 1 << 20 : Number(out) || 1024;
}
