/**
 * One answer, used by every worker, to "will this failure go away by itself?". A transient failure
 * (a backend that cannot be reached right now, a pool that is full, a JetStream request that timed
 * out, a gateway that answered `unavailable`) is retried with backoff and never spends a run's
 * attempt budget; anything else is deterministic (a bug, bad data, a refused request) and counts
 * toward `failed for good`. A killed holder is a third kind, detected by the workers themselves
 * (a redelivery with no recorded failure): it is retried and not counted either.
 *
 * This module imports nothing of the project but `OpsError`'s code, so stores, gateway and
 * workers can all use it.
 */

/** Socket-level errors of Node, pg and the NATS transport: the peer is not reachable now. */
const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "EPIPE",
  "EMFILE",
]);

/** Postgres SQLSTATEs that say "try again": the statement did nothing that a retry would repeat. */
const PG_TRANSIENT_CODES = new Set([
  "40001", // serialization_failure
  "40P01", // deadlock_detected
  "53300", // too_many_connections
  "55P03", // lock_not_available
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now (starting up, shutting down, recovery)
]);
/** Class 08: connection exceptions. */
const PG_CONNECTION_CLASS = /^08[0-9A-Z]{3}$/;

/** Messages of pg, pg-pool and nats.js that carry no code. */
const TRANSIENT_MESSAGES = [
  "timeout exceeded when trying to connect", // pg-pool: every client busy (pool exhaustion) or the server slow
  "Connection terminated",
  "Client has encountered a connection error",
  "Connection closed",
  "the database system is starting up",
  "the database system is shutting down",
  "sorry, too many clients already",
  "remaining connection slots are reserved",
];

/** nats.js error names: the request or the connection failed, not the request's content. */
const NATS_TRANSIENT_NAMES = new Set(["TimeoutError", "NoResponders", "ConnectionError", "ClosedConnectionError", "DrainingConnectionError"]);
/** JetStream API statuses meaning "no leader / not ready" (503) or "timed out" (408). */
const JS_TRANSIENT_STATUS = new Set([408, 503]);

export type FailureKind = "transient" | "deterministic";

interface ErrorShape {
  name?: unknown;
  code?: unknown;
  status?: unknown;
  message?: unknown;
  cause?: unknown;
  errors?: unknown;
}

/** True when `err` (or what caused it) is a failure that retrying later can fix. */
export function isTransient(err: unknown, depth = 0): boolean {
  if (depth > 4 || err === null || typeof err !== "object") return false;
  const e = err as ErrorShape;
  // An OpsError or its wire form: `unavailable` is the gateway's "backend down / timed out".
  if (e.code === "unavailable") return true;
  if (typeof e.code === "string" && (NETWORK_CODES.has(e.code) || PG_TRANSIENT_CODES.has(e.code) || PG_CONNECTION_CLASS.test(e.code))) return true;
  if (typeof e.name === "string" && NATS_TRANSIENT_NAMES.has(e.name)) return true;
  if (e.name === "JetStreamApiError" || e.name === "JetStreamStatusError") {
    const status = typeof e.status === "number" ? e.status : typeof e.code === "number" ? e.code : undefined;
    if (status !== undefined && JS_TRANSIENT_STATUS.has(status)) return true;
  }
  if (typeof e.message === "string" && TRANSIENT_MESSAGES.some((m) => (e.message as string).includes(m))) return true;
  if (Array.isArray(e.errors) && e.errors.some((inner) => isTransient(inner, depth + 1))) return true;
  return isTransient(e.cause, depth + 1);
}

export function failureKind(err: unknown): FailureKind {
  return isTransient(err) ? "transient" : "deterministic";
}

/** A reply's error code (`{ok:false, error:{code}}`) that means "retry later". */
export function isTransientCode(code: string): boolean {
  return code === "unavailable";
}

/**
 * The first retry's delay when a caller sets none: 1 s, or `OPSBUS_RETRY_BASE_MS` (read at each
 * call, so a dev box or a test stack can wait out an injected failure in milliseconds).
 */
export function defaultRetryBaseMs(env: NodeJS.ProcessEnv = process.env): number {
  const set = Number(env.OPSBUS_RETRY_BASE_MS);
  return Number.isInteger(set) && set > 0 ? set : 1000;
}

/**
 * Delay before retry `n` (1-based) of a transient failure: exponential from `baseMs`, capped, with
 * up to 25% jitter so workers that failed together do not come back together.
 */
export function transientBackoffMs(n: number, opts: { baseMs?: number; maxMs?: number; random?: () => number } = {}): number {
  const base = opts.baseMs ?? defaultRetryBaseMs();
  const max = opts.maxMs ?? 60_000;
  const raw = Math.min(max, base * 2 ** Math.max(0, Math.min(n - 1, 30)));
  return Math.round(raw * (1 - 0.25 * (opts.random ?? Math.random)()));
}

/** A short text for logs and ledgers: `transient: <message>`. */
export function describeFailure(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return isTransient(err) ? `transient: ${message}` : message;
}

export interface RetryTransientOptions {
  /** Aborts the waiting (e.g. the worker is stopping): the last transient error is thrown. */
  signal?: AbortSignal;
  /** Retries before the transient error is thrown anyway; default unlimited (until `signal`). */
  maxRetries?: number;
  baseMs?: number;
  maxDelayMs?: number;
  /** Called before each wait: log it, and keep a held delivery alive (`m.working()`). */
  onRetry?(err: unknown, retry: number, delayMs: number): void;
}

/**
 * Runs `fn`, and again after a backoff for as long as it fails transiently. A deterministic
 * failure is thrown at once: it is the caller's to count. `fn` must be safe to repeat.
 */
export async function retryTransient<T>(fn: () => Promise<T>, o: RetryTransientOptions = {}): Promise<T> {
  for (let retry = 1; ; retry++) {
    try {
      return await fn();
    } catch (err) {
      if (!isTransient(err) || o.signal?.aborted || (o.maxRetries !== undefined && retry > o.maxRetries)) throw err;
      const delayMs = transientBackoffMs(retry, { ...(o.baseMs !== undefined ? { baseMs: o.baseMs } : {}), maxMs: o.maxDelayMs ?? 30_000 });
      o.onRetry?.(err, retry, delayMs);
      if (!(await sleep(delayMs, o.signal))) throw err;
    }
  }
}

/** Resolves true after `ms`, or false as soon as `signal` aborts. */
function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      resolve(ok);
    };
    const onAbort = () => done(false);
    const timer = setTimeout(() => done(true), ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
