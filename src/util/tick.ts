/**
 * A sweep run every tick, never two at once: a tick that finds the previous run still going is
 * skipped, and a failed run is only logged (the next tick retries). Returns a stop function.
 */
export function everyTick(seconds: number, run: () => Promise<void>, onError: (err: unknown) => void): () => void {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    run()
      .catch(onError)
      .finally(() => (running = false));
  }, seconds * 1000);
  timer.unref();
  return () => clearInterval(timer);
}
