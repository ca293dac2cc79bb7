import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import type { RuntimeEnv } from "./config/env.js";
import type { Policies } from "./config/policies.js";
import type { Logger } from "./log.js";
import type { ProcessHealth } from "./observability/health.js";
import type { OpsMetrics } from "./observability/metrics/opsbus.js";
import type { AlertStore } from "./alerts/store.js";
import type { AuditStore } from "./audit/store.js";
import type { BacklogStore } from "./backlog/store.js";
import type { IncidentStore } from "./incidents/store.js";
import type { JobLedgerStore } from "./jobs/ledger-store.js";
import type { RiskHistoryStore } from "./risk/store.js";
import type { Subjects } from "./subjects/index.js";

/** What the JetStream server can do beyond the 2.9 baseline, read at start-up. */
export interface ServerFeatures {
  version: string;
  /** `term` with a reason is recorded by 2.10+; 2.9 ignores it silently. */
  termReason: boolean;
  /** Consumers with several filter subjects (2.10+). */
  multiFilter: boolean;
}

export interface Stores {
  alerts: AlertStore;
  audit: AuditStore;
  incidents: IncidentStore;
  backlog: BacklogStore;
  jobs: JobLedgerStore;
  risk: RiskHistoryStore;
}

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
  now(): Date;
  /** This process's metrics (GET /metrics, monitor status); absent in contexts built by hand. */
  metrics?: OpsMetrics;
  /** This process's health (its consumers, its audit writers); set by `startObservability`. */
  health?: ProcessHealth;
}
