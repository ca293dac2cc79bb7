import { OpsError } from "../errors.js";

/**
 * Runs `work` with an AbortSignal that fires after `timeoutMs` (or when `outer` aborts); the call
 * then fails with `unavailable` (or `outer`'s reason) even if the work ignores the signal (its late
 * outcome is discarded).
 */
export async function withDeadline<T>(timeoutMs: number, work: (signal: AbortSignal) => Promise<T>, outer?: AbortSignal): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new OpsError("unavailable", `timed out after ${timeoutMs} ms`, { timeout_ms: timeoutMs });
      controller.abort(err);
      reject(err);
    }, timeoutMs);
    onAbort = () => {
      controller.abort(outer?.reason);
      reject(outer?.reason);
    };
    if (outer?.aborted) onAbort();
    else outer?.addEventListener("abort", onAbort, { once: true });
  });
  const running = Promise.resolve().then(() => work(controller.signal));
  // A handler that fails after its deadline must not become an unhandled rejection.
  running.catch(() => undefined);
  try {
    return await Promise.race([running, expired]);
  } finally {
    clearTimeout(timer);
    if (onAbort) outer?.removeEventListener("abort", onAbort);
  }
}
