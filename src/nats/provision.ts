import {
  AckPolicy,
  DeliverPolicy,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  type ConsumerConfig,
  type JetStreamManager,
  type StreamConfig,
} from "@nats-io/jetstream";
import { nanos } from "@nats-io/nats-core";
import type { AlertRoutingPolicy } from "../config/policies.js";
import type { Logger } from "../log.js";
import { streamSpecs, type Subjects, type StreamSpec } from "../subjects/index.js";

function isNotFound(err: unknown): boolean {
  return err instanceof JetStreamApiError && (err.code === 404 || /not found/i.test(err.message));
}

function toStreamConfig(spec: StreamSpec, replicas: number): Partial<StreamConfig> & { name: string } {
  return {
    name: spec.name,
    subjects: spec.subjects,
    description: spec.description,
    retention: spec.retention === "workqueue" ? RetentionPolicy.Workqueue : RetentionPolicy.Limits,
    storage: StorageType.File,
    max_age: nanos(spec.max_age_seconds * 1000),
    duplicate_window: nanos(spec.duplicate_window_seconds * 1000),
    num_replicas: replicas,
  };
}

/**
 * Creates each stream, or brings an existing one up to date with settings that are safe to change
 * (subjects are only ever added, limits only raised). Never deletes a stream or its data.
 */
export async function ensureStreams(jsm: JetStreamManager, subjects: Subjects, replicas: number, logger: Logger): Promise<void> {
  for (const spec of streamSpecs(subjects.naming)) {
    const want = toStreamConfig(spec, replicas);
    try {
      const info = await jsm.streams.info(spec.name);
      const have = info.config;
      const merged = [...new Set([...(have.subjects ?? []), ...spec.subjects])];
      const changes: Partial<StreamConfig> = {};
      if (merged.length !== (have.subjects ?? []).length) changes.subjects = merged;
      if (have.max_age !== 0 && have.max_age < (want.max_age ?? 0)) changes.max_age = want.max_age;
      if (have.duplicate_window < (want.duplicate_window ?? 0)) changes.duplicate_window = want.duplicate_window;
      if (have.retention !== want.retention) {
        logger.warn({ stream: spec.name, have: have.retention, want: want.retention }, "stream retention differs; left as is");
      }
      if (Object.keys(changes).length) {
        await jsm.streams.update(spec.name, { ...have, ...changes });
        logger.info({ stream: spec.name, changes: Object.keys(changes) }, "stream updated");
      }
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await jsm.streams.add(want);
      logger.info({ stream: spec.name }, "stream created");
    }
  }
}

/** What decides which optional consumers exist: `alertGroups`, some route says `notify: alert_groups`. */
export interface ConsumerNeeds {
  alertGroups: boolean;
}

export function consumerConfigs(subjects: Subjects, policy: AlertRoutingPolicy, needs: ConsumerNeeds): Array<{ stream: string; config: Partial<ConsumerConfig> }> {
  const all = allConsumerConfigs(subjects, policy);
  return needs.alertGroups ? all : all.filter(({ config }) => config.durable_name !== subjects.notify.groupsConsumer);
}

function allConsumerConfigs(subjects: Subjects, policy: AlertRoutingPolicy): Array<{ stream: string; config: Partial<ConsumerConfig> }> {
  const a = subjects.alerts;
  return [
    {
      stream: a.stream,
      config: {
        durable_name: a.ingestConsumer,
        description: "ingest: validate, dedupe, persist, then ack",
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ack_wait: nanos(policy.ingest.ack_wait_seconds * 1000),
        max_deliver: policy.ingest.max_deliver,
        max_ack_pending: policy.ingest.max_ack_pending,
      },
    },
    {
      stream: a.workStream,
      config: {
        durable_name: a.workConsumer,
        description: "alert work: claim = delivery, lock = ack_wait",
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ack_wait: nanos(policy.work.ack_wait_seconds * 1000),
        max_deliver: policy.work.max_deliver,
        max_ack_pending: 50_000,
      },
    },
    {
      stream: subjects.graphs.stream,
      config: {
        durable_name: subjects.graphs.consumer,
        description: "graph runs: a run whose worker dies is redelivered",
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        // A report is built in well under a second; a worker still at it heartbeats with +WPI.
        ack_wait: nanos(60_000),
        // Unlimited: kills and transient failures must not spend a run's budget. The worker ends a
        // run after MAX_ATTEMPTS deterministic failures or MAX_DELIVERIES deliveries with no outcome.
        max_deliver: -1,
        max_ack_pending: 1_000,
      },
    },
    {
      stream: subjects.jobs.stream,
      config: {
        durable_name: subjects.jobs.consumer,
        description: "job runner: a trigger is acked once its run is recorded; the ledger lease guards the run",
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ack_wait: nanos(60_000),
        max_deliver: 10,
        max_ack_pending: 1_000,
      },
    },
    {
      stream: subjects.notify.stream,
      config: {
        durable_name: subjects.notify.consumer,
        description: "notifiers: a notification is acked once its outcome is in the sent-log",
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        // A notifier says +WPI before each send; a killed one's notification comes back after this
        // (its sent-log claim, the receiver's timeout + 15 s, keeps a second notifier from sending meanwhile).
        ack_wait: nanos(30_000),
        // Unlimited: a kill is not an attempt; the notifier gives up after the receiver's max_attempts or give_up_after.
        max_deliver: -1,
        max_ack_pending: 10_000,
      },
    },
    {
      stream: subjects.events.stream,
      config: {
        durable_name: subjects.notify.plannerConsumer,
        description: "notification planner: incident moments in, outbox notifications out",
        ack_policy: AckPolicy.Explicit,
        // Created at first start-up: a new deployment does not page for the stream's 30 days of history.
        deliver_policy: DeliverPolicy.New,
        filter_subject: subjects.notify.plannerFilter,
        // Planning takes milliseconds: a killed planner's event goes to another soon.
        ack_wait: nanos(15_000),
        max_deliver: -1,
        max_ack_pending: 10_000,
      },
    },
    {
      stream: subjects.events.stream,
      config: {
        // Its own consumer: a 2.9 server has one filter subject per consumer, and alerts are not incidents.
        durable_name: subjects.notify.groupsConsumer,
        description: "alert-group planner: alert.accepted / alert.resolved in, alert groups' state (routes with notify: alert_groups) updated",
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.New,
        filter_subject: subjects.notify.groupsFilter,
        // An event is acked once its groups are stored; a killed planner's event goes to another soon.
        ack_wait: nanos(15_000),
        max_deliver: -1,
        max_ack_pending: 10_000,
      },
    },
  ];
}

/**
 * Creates the durable consumers or updates their timing settings to match policy. The alert-group
 * consumer exists only while a route asks for groups: without one nobody reads it, so a left-over
 * one (the routes changed) is removed rather than left to fill with every alert event.
 */
export async function ensureConsumers(jsm: JetStreamManager, subjects: Subjects, policy: AlertRoutingPolicy, needs: ConsumerNeeds, logger: Logger): Promise<void> {
  if (!needs.alertGroups) {
    const removed = await jsm.consumers.delete(subjects.events.stream, subjects.notify.groupsConsumer).catch((err: unknown) => {
      if (isNotFound(err)) return false;
      throw err;
    });
    if (removed) logger.info({ stream: subjects.events.stream, consumer: subjects.notify.groupsConsumer }, "no route asks for alert groups: their consumer removed");
  }
  for (const { stream, config } of consumerConfigs(subjects, policy, needs)) {
    const name = config.durable_name as string;
    try {
      const info = await jsm.consumers.info(stream, name);
      const c = info.config;
      if (c.ack_wait !== config.ack_wait || c.max_deliver !== config.max_deliver || c.max_ack_pending !== config.max_ack_pending) {
        await jsm.consumers.update(stream, name, {
          ack_wait: config.ack_wait,
          max_deliver: config.max_deliver,
          max_ack_pending: config.max_ack_pending,
        });
        logger.info({ stream, consumer: name }, "consumer updated to policy");
      }
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await jsm.consumers.add(stream, config);
      logger.info({ stream, consumer: name }, "consumer created");
    }
  }
}
