import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import type { AlertStore } from "../../alerts/store.js";
import type { Policies } from "../../config/policies.js";
import type { Subjects } from "../../subjects/index.js";

/** What the Alertmanager API needs besides the gateway core (auth, RBAC, audit). */
export interface AlertmanagerDeps {
  /** For the NATS max_payload a batch must fit in. */
  nc: Pick<NatsConnection, "info">;
  js: JetStreamClient;
  /** `/-/ready` asks JetStream for the account info: ready only when it answers. */
  jsm: Pick<JetStreamManager, "getAccountInfo">;
  subjects: Subjects;
  alerts: Pick<AlertStore, "list">;
  policies: Pick<Policies, "alertRouting" | "intake">;
  now?: () => Date;
  /** Reported as `uptime` by /api/v2/status (Alertmanager's start time); default the plugin's start. */
  startedAt?: Date;
}
