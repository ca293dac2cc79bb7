/**
 * The silence service of a process (one per Ctx, over `ctx.silences`, the live KV-backed store)
 * and its retention sweep. Suppression at ingest reads `ctx.silences.current()` directly.
 */
import { SilenceService } from "../silences/service.js";
import type { Ctx } from "./context.js";
import { appDeps, perProcess } from "./deps.js";

/** How often a gateway deletes silences past `alerts.silence_retention_hours` (any number may: each delete is compare-and-set). */
export const SILENCE_SWEEP_INTERVAL_MS = 10 * 60_000;

export function silenceServiceOf(ctx: Ctx): SilenceService {
  return perProcess(ctx, "silences", () =>
    new SilenceService({
      store: ctx.silences,
      alerts: ctx.stores.alerts,
      events: appDeps(ctx).events,
      retentionHours: ctx.policies.alertRouting.alerts.silence_retention_hours,
      logger: ctx.logger,
      now: ctx.now,
    }),
  );
}

/**
 * Sweeps now and every SILENCE_SWEEP_INTERVAL_MS, and on the lifecycle tick
 * (`alerts.resolve_sweep_seconds`) announces the silences whose end passed since the last tick;
 * returns a stop function.
 */
export function startSilenceSweep(ctx: Ctx): () => void {
  const service = silenceServiceOf(ctx);
  const sweep = () => void service.sweep().catch((err: unknown) => ctx.logger.warn({ err }, "silence retention sweep failed; next round retries"));
  sweep();
  const timer = setInterval(sweep, SILENCE_SWEEP_INTERVAL_MS);
  timer.unref();
  const tickMs = ctx.policies.alertRouting.alerts.resolve_sweep_seconds * 1000;
  // Ends while no gateway ran are not announced; a failed round is tried again from the same start.
  let since = new Date(ctx.now().getTime() - tickMs);
  const announce = () => {
    const now = ctx.now();
    service.announceEnded(since, now).then(
      () => void (since = now),
      (err: unknown) => ctx.logger.warn({ err }, "announcing ended silences failed; next tick retries"),
    );
  };
  const ends = setInterval(announce, tickMs);
  ends.unref();
  return () => {
    clearInterval(timer);
    clearInterval(ends);
  };
}
