/**
 * Notifications in a process: the routing tree and receivers from config, the planner and the
 * notifier over `ctx.sentLog` and the outbox stream, and the notifier role (with the alert-group
 * planner over its KV bucket, opened when the role starts). Built once per Ctx:
 * the gateway's `notification_tool` (replays) and the role share one planner.
 */
import { evaluateSuppression } from "../alerts/suppress.js";
import { listAllIncidents } from "../incidents/query.js";
import { plannedRoutes } from "../notify/plan.js";
import { compileRoutes, usesAlertGroups, type RouteTree } from "../notify/routes.js";
import type { ReceiverState } from "../notify/plan.js";
import { openKvGroupStore } from "../stores/notify/groups-kv.js";
import { GroupPlanner } from "../workers/notify-groups.js";
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
import { suppressDeps } from "./suppression.js";

const enc = new TextEncoder();

/** What a route and a receiver look like to the planner and the notifier of this process. */
export interface NotifyParts {
  planner: NotifyPlanner;
  notifier: Notifier;
  receivers: ReadonlyMap<string, BuiltReceiver>;
  tree: RouteTree;
  receiverState(name: string): ReceiverState | undefined;
  externalUrl: string;
}

const enqueueOn = (ctx: Ctx) => async (n: Notification) => {
  const msgID = n.replay === undefined ? n.key : `${n.key}:replay-${n.replay}`;
  await ctx.js.publish(ctx.subjects.notify.of(n.receiver), enc.encode(JSON.stringify(n)), { msgID });
};

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
      enqueue: enqueueOn(ctx),
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
    return { planner, notifier, receivers: receivers.all, tree, receiverState: (name: string) => receivers.state(name), externalUrl };
  });
}

export async function startNotifier(ctx: Ctx): Promise<RunningWorker> {
  const { planner, notifier, tree, receiverState, externalUrl } = notifyOf(ctx);
  const openIncidents = () => listAllIncidents(ctx.stores.incidents, { status: ["open", "mitigating"] }, 10_000);
  const base = { js: ctx.js, subjects: ctx.subjects, features: ctx.features, logger: ctx.logger, planner, notifier, openIncidents };
  // No route asks for alert groups: no bucket, no consumer, no sweep.
  if (!usesAlertGroups(tree)) return startNotifyRole(base);
  const suppress = suppressDeps(ctx);
  const groupStore = await openKvGroupStore({ js: ctx.js, jsm: ctx.jsm, bucket: ctx.subjects.notify.groupsBucket, replicas: ctx.env.OPS_STREAM_REPLICAS, logger: ctx.logger });
  const groups = new GroupPlanner({
    alerts: ctx.stores.alerts,
    groups: groupStore,
    sentLog: ctx.sentLog,
    tree,
    receiver: receiverState,
    enqueue: enqueueOn(ctx),
    externalUrl,
    heldBack: async (alerts) => {
      const held = await evaluateSuppression(suppress, alerts.map((alert) => ({ alert_ref: alert.alert_ref, alert })));
      return new Set(alerts.flatMap((a) => (held.has(a.alert_ref) ? [a.fingerprint] : [])));
    },
    now: ctx.now,
    logger: ctx.logger.child({ worker: "notify-groups" }),
  });
  let role: RunningWorker;
  try {
    role = await startNotifyRole({ ...base, groups });
  } catch (err) {
    await groupStore.close();
    throw err;
  }
  return {
    ...role,
    async stop() {
      await role.stop();
      await groupStore.close();
    },
  };
}
