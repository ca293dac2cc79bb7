/**
 * The receivers of a process, built once from config/receivers.yml and the environment (secrets by
 * env or file reference), plus what notifications link to: the public URL and signed ack links.
 */
import { ackLinksFrom, ackUrl } from "../notify/ack-link.js";
import { buildIntegrations, type BuiltReceiver } from "../notify/integrations/index.js";
import type { ReceiverState } from "../notify/plan.js";
import { DEFAULT_RETRY } from "../notify/delivery.js";
import type { ReceiverRuntime } from "../workers/notifier.js";
import { VERSION } from "../version.js";
import type { Ctx } from "./context.js";
import { perProcess } from "./deps.js";

export interface Receivers {
  all: ReadonlyMap<string, BuiltReceiver>;
  /** For the planner: the receiver's integration and alert cap, or why it is off. */
  state(name: string): ReceiverState | undefined;
  /** For the notifier: an enabled receiver, ready to send. */
  runtime(name: string): ReceiverRuntime | undefined;
}

export function receiversOf(ctx: Ctx): Receivers {
  return perProcess(ctx, "receivers", () => {
    const all = buildIntegrations(ctx.policies.receivers, { env: process.env, userAgent: `opsbus/${VERSION}`, logger: ctx.logger.child({ component: "receivers" }) });
    const runtimes = new Map<string, ReceiverRuntime>();
    for (const r of all.values()) {
      if (!r.integration) continue;
      const s = r.settings;
      runtimes.set(r.name, {
        integration: r.integration,
        settings: {
          ...DEFAULT_RETRY,
          maxAttempts: s.maxAttempts,
          giveUpAfterMs: s.giveUpAfterMs,
          timeoutMs: s.timeoutMs,
          ...(s.ratePerSecond !== undefined ? { ratePerSecond: s.ratePerSecond } : {}),
        },
      });
    }
    return {
      all,
      state(name) {
        const r = all.get(name);
        if (!r) return undefined;
        return r.disabled !== undefined ? { off: r.disabled } : { kind: r.kind, max_alerts: r.settings.maxAlerts };
      },
      runtime: (name) => runtimes.get(name),
    };
  });
}

/** Where people reach this deployment's HTTP listener (`externalURL` in webhook bodies, links). */
export function externalUrlOf(ctx: Ctx): string {
  const e = ctx.env;
  return (e.OPSBUS_PUBLIC_URL ?? (e.HTTP_PORT !== undefined ? `http://${e.HTTP_HOST}:${e.HTTP_PORT}` : "")).replace(/\/+$/, "");
}

/** Signs an ack link per notification, or undefined when links are off (staging/prod without OPSBUS_ACK_SECRET). */
export function ackLinkSignerOf(ctx: Ctx): ((incidentId: string, key: string) => string) | undefined {
  const links = ackLinksFrom(ctx.env);
  return links ? (incidentId, key) => ackUrl(links, incidentId, key, ctx.now()) : undefined;
}
