/**
 * Builds a store from its environment (`<PREFIX>_BACKEND`, `<PREFIX>_DATABASE_URL`): memory
 * (refused in prod), jsonl (`<DATA_DIR>/<store>.jsonl`), postgres, or auto (Postgres with a JSONL
 * fallback under `<DATA_DIR>/fallback/<store>/`, or plain JSONL when no DSN is set). Stores come
 * back initialised; the choice is logged as `<store>_store: using <Backend>`.
 */
import { join } from "node:path";
import { ConfigError } from "../config/errors.js";
import type { OpsEnv, StoreEnv, StoreName } from "../config/env.js";
import type { Stores } from "../context.js";
import { STORE_ENV_PREFIX } from "../config/env.js";
import { maskDsn, type Logger } from "../log.js";
import { JsonlAlertStore } from "./alerts/jsonl.js";
import { MemoryAlertStore } from "./alerts/memory.js";
import { PostgresAlertStore } from "./alerts/postgres.js";
import type { AlertStore } from "../alerts/store.js";
import { JsonlAuditStore } from "./audit/jsonl.js";
import { MemoryAuditStore } from "./audit/memory.js";
import { PostgresAuditStore } from "./audit/postgres.js";
import type { AuditStore } from "../audit/store.js";
import { createAutoStore, type ReplayableStore } from "./auto.js";
import { JsonlBacklogStore } from "./backlog/jsonl.js";
import { MemoryBacklogStore } from "./backlog/memory.js";
import { PostgresBacklogStore } from "./backlog/postgres.js";
import type { BacklogStore } from "../backlog/store.js";
import { JsonlIncidentStore } from "./incidents/jsonl.js";
import { MemoryIncidentStore } from "./incidents/memory.js";
import { PostgresIncidentStore } from "./incidents/postgres.js";
import type { IncidentStore } from "../incidents/store.js";
import { JsonlJobLedgerStore } from "./jobs/jsonl.js";
import { MemoryJobLedgerStore } from "./jobs/memory.js";
import { PostgresJobLedgerStore } from "./jobs/postgres.js";
import type { JobLedgerStore } from "../jobs/ledger-store.js";
import { createPool, type Pool } from "./pg.js";
import { JsonlRiskHistoryStore } from "./risk/jsonl.js";
import { MemoryRiskHistoryStore } from "./risk/memory.js";
import { PostgresRiskHistoryStore } from "./risk/postgres.js";
import type { RiskHistoryStore } from "../risk/store.js";
import type { Pingable } from "../util/store-port.js";

export interface StoreFactoryOptions {
  env: StoreEnv;
  opsEnv: OpsEnv;
  dataDir: string;
  logger: Logger;
  /** How often `auto` tries to get back to Postgres while on its fallback. */
  retryIntervalMs: number;
}

interface StoreSpec<S extends ReplayableStore> {
  name: StoreName;
  /** `alert` → log lines `alert_store: …`. */
  logName: string;
  file: string;
  memory: () => S;
  jsonl: (path: string, logger: Logger) => S;
  postgres: (pool: Pool, logger: Logger) => S & Pingable;
}

const ALERTS: StoreSpec<AlertStore> = {
  name: "alerts",
  logName: "alert",
  file: "alerts.jsonl",
  memory: () => new MemoryAlertStore(),
  jsonl: (path, logger) => new JsonlAlertStore({ path, logger }),
  postgres: (pool, logger) => new PostgresAlertStore({ pool, logger }),
};

const AUDIT: StoreSpec<AuditStore> = {
  name: "audit",
  logName: "audit",
  file: "audit.jsonl",
  memory: () => new MemoryAuditStore(),
  jsonl: (path, logger) => new JsonlAuditStore({ path, logger }),
  postgres: (pool, logger) => new PostgresAuditStore({ pool, logger }),
};

const INCIDENTS: StoreSpec<IncidentStore> = {
  name: "incidents",
  logName: "incident",
  file: "incidents.jsonl",
  memory: () => new MemoryIncidentStore(),
  jsonl: (path, logger) => new JsonlIncidentStore({ path, logger }),
  postgres: (pool, logger) => new PostgresIncidentStore({ pool, logger }),
};

const JOBS: StoreSpec<JobLedgerStore> = {
  name: "jobs",
  logName: "job",
  file: "job_runs.jsonl",
  memory: () => new MemoryJobLedgerStore(),
  jsonl: (path, logger) => new JsonlJobLedgerStore({ path, logger }),
  postgres: (pool, logger) => new PostgresJobLedgerStore({ pool, logger }),
};

const RISK_HISTORY: StoreSpec<RiskHistoryStore> = {
  name: "risk",
  logName: "risk_history",
  file: "risk_history.jsonl",
  memory: () => new MemoryRiskHistoryStore(),
  jsonl: (path, logger) => new JsonlRiskHistoryStore({ path, logger }),
  postgres: (pool, logger) => new PostgresRiskHistoryStore({ pool, logger }),
};

const BACKLOG: StoreSpec<BacklogStore> = {
  name: "backlog",
  logName: "backlog",
  file: "backlog.jsonl",
  memory: () => new MemoryBacklogStore(),
  jsonl: (path, logger) => new JsonlBacklogStore({ path, logger }),
  postgres: (pool, logger) => new PostgresBacklogStore({ pool, logger }),
};

export function createAlertStore(opts: StoreFactoryOptions): Promise<AlertStore> {
  return createStore(ALERTS, opts);
}

export function createAuditStore(opts: StoreFactoryOptions): Promise<AuditStore> {
  return createStore(AUDIT, opts);
}

export function createIncidentStore(opts: StoreFactoryOptions): Promise<IncidentStore> {
  return createStore(INCIDENTS, opts);
}

/** The job runner's run ledger (`JOB_BACKEND`, `JOB_DATABASE_URL`). */
export function createJobLedgerStore(opts: StoreFactoryOptions): Promise<JobLedgerStore> {
  return createStore(JOBS, opts);
}

export function createRiskHistoryStore(opts: StoreFactoryOptions): Promise<RiskHistoryStore> {
  return createStore(RISK_HISTORY, opts);
}

export function createBacklogStore(opts: StoreFactoryOptions): Promise<BacklogStore> {
  return createStore(BACKLOG, opts);
}

/**
 * Every store of the context, in order; if one cannot start, the ones already open are closed
 * before the error is thrown (no pools left behind).
 */
export async function createStores(opts: Omit<StoreFactoryOptions, "env">, env: Record<StoreName, StoreEnv>): Promise<{ stores: Stores; close(): Promise<void> }> {
  const opened: Array<{ close(): Promise<void> }> = [];
  const open = async <S extends { close(): Promise<void> }>(make: Promise<S>): Promise<S> => {
    const store = await make;
    opened.push(store);
    return store;
  };
  try {
    const stores: Stores = {
      alerts: await open(createAlertStore({ ...opts, env: env.alerts })),
      audit: await open(createAuditStore({ ...opts, env: env.audit })),
      incidents: await open(createIncidentStore({ ...opts, env: env.incidents })),
      backlog: await open(createBacklogStore({ ...opts, env: env.backlog })),
      jobs: await open(createJobLedgerStore({ ...opts, env: env.jobs })),
      risk: await open(createRiskHistoryStore({ ...opts, env: env.risk })),
    };
    return { stores, close: () => closeAll(opened) };
  } catch (err) {
    await closeAll(opened).catch(() => undefined);
    throw err;
  }
}

async function closeAll(stores: Array<{ close(): Promise<void> }>): Promise<void> {
  const results = await Promise.allSettled(stores.map((st) => st.close()));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
}

async function ready<S extends ReplayableStore>(store: S, spec: StoreSpec<S>, logger: Logger): Promise<S> {
  try {
    await store.init();
  } catch (err) {
    await store.close().catch(() => {});
    throw err;
  }
  logger.info({ store: spec.logName, backend: store.backendName }, `${spec.logName}_store: using ${store.backendName}`);
  return store;
}

async function createStore<S extends ReplayableStore>(spec: StoreSpec<S>, opts: StoreFactoryOptions): Promise<S> {
  const prefix = STORE_ENV_PREFIX[spec.name];
  const { backend, databaseUrl } = opts.env;
  const logger = opts.logger.child({ store: spec.logName });
  const where = databaseUrl ? ` at ${maskDsn(databaseUrl)}` : "";
  // `target`, not `dsn`: the logger redacts `dsn` entirely; this value is already masked.
  opts.logger.info(
    { store: spec.logName, backend, ...(databaseUrl ? { target: maskDsn(databaseUrl) } : {}) },
    `${spec.logName}_store: backend ${backend}${where}`,
  );
  const pool = (url: string) => createPool(url, { appName: `opsbus-${spec.name}`, logger });

  switch (backend) {
    case "memory":
      if (opts.opsEnv === "prod") {
        throw new ConfigError("environment", [
          `${prefix}_BACKEND=memory is refused when OPS_ENV=prod (everything is lost on restart); use postgres, auto or jsonl`,
        ]);
      }
      return ready(spec.memory(), spec, opts.logger);
    case "jsonl":
      return ready(spec.jsonl(join(opts.dataDir, spec.file), logger), spec, opts.logger);
    case "postgres":
      if (!databaseUrl) {
        throw new ConfigError("environment", [`${prefix}_BACKEND=postgres needs ${prefix}_DATABASE_URL or DATABASE_URL`]);
      }
      return ready(spec.postgres(pool(databaseUrl), logger), spec, opts.logger);
    case "auto":
      if (!databaseUrl) return ready(spec.jsonl(join(opts.dataDir, spec.file), logger), spec, opts.logger);
      return auto(spec, opts, spec.postgres(pool(databaseUrl), logger), logger);
  }
}

async function auto<S extends ReplayableStore>(spec: StoreSpec<S>, opts: StoreFactoryOptions, primary: S & Pingable, logger: Logger): Promise<S> {
  try {
    return await createAutoStore<S>({
      storeName: spec.logName,
      primary,
      // Its own directory, so it never mixes with a configured JSONL store's file.
      fallback: async () => spec.jsonl(join(opts.dataDir, "fallback", spec.name, spec.file), logger),
      logger: opts.logger,
      retryIntervalMs: opts.retryIntervalMs,
    });
  } catch (err) {
    await primary.close().catch(() => {});
    throw err;
  }
}
