import { OpsError } from "../errors.js";

/**
 * Runs `work` with an AbortSignal that fires after `timeoutMs`; the call then fails with
 * `unavailable` even if the work ignores the signal (its late outcome is discarded).
 */
export async function withDeadline<T>(timeoutMs: number, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new OpsError("unavailable", `timed out after ${timeoutMs} ms`, { timeout_ms: timeoutMs });
      controller.abort(err);
      reject(err);
    }, timeoutMs);
  });
  const running = Promise.resolve().then(() => work(controller.signal));
  // A handler that fails after its deadline must not become an unhandled rejection.
  running.catch(() => undefined);
  try {
    return await Promise.race([running, expired]);
  } finally {
    clearTimeout(timer);
  }
}
