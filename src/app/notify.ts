/**
 * Notifications in a process: the routing tree and receivers from config, the planner and the
 * notifier over `ctx.sentLog` and the outbox stream, and the notifier role. Built once per Ctx:
 * the gateway's `notification_tool` (replays) and the role share one planner.
 */
import { listAllIncidents } from "../incidents/query.js";
import { plannedRoutes } from "../notify/plan.js";
import { compileRoutes } from "../notify/routes.js";
import type { BuiltReceiver } from "../notify/integrations/index.js";
import type { Notification } from "../notify/types.js";
import { Notifier } from "../workers/notifier.js";
import { makeOutcomeRecorder } from "../workers/notify-outcome.js";
import { NotifyPlanner } from "../workers/notify-planner.js";
import { startNotifyRole } from "../workers/notify-role.js";
import type { RunningWorker } from "../workers/types.js";
import type { Ctx } from "./context.js";
import { appDeps, perProcess } from "./deps.js";
import { ackLinkSignerOf, externalUrlOf, receiversOf } from "./receivers.js";

const enc = new TextEncoder();

/** What a route and a receiver look like to the planner and the notifier of this process. */
export interface NotifyParts {
  planner: NotifyPlanner;
  notifier: Notifier;
  receivers: ReadonlyMap<string, BuiltReceiver>;
}

export function notifyOf(ctx: Ctx): NotifyParts {
  return perProcess(ctx, "notify", () => {
    const logger = ctx.logger.child({ worker: "notifier" });
    const tree = compileRoutes(ctx.policies.notificationRoutes);
    const receivers = receiversOf(ctx);
    const externalUrl = externalUrlOf(ctx);
    const ackUrl = ackLinkSignerOf(ctx);
    const planner = new NotifyPlanner({
      incidents: ctx.stores.incidents,
      alerts: ctx.stores.alerts,
      sentLog: ctx.sentLog,
      routesFor: (incident, now) => plannedRoutes(tree, incident, now),
      receiver: (name) => receivers.state(name),
      enqueue: async (n: Notification) => {
        const msgID = n.replay === undefined ? n.key : `${n.key}:replay-${n.replay}`;
        await ctx.js.publish(ctx.subjects.notify.of(n.receiver), enc.encode(JSON.stringify(n)), { msgID });
      },
      ...(ackUrl ? { ackUrl } : {}),
      externalUrl,
      now: ctx.now,
      logger,
    });
    const notifier = new Notifier({
      sentLog: ctx.sentLog,
      incidents: ctx.stores.incidents,
      receiver: (name) => receivers.runtime(name),
      onOutcome: makeOutcomeRecorder({ incidents: ctx.stores.incidents, events: appDeps(ctx).events, ...(ctx.metrics ? { metrics: ctx.metrics } : {}), now: ctx.now, logger }),
      nodeId: `${ctx.env.NODE_ID}/${process.pid}`,
      now: ctx.now,
      logger,
    });
    return { planner, notifier, receivers: receivers.all };
  });
}

export function startNotifier(ctx: Ctx): Promise<RunningWorker> {
  const { planner, notifier } = notifyOf(ctx);
  return startNotifyRole({
    js: ctx.js,
    subjects: ctx.subjects,
    features: ctx.features,
    logger: ctx.logger,
    planner,
    notifier,
    openIncidents: () => listAllIncidents(ctx.stores.incidents, { status: ["open", "mitigating"] }, 10_000),
  });
}
