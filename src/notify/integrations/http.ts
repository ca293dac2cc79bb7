/**
 * The one pooled HTTP client every HTTP receiver sends through (undici: a keep-alive pool per
 * origin), and what an answer means: 2xx delivered; 429, 408, 5xx, a timeout or a connection
 * error tried again (after `Retry-After` when given); any other status failed for good. Error
 * text names the receiver and the host only: a webhook URL's path and query carry its token.
 */
import { Agent, request } from "undici";
import type { SendResult } from "../types.js";

export interface HttpClientOptions {
  /** `opsbus/<version>`. */
  userAgent: string;
  /** Open connections per origin (default 8). */
  connectionsPerOrigin?: number;
  /** An idle pooled connection is closed after this long (default 30 s). */
  keepAliveTimeoutMs?: number;
  /** For `Retry-After` HTTP-dates (default Date.now). */
  now?: () => number;
}

export interface PostJson {
  /** Names the receiver in errors, e.g. `webhook "default"`. */
  receiver: string;
  url: URL;
  /** The exact bytes sent (signatures are computed over them). */
  body: string;
  /** The notification key: sent as `Idempotency-Key`. */
  idempotencyKey: string;
  headers?: Record<string, string>;
  timeoutMs: number;
  signal?: AbortSignal;
  /** Secret values that must never appear in an error (the URL's own parts are always left out). */
  secrets?: readonly string[];
}

/** The longest wait a `Retry-After` may ask for. */
export const MAX_RETRY_AFTER_MS = 24 * 3_600_000;
/** Of a refusal's body, this much is read and quoted in the error. */
const ERROR_BODY_BYTES = 512;
const ERROR_BODY_CHARS = 200;

/** `Retry-After` (delay-seconds or an HTTP-date) in ms from `nowMs`; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | string[] | undefined, nowMs: number): number | undefined {
  const text = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!text) return undefined;
  if (/^\d+$/.test(text)) return Math.min(Number(text) * 1000, MAX_RETRY_AFTER_MS);
  const at = Date.parse(text);
  if (!Number.isFinite(at)) return undefined;
  return Math.min(Math.max(0, at - nowMs), MAX_RETRY_AFTER_MS);
}

/** Whether a status is worth trying again. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || status === 408 || status >= 500;
}

const safeDecode = (s: string): string => {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
};

/** Replaces every secret, and the URL's path, query and credentials, with `***`. */
export function redactor(url: URL | undefined, secrets: readonly string[] = []): (text: string) => string {
  const parts = [...secrets];
  if (url) {
    parts.push(url.href, url.pathname + url.search, url.search.slice(1), url.password, url.username);
    // Path segments long enough to be tokens (`/services/T000/B000/XXXX`).
    for (const seg of url.pathname.split("/")) if (seg.length >= 6) parts.push(seg, safeDecode(seg));
  }
  const needles = [...new Set(parts.filter((p) => p.length >= 4 && p !== "/"))].sort((a, b) => b.length - a.length);
  return (text) => needles.reduce((t, n) => t.split(n).join("***"), text);
}

/** One line of printable text, at most `max` characters. */
export function oneLine(text: string, max: number): string {
  const flat = text.replace(/[\u0000-\u001f\u007f]+/g, " ").replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

const TIMEOUT_CODES = new Set(["UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT", "UND_ERR_CONNECT_TIMEOUT", "ETIMEDOUT"]);

/** What a failed request (no answer at all) means: always worth trying again. */
function requestError(err: unknown, p: PostJson, timedOut: boolean, redact: (t: string) => string): SendResult {
  const where = `${p.receiver} (${p.url.host})`;
  if (p.signal?.aborted && !timedOut) return { outcome: "retry", error: `${where}: aborted before an answer (shutting down)` };
  const e = err as { code?: string; name?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = e.code ?? e.cause?.code;
  if (timedOut || (code && TIMEOUT_CODES.has(code)) || e.name === "TimeoutError") {
    return { outcome: "retry", error: `${where}: no answer within ${p.timeoutMs} ms` };
  }
  const detail = oneLine(redact(e.cause?.message ?? e.message ?? String(err)), ERROR_BODY_CHARS);
  return { outcome: "retry", error: `${where}: connection failed${code ? ` (${code})` : ""}: ${detail}` };
}

/** Up to `ERROR_BODY_BYTES` of a refusal's body, as text; the rest is dropped with the connection. */
async function bodyExcerpt(body: AsyncIterable<Buffer> & { destroy(): unknown }): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= ERROR_BODY_BYTES) break;
    }
  } catch {
    // A body cut short still has what arrived.
  }
  body.destroy();
  return Buffer.concat(chunks).subarray(0, ERROR_BODY_BYTES).toString("utf8");
}

export class HttpClient {
  readonly userAgent: string;
  private readonly agent: Agent;
  private readonly now: () => number;
  private users = 0;
  private closed = false;

  constructor(opts: HttpClientOptions) {
    this.userAgent = opts.userAgent;
    this.now = opts.now ?? Date.now;
    this.agent = new Agent({
      connections: opts.connectionsPerOrigin ?? 8,
      keepAliveTimeout: opts.keepAliveTimeoutMs ?? 30_000,
      keepAliveMaxTimeout: 10 * 60_000,
    });
  }

  /** Registers a user; the pools close when the last one releases (each integration's `close`). */
  retain(): () => Promise<void> {
    this.users++;
    let released = false;
    return async () => {
      if (released) return;
      released = true;
      if (--this.users === 0) await this.close();
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.agent.close();
  }

  /** One POST of a JSON body; never throws. */
  async postJson(p: PostJson): Promise<SendResult> {
    const redact = redactor(p.url, p.secrets);
    const where = `${p.receiver} (${p.url.host})`;
    if (this.closed) return { outcome: "retry", error: `${where}: client closed (shutting down)` };
    const timeout = AbortSignal.timeout(p.timeoutMs);
    const signal = p.signal ? AbortSignal.any([p.signal, timeout]) : timeout;
    // Credentials in the URL (`https://user:pass@host/…`) go in an Authorization header.
    let target = p.url;
    const auth: Record<string, string> = {};
    if (p.url.username || p.url.password) {
      target = new URL(p.url.href);
      target.username = "";
      target.password = "";
      auth.authorization = `Basic ${Buffer.from(`${safeDecode(p.url.username)}:${safeDecode(p.url.password)}`).toString("base64")}`;
    }
    let res: Awaited<ReturnType<typeof request>>;
    try {
      res = await request(target, {
        method: "POST",
        dispatcher: this.agent,
        headers: {
          "content-type": "application/json",
          "user-agent": this.userAgent,
          "idempotency-key": p.idempotencyKey,
          ...p.headers,
          ...auth,
        },
        body: p.body,
        signal,
        headersTimeout: p.timeoutMs,
        bodyTimeout: p.timeoutMs,
      });
    } catch (err) {
      return requestError(err, p, timeout.aborted, redact);
    }
    const status = res.statusCode;
    if (status >= 200 && status < 300) {
      // Drained so the connection goes back to the pool; a body that never ends is cut by bodyTimeout.
      await res.body.dump().catch(() => undefined);
      return { outcome: "delivered", status };
    }
    const excerpt = oneLine(redact(await bodyExcerpt(res.body)), ERROR_BODY_CHARS);
    const error = `${where}: HTTP ${status}${excerpt ? `: ${excerpt}` : ""}`;
    if (!isRetryableStatus(status)) return { outcome: "failed", status, error };
    const retryAfter = parseRetryAfter(res.headers["retry-after"], this.now());
    return { outcome: "retry", status, error, ...(retryAfter !== undefined ? { retry_after_ms: retryAfter } : {}) };
  }
}
