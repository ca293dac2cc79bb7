/**
 * The notifier role: the planner's consume loop on incident events, the alert-group planner's on
 * alert events, the notifier's on the outbox, the repeat sweep and the alert-group flush sweep. Several processes may run it: the consumers are shared, and every write is
 * keyed (outbox message id, sent-log compare-and-set), so none pages twice for one moment.
 */
import type { JetStreamClient } from "@nats-io/jetstream";
import type { IncidentRecord } from "../incidents/store.js";
import type { Logger } from "../log.js";
import { consumeEach, UnreadableDelivery } from "../nats/consumer.js";
import type { ServerFeatures } from "../nats/features.js";
import type { Notification } from "../notify/types.js";
import type { Subjects } from "../subjects/index.js";
import { everyTick } from "../util/tick.js";
import { parseNotification, type Notifier } from "./notifier.js";
import type { GroupPlanner } from "./notify-groups.js";
import { readIncidentEvent, type NotifyPlanner } from "./notify-planner.js";
import type { RunningWorker } from "./types.js";

export const REPEAT_SWEEP_SECONDS = 30;
/** How often the alert-group sweep looks for due groups (Alertmanager's timers are this exact at best). */
export const GROUP_SWEEP_SECONDS = 1;

export interface NotifyRoleDeps {
  js: JetStreamClient;
  subjects: Subjects;
  features: ServerFeatures;
  logger: Logger;
  planner: NotifyPlanner;
  notifier: Notifier;
  /** Open incidents the repeat sweep looks at. */
  openIncidents(): Promise<IncidentRecord[]>;
  /** Sends at once per process (receivers' own rates and timeouts still apply). */
  concurrency?: number;
  repeatSweepSeconds?: number;
  /** Alert groups, when some route says `notify: alert_groups`. */
  groups?: GroupPlanner;
  groupSweepSeconds?: number;
}

export async function startNotifyRole(d: NotifyRoleDeps): Promise<RunningWorker> {
  const o = d.subjects.notify;
  const logger = d.logger.child({ worker: "notifier" });
  const planning = await consumeEach({
    js: d.js, stream: d.subjects.events.stream, consumer: o.plannerConsumer, logger: logger.child({ consumer: o.plannerConsumer }),
    label: "notification planning", features: d.features, concurrency: 16,
    parse: (m) => {
      const e = readIncidentEvent(m);
      if (!e) throw new UnreadableDelivery("not an event envelope");
      return e;
    },
    handle: async (e) => void (await d.planner.handleEvent(e)),
  });
  // Only while a route asks for alert groups: then their consumer exists (src/nats/provision.ts).
  let grouping: Awaited<ReturnType<typeof consumeEach>> | undefined;
  let sending: Awaited<ReturnType<typeof consumeEach<Notification>>>;
  try {
    const groups = d.groups;
    // The alert events that change an alert group, by subject.
    const grouped = new Set([d.subjects.events.of("alert.accepted"), d.subjects.events.of("alert.resolved")]);
    if (groups?.active) grouping = await consumeEach({
      js: d.js, stream: d.subjects.events.stream, consumer: o.groupsConsumer, logger: logger.child({ consumer: o.groupsConsumer }),
      label: "alert grouping", features: d.features, concurrency: 16,
      // Only alert.accepted and alert.resolved tell a group anything: the rest (a storm's
      // alert.deduped lists among them) are acked unread.
      parse: (m) => {
        if (!grouped.has(m.subject)) return undefined;
        const e = readIncidentEvent(m);
        if (!e) throw new UnreadableDelivery("not an event envelope");
        return e;
      },
      handle: async (e) => void (e && (await groups.handleEvent(e))),
    });
  } catch (err) {
    await planning.stop();
    throw err;
  }
  try {
    sending = await consumeEach<Notification>({
      js: d.js, stream: o.stream, consumer: o.consumer, logger: logger.child({ consumer: o.consumer }),
      label: "notification sending", features: d.features, concurrency: d.concurrency ?? 32,
      parse: (m) => parseNotification(m.data),
      handle: (n, h) => d.notifier.handle(n, h),
    });
  } catch (err) {
    await Promise.all([planning.stop(), grouping?.stop()]);
    throw err;
  }
  const stopSweep = everyTick(
    d.repeatSweepSeconds ?? REPEAT_SWEEP_SECONDS,
    async () => {
      const keys = await d.planner.sweepRepeats(await d.openIncidents());
      if (keys.length) logger.info({ repeats: keys.length }, "repeat notifications enqueued");
    },
    (err) => logger.warn({ err }, "repeat sweep failed; the next tick tries again"),
  );
  const groups = d.groups;
  const stopGroupSweep = !groups?.active ? () => undefined : everyTick(
    d.groupSweepSeconds ?? GROUP_SWEEP_SECONDS,
    async () => {
      const keys = await groups.sweep();
      if (keys.length) logger.info({ flushes: keys.length }, "alert group notifications enqueued");
    },
    (err) => logger.warn({ err }, "alert-group sweep failed; the next tick tries again"),
  );
  logger.info("notifier started");
  return {
    name: "notifier",
    abandon: () => planning.abandon() + (grouping?.abandon() ?? 0) + sending.abandon(),
    async stop() {
      stopSweep();
      stopGroupSweep();
      await Promise.all([planning.stop(), grouping?.stop(), sending.stop()]);
      logger.info("notifier stopped");
    },
  };
}
