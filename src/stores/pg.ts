/**
 * Postgres plumbing shared by every Postgres store: the pool factory, connection-error
 * classification (what `auto` treats as "Postgres is down"), transactions and retries.
 */
import pg from "pg";
import { maskDsn, type Logger } from "../log.js";

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

export interface PoolOptions {
  /** Shown in `pg_stat_activity.application_name`. */
  appName?: string;
  /** Connections per pool; stores batch their work, so a few are plenty. */
  max?: number;
  statementTimeoutMs?: number;
  connectTimeoutMs?: number;
  logger?: Logger;
}

export const POOL_DEFAULTS = { max: 4, statementTimeoutMs: 30_000, connectTimeoutMs: 5_000, idleTimeoutMs: 30_000 } as const;

export function createPool(url: string, opts: PoolOptions = {}): Pool {
  const pool = new pg.Pool({
    connectionString: url,
    application_name: opts.appName ?? "opsbus",
    max: opts.max ?? POOL_DEFAULTS.max,
    statement_timeout: opts.statementTimeoutMs ?? POOL_DEFAULTS.statementTimeoutMs,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? POOL_DEFAULTS.connectTimeoutMs,
    idleTimeoutMillis: POOL_DEFAULTS.idleTimeoutMs,
  });
  // An idle client whose server goes away emits `error` on the pool; unhandled, it kills the process.
  pool.on("error", (err) => {
    opts.logger?.warn({ err, target: maskDsn(url) }, `postgres: idle connection lost (${maskDsn(url)})`);
  });
  return pool;
}

const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EPIPE",
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now (starting up, shutting down, recovery)
]);

const CONNECTION_MESSAGES = [
  "Connection terminated",
  "timeout exceeded when trying to connect",
  "Client has encountered a connection error",
  "Connection closed",
  "the database system is starting up",
  "the database system is shutting down",
];

/** True when `err` means the database cannot be reached (as opposed to a bad query or data). */
export function isConnectionError(err: unknown, depth = 0): boolean {
  if (depth > 4 || err === null || typeof err !== "object") return false;
  const e = err as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
  if (typeof e.code === "string" && (CONNECTION_CODES.has(e.code) || /^08[0-9A-Z]{3}$/.test(e.code))) return true;
  if (typeof e.message === "string" && CONNECTION_MESSAGES.some((m) => (e.message as string).includes(m))) return true;
  if (Array.isArray(e.errors) && e.errors.some((inner) => isConnectionError(inner, depth + 1))) return true;
  return isConnectionError(e.cause, depth + 1);
}

/** Serialization failure or deadlock: the transaction did nothing and may simply run again. */
export function isRetryableTxError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === "40001" || code === "40P01";
}

/** Thrown inside a transaction to roll it back and run it again (retried like a serialization failure). */
export class RetryTransaction extends Error {
  override name = "RetryTransaction";
  readonly code = "40001";
}

export interface RetryOptions {
  attempts?: number;
  baseDelayMs?: number;
}

export interface TransactionOptions extends RetryOptions {
  /** `SET LOCAL …` statements sent along with BEGIN. */
  settings?: string;
}

export async function withRetry<T>(fn: () => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const attempts = opts.attempts ?? 5;
  const base = opts.baseDelayMs ?? 5;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (!isRetryableTxError(err) || attempt >= attempts) throw err;
      const delay = base * 2 ** (attempt - 1) * (1 + Math.random());
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

/**
 * Runs `fn` inside BEGIN/COMMIT on one pooled client. A client whose connection broke is destroyed
 * instead of going back to the pool.
 */
export async function withTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>, settings?: string): Promise<T> {
  const client = await pool.connect();
  let lost: Error | undefined;
  // A checked-out client has no listener of its own; a server going away between two queries
  // would otherwise be an unhandled `error` event.
  const onError = (err: Error) => {
    lost = err;
  };
  client.on("error", onError);
  try {
    await client.query(settings ? `BEGIN; ${settings}` : "BEGIN");
    const result = await fn(client);
    await client.query("COMMIT");
    return result;
  } catch (err) {
    if (isConnectionError(err)) lost ??= err as Error;
    if (!lost) {
      await client.query("ROLLBACK").catch((rollbackErr: Error) => {
        lost = rollbackErr;
      });
    }
    throw err;
  } finally {
    client.removeListener("error", onError);
    client.release(lost);
  }
}

/** Retries the whole transaction on deadlock or serialization failure. */
export function transaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>, opts: TransactionOptions = {}): Promise<T> {
  return withRetry(() => withTransaction(pool, fn, opts.settings), opts);
}

/** `Date | string | null` from a timestamptz column, as an ISO string (or undefined). */
export function isoOrUndefined(value: unknown): string | undefined {
  if (value === null || value === undefined) return undefined;
  return value instanceof Date ? value.toISOString() : new Date(String(value)).toISOString();
}

export function iso(value: unknown): string {
  return isoOrUndefined(value) ?? new Date(0).toISOString();
}
