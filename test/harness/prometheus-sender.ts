/**
 * Sends alerts to an Alertmanager API v2 (`POST /api/v2/alerts`) the way Prometheus's notifier
 * does: batches of at most 256, a few requests in flight, and only an exact `200` counts as
 * delivered. Used against Alertmanager and opsbus alike (the crash test and the bench).
 */
import { performance } from "node:perf_hooks";
import { setTimeout as delay } from "node:timers/promises";

/** Prometheus's maximum alerts per POST (notifier maxBatchSize). */
export const PROMETHEUS_BATCH = 256;

/** One alert as Prometheus posts it. */
export interface PostableAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt?: string;
  endsAt?: string;
  generatorURL?: string;
}

export interface SendOptions {
  /** Requests in flight (Prometheus sends one per Alertmanager; 8 models 8 rule evaluators / senders). */
  inflight: number;
  /** Retry a batch until it is answered 200, as Prometheus does on its next evaluation (default false: one try). */
  retry?: boolean;
  /** Pause before a retry (default 50 ms). */
  retryDelayMs?: number;
  /** Give up (throw) after this long (default 5 min). */
  deadlineMs?: number;
  headers?: Record<string, string>;
  /** Called as each batch is answered 200 (its index in `bodies`). */
  onAnswered?(batch: number): void;
  /** Stops sending new batches; requests in flight finish. */
  signal?: AbortSignal;
}

export interface SendResult {
  /** Indexes of the batches answered exactly 200, in answer order. */
  answered: number[];
  /** Failed tries by reason (`HTTP 503`, `ECONNREFUSED`, …): what a crash looked like from outside. */
  failures: Record<string, number>;
  /** Batches answered 200 only after at least one failed try. */
  retried: number;
  elapsedMs: number;
}

/** Splits `alerts` into request bodies of at most `size` alerts each. */
export function batchBodies(alerts: readonly PostableAlert[], size = PROMETHEUS_BATCH): string[] {
  const bodies: string[] = [];
  for (let i = 0; i < alerts.length; i += size) bodies.push(JSON.stringify(alerts.slice(i, i + size)));
  return bodies;
}

function reasonOf(err: unknown): string {
  const e = err as { cause?: { code?: string }; code?: string; name?: string; message?: string };
  return e.cause?.code ?? e.code ?? e.name ?? String(e.message ?? err);
}

/** An answer that means the request is wrong: retrying it cannot help, so the sender stops. */
export class RejectedBatchError extends Error {
  override readonly name = "RejectedBatchError";
}

/** POSTs every body to `<baseUrl>/api/v2/alerts`, `inflight` at a time. */
export async function sendBatches(baseUrl: string, bodies: readonly string[], opts: SendOptions): Promise<SendResult> {
  const url = `${baseUrl}/api/v2/alerts`;
  const deadline = Date.now() + (opts.deadlineMs ?? 300_000);
  const result: SendResult = { answered: [], failures: {}, retried: 0, elapsedMs: 0 };
  const fail = (reason: string) => void (result.failures[reason] = (result.failures[reason] ?? 0) + 1);
  let next = 0;
  const t0 = performance.now();
  const post = async (i: number): Promise<boolean> => {
    try {
      const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json", ...opts.headers }, body: bodies[i]!, signal: AbortSignal.timeout(30_000) });
      const text = await res.text();
      if (res.status === 200) return true;
      // A 4xx other than 408/429 says the request itself is wrong (or the route is missing): retrying cannot help.
      if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) throw new RejectedBatchError(`batch ${i}: HTTP ${res.status} ${text.slice(0, 500)}`);
      fail(`HTTP ${res.status}`);
    } catch (err) {
      if (err instanceof RejectedBatchError) throw err;
      fail(reasonOf(err));
    }
    return false;
  };
  const lane = async () => {
    while (next < bodies.length && !opts.signal?.aborted) {
      const i = next++;
      let tries = 0;
      for (;;) {
        tries += 1;
        if (await post(i)) {
          if (tries > 1) result.retried += 1;
          result.answered.push(i);
          opts.onAnswered?.(i);
          break;
        }
        if (!opts.retry) break;
        if (Date.now() > deadline) throw new Error(`batch ${i} not answered 200 within the deadline; failures so far ${JSON.stringify(result.failures)}`);
        await delay(opts.retryDelayMs ?? 50);
      }
    }
  };
  await Promise.all(Array.from({ length: opts.inflight }, lane));
  result.elapsedMs = performance.now() - t0;
  return result;
}
