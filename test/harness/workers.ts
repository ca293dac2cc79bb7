/** Environment for opsbus worker processes on a suite-owned nats-server and Postgres database. */
import pg from "pg";
import { connect } from "@nats-io/transport-node";
import type { ConnectionOptions, NatsConnection } from "@nats-io/nats-core";
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { configDirWith } from "./config.js";

/**
 * Alert and incident stores on `dbUrl`, audit, risk, backlog and job ledger in memory, policy
 * overrides in a temp config dir (`{ "alert_routing_policy.yml": { work: { ack_wait_seconds: 3 } } }`),
 * a temp DATA_DIR (artifacts only: no store in it, so every worker of a suite may share it; a
 * JSONL store there would make the second process refuse to start), and no local nats-server.
 */
export function postgresWorkerEnv(natsUrl: string, dbUrl: string, policy: Record<string, Record<string, unknown>>, name: string): Record<string, string> {
  return {
    NATS_URL: natsUrl,
    ALERT_BACKEND: "postgres",
    ALERT_DATABASE_URL: dbUrl,
    INCIDENT_BACKEND: "postgres",
    INCIDENT_DATABASE_URL: dbUrl,
    AUDIT_BACKEND: "memory",
    RISK_BACKEND: "memory",
    BACKLOG_BACKEND: "memory",
    JOB_BACKEND: "memory",
    CONFIG_DIR: configDirWith(policy),
    DATA_DIR: mkdtempSync(join(tmpdir(), `opsbus-${name}-`)),
    OPSBUS_START_NATS: "0",
  };
}

/** The single number a `SELECT count(*) AS n …` returns. */
export async function countRows(db: pg.Client, sql: string): Promise<number> {
  return Number((await db.query<{ n: string }>(sql)).rows[0]!.n);
}

/** What a suite watches a worker fleet through: its own NATS connection and a Postgres client. */
export interface Observer {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  db: pg.Client;
  close(): Promise<void>;
}

/** `servers` may be a cluster's URLs; connection options (reconnects) pass through. */
export async function connectObserver(servers: string | string[], dbUrl: string, natsOpts: Partial<ConnectionOptions> = {}): Promise<Observer> {
  const nc = await connect({ servers, ...natsOpts });
  const db = new pg.Client({ connectionString: dbUrl });
  db.on("error", () => {}); // fault suites stop servers under it; queries then fail, which is enough
  await db.connect();
  return {
    nc,
    js: jetstream(nc),
    jsm: await jetstreamManager(nc),
    db,
    async close() {
      await db.end().catch(() => undefined);
      await nc.close();
    },
  };
}
