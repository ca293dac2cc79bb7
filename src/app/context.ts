import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import type { RuntimeEnv } from "../config/env.js";
import type { Policies } from "../config/policies.js";
import type { Logger } from "../log.js";
import type { ProcessHealth } from "../observability/health.js";
import type { OpsMetrics } from "../observability/metrics/opsbus.js";
import type { Subjects } from "../subjects/index.js";
import type { ServerFeatures } from "../nats/features.js";
import type { Stores } from "../stores/factory.js";
import type { SilenceStore } from "../silences/store.js";
import type { SentLog } from "../notify/sent-log.js";

export type { ServerFeatures };
export type { Stores };


/** Everything a worker or tool needs, built once by main.ts and passed down. */
export interface Ctx {
  env: RuntimeEnv;
  policies: Policies;
  subjects: Subjects;
  logger: Logger;
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  features: ServerFeatures;
  stores: Stores;
  /** Every silence, live: a JetStream KV bucket every process watches (`current()`, `onChange`). */
  silences: SilenceStore;
  /** The notification sent-log: a JetStream KV bucket every notifier and the tool API read and write. */
  sentLog: SentLog;
  now(): Date;
  /** This process's metrics (GET /metrics, monitor status); absent in contexts built by hand. */
  metrics?: OpsMetrics;
  /** This process's health (its consumers, its audit writers); set by `startObservability`. */
  health?: ProcessHealth;
}
