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

/** Sweeps now and every SILENCE_SWEEP_INTERVAL_MS; returns a stop function. */
export function startSilenceSweep(ctx: Ctx): () => void {
  const service = silenceServiceOf(ctx);
  const sweep = () => void service.sweep().catch((err: unknown) => ctx.logger.warn({ err }, "silence retention sweep failed; next round retries"));
  sweep();
  const timer = setInterval(sweep, SILENCE_SWEEP_INTERVAL_MS);
  timer.unref();
  return () => clearInterval(timer);
}
