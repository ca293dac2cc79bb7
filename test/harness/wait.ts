import { once, type EventEmitter } from "node:events";
import { setTimeout as delay } from "node:timers/promises";
import { inspect } from "node:util";

export interface WaitOptions {
  /** Give up after this long (default 10 s). */
  timeoutMs?: number;
  /** Pause between probes (default 25 ms). */
  intervalMs?: number;
  /** Says what we were waiting for; leads the timeout error. */
  message?: string;
}

/**
 * Polls `probe` until it returns something truthy and returns that value, so tests wait on a
 * condition instead of sleeping. A probe that throws counts as "not yet"; the last value or
 * error is quoted in the timeout error to show how far things got.
 */
export async function waitFor<T>(
  probe: () => T | Promise<T>,
  opts: WaitOptions = {},
): Promise<NonNullable<T>> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const intervalMs = opts.intervalMs ?? 25;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value as NonNullable<T>;
      last = value;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) {
      const what = opts.message ?? "condition";
      const lastText = last instanceof Error ? `${last.name}: ${last.message}` : inspect(last, { depth: 3 });
      throw new Error(`waitFor timed out after ${timeoutMs} ms waiting for ${what}; last value: ${lastText}`);
    }
    await delay(intervalMs);
  }
}

/**
 * The first argument of the next `event` from `emitter`; rejects after `timeoutMs` (default 10 s)
 * so a missing event fails the test instead of hanging it. An `error` event rejects too.
 */
export async function nextEvent<T = unknown>(
  emitter: EventEmitter,
  event: string,
  opts: { timeoutMs?: number } = {},
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  try {
    const [first] = await once(emitter, event, { signal: AbortSignal.timeout(timeoutMs) });
    return first as T;
  } catch (err) {
    if ((err as Error).name === "AbortError") {
      throw new Error(`nextEvent timed out after ${timeoutMs} ms waiting for "${event}"`);
    }
    throw err;
  }
}
