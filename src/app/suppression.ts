/**
 * What holds alerts back in a process: the live silences (`ctx.silences`, indexed again only when
 * one changes), the maintenance windows and the inhibit rules from config. Ingest evaluates new
 * firings against them; every gateway runs the release sweep on the lifecycle tick.
 */
import { startReleaseSweep, type SuppressDeps, type SuppressionRules } from "../alerts/suppress.js";
import { compileSilence, type CompiledSilence } from "../silences/silence-rules.js";
import { indexSilences, type SilenceIndex } from "../silences/suppression.js";
import type { Ctx } from "./context.js";
import { appDeps, perProcess } from "./deps.js";

function rulesOf(ctx: Ctx): () => SuppressionRules {
  return perProcess(ctx, "suppression-rules", () => {
    let index: SilenceIndex | undefined;
    let watching = false;
    const compile = (): SilenceIndex => {
      const compiled: CompiledSilence[] = [];
      for (const s of ctx.silences.current()) {
        try {
          compiled.push(compileSilence(s));
        } catch (err) {
          // Only a write that bypassed the API could store one; it must not stop every alert's check.
          ctx.logger.error({ err, silence_id: s.id }, "stored silence does not compile; ignored");
        }
      }
      return indexSilences(compiled);
    };
    const windows = ctx.policies.maintenanceWindows.windows;
    const inhibitRules = ctx.policies.inhibitRules.inhibit_rules;
    return () => {
      // Subscribed on first use: building the deps wires objects and touches no connection.
      if (!watching) watching = !!ctx.silences.onChange(() => (index = undefined));
      return { silences: (index ??= compile()), windows, inhibitRules };
    };
  });
}

export function suppressDeps(ctx: Ctx): SuppressDeps {
  return { store: ctx.stores.alerts, rules: rulesOf(ctx), now: ctx.now };
}

/** The release sweep on `alerts.resolve_sweep_seconds`, the tick the rest of the lifecycle uses; returns a stop function. */
export function startSuppressionRelease(ctx: Ctx): () => void {
  const { events } = appDeps(ctx);
  return startReleaseSweep(
    {
      ...suppressDeps(ctx),
      events,
      subjects: ctx.subjects,
      publishWork: async (subject, data, msgID) => void (await ctx.js.publish(subject, data, { msgID })),
      logger: ctx.logger.child({ component: "release-sweep" }),
    },
    ctx.policies.alertRouting.alerts.resolve_sweep_seconds,
  );
}
