/**
 * Builds a store from its environment (`<PREFIX>_BACKEND`, `<PREFIX>_DATABASE_URL`): memory
 * (refused in prod), jsonl (`<DATA_DIR>/<store>.jsonl`), postgres, or auto (Postgres with a JSONL
 * fallback under `<DATA_DIR>/fallback/<store>/`, or plain JSONL when no DSN is set). Stores come
 * back initialised; the choice is logged as `<store>_store: using <Backend>`.
 *
 * Two tables: STORES has one row per store naming its backend classes, BACKENDS one entry per
 * backend kind saying how it is built. A new backend kind is one file per store, its column in
 * StoreRow and each row, and its entry in BACKENDS (and in config's list); a new store is a row.
 */
import { join } from "node:path";
import { ConfigError } from "../config/errors.js";
import type { BackendKind, OpsEnv, StoreEnv, StoreName } from "../config/env.js";
import type { AlertStore } from "../alerts/store.js";
import type { AuditStore } from "../audit/store.js";
import type { BacklogStore } from "../backlog/store.js";
import type { IncidentStore } from "../incidents/store.js";
import type { JobLedgerStore } from "../jobs/ledger-store.js";
import type { RiskHistoryStore } from "../risk/store.js";
import { STORE_ENV_PREFIX } from "../config/env.js";
import { maskDsn, type Logger } from "../log.js";
import type { Pingable } from "../util/store-port.js";
import { JsonlAlertStore } from "./alerts/jsonl.js";
import { MemoryAlertStore } from "./alerts/memory.js";
import { PostgresAlertStore } from "./alerts/postgres.js";
import { JsonlAuditStore } from "./audit/jsonl.js";
import { MemoryAuditStore } from "./audit/memory.js";
import { PostgresAuditStore } from "./audit/postgres.js";
import { createAutoStore, type ReplayableStore } from "./auto.js";
import { JsonlBacklogStore } from "./backlog/jsonl.js";
import { MemoryBacklogStore } from "./backlog/memory.js";
import { PostgresBacklogStore } from "./backlog/postgres.js";
import { JsonlIncidentStore } from "./incidents/jsonl.js";
import { MemoryIncidentStore } from "./incidents/memory.js";
import { PostgresIncidentStore } from "./incidents/postgres.js";
import { JsonlJobLedgerStore } from "./jobs/jsonl.js";
import { MemoryJobLedgerStore } from "./jobs/memory.js";
import { PostgresJobLedgerStore } from "./jobs/postgres.js";
import { createPool, type Pool } from "./pg.js";
import { JsonlRiskHistoryStore } from "./risk/jsonl.js";
import { MemoryRiskHistoryStore } from "./risk/memory.js";
import { PostgresRiskHistoryStore } from "./risk/postgres.js";

export interface StoreFactoryOptions {
  env: StoreEnv;
  opsEnv: OpsEnv;
  dataDir: string;
  logger: Logger;
  /** How often `auto` tries to get back to Postgres while on its fallback. */
  retryIntervalMs: number;
}

/** One store: its names and a class per backend (each takes the options its kind hands it). */
interface StoreRow<S extends ReplayableStore> {
  /** `alert` → log lines `alert_store: …`. */
  logName: string;
  /** The JSONL file under DATA_DIR (and under DATA_DIR/fallback/<store>/ for auto). */
  file: string;
  memory: new () => S;
  jsonl: new (opts: { path: string; logger: Logger }) => S;
  postgres: new (opts: { pool: Pool; logger: Logger }) => S & Pingable;
}

/** One store of each kind, as a process uses them. */
export interface Stores {
  alerts: AlertStore;
  audit: AuditStore;
  incidents: IncidentStore;
  backlog: BacklogStore;
  jobs: JobLedgerStore;
  risk: RiskHistoryStore;
}

const STORES: { [K in StoreName]: StoreRow<Stores[K]> } = {
  alerts:    { logName: "alert",        file: "alerts.jsonl",       memory: MemoryAlertStore,       jsonl: JsonlAlertStore,       postgres: PostgresAlertStore },
  audit:     { logName: "audit",        file: "audit.jsonl",        memory: MemoryAuditStore,       jsonl: JsonlAuditStore,       postgres: PostgresAuditStore },
  incidents: { logName: "incident",     file: "incidents.jsonl",    memory: MemoryIncidentStore,    jsonl: JsonlIncidentStore,    postgres: PostgresIncidentStore },
  jobs:      { logName: "job",          file: "job_runs.jsonl",     memory: MemoryJobLedgerStore,   jsonl: JsonlJobLedgerStore,   postgres: PostgresJobLedgerStore },
  risk:      { logName: "risk_history", file: "risk_history.jsonl", memory: MemoryRiskHistoryStore, jsonl: JsonlRiskHistoryStore, postgres: PostgresRiskHistoryStore },
  backlog:   { logName: "backlog",      file: "backlog.jsonl",      memory: MemoryBacklogStore,     jsonl: JsonlBacklogStore,     postgres: PostgresBacklogStore },
};

/** What building one store needs besides its row. */
interface Build {
  name: StoreName;
  opts: StoreFactoryOptions;
  /** The store's child logger, handed to the backend. */
  logger: Logger;
  /** A pool for the configured DSN; throws a ConfigError naming the variables when there is none. */
  pool(): Pool;
}

type Builder = <S extends ReplayableStore>(row: StoreRow<S>, b: Build) => Promise<S>;

const jsonlPath = (b: Build, file: string) => join(b.opts.dataDir, file);

/** One entry per backend kind (`<PREFIX>_BACKEND`). */
const BACKENDS: Record<BackendKind, Builder> = {
  memory: (row, b) => {
    if (b.opts.opsEnv === "prod") {
      throw new ConfigError("environment", [
        `${STORE_ENV_PREFIX[b.name]}_BACKEND=memory is refused when OPS_ENV=prod (everything is lost on restart); use postgres, auto or jsonl`,
      ]);
    }
    return ready(new row.memory(), row, b);
  },
  jsonl: (row, b) => ready(new row.jsonl({ path: jsonlPath(b, row.file), logger: b.logger }), row, b),
  postgres: (row, b) => ready(new row.postgres({ pool: b.pool(), logger: b.logger }), row, b),
  auto: async (row, b) => {
    if (!b.opts.env.databaseUrl) return BACKENDS.jsonl(row, b);
    const primary = new row.postgres({ pool: b.pool(), logger: b.logger });
    try {
      return await createAutoStore({
        storeName: row.logName,
        primary,
        // Its own directory, so it never mixes with a configured JSONL store's file. Replay
        // quarantines what Postgres refuses in `quarantine.jsonl` beside it (auto's default).
        fallback: async () => new row.jsonl({ path: jsonlPath(b, join("fallback", b.name, row.file)), logger: b.logger }),
        logger: b.opts.logger,
        retryIntervalMs: b.opts.retryIntervalMs,
      });
    } catch (err) {
      await primary.close().catch(() => {});
      throw err;
    }
  },
};

/** The store `name`, built and initialised as its environment says. */
export async function createStore<K extends StoreName>(name: K, opts: StoreFactoryOptions): Promise<Stores[K]> {
  const row: StoreRow<Stores[K]> = STORES[name];
  const { backend, databaseUrl } = opts.env;
  const logger = opts.logger.child({ store: row.logName });
  const where = databaseUrl ? ` at ${maskDsn(databaseUrl)}` : "";
  // `target`, not `dsn`: the logger redacts `dsn` entirely; this value is already masked.
  opts.logger.info(
    { store: row.logName, backend, ...(databaseUrl ? { target: maskDsn(databaseUrl) } : {}) },
    `${row.logName}_store: backend ${backend}${where}`,
  );
  const pool = (): Pool => {
    const prefix = STORE_ENV_PREFIX[name];
    if (!databaseUrl) throw new ConfigError("environment", [`${prefix}_BACKEND=postgres needs ${prefix}_DATABASE_URL or DATABASE_URL`]);
    return createPool(databaseUrl, { appName: `opsbus-${name}`, logger });
  };
  return BACKENDS[backend](row, { name, opts, logger, pool });
}

export const createAlertStore = (opts: StoreFactoryOptions) => createStore("alerts", opts);
export const createAuditStore = (opts: StoreFactoryOptions) => createStore("audit", opts);
export const createIncidentStore = (opts: StoreFactoryOptions) => createStore("incidents", opts);
/** The job runner's run ledger (`JOB_BACKEND`, `JOB_DATABASE_URL`). */
export const createJobLedgerStore = (opts: StoreFactoryOptions) => createStore("jobs", opts);
export const createRiskHistoryStore = (opts: StoreFactoryOptions) => createStore("risk", opts);
export const createBacklogStore = (opts: StoreFactoryOptions) => createStore("backlog", opts);

/** The order stores open in (and their lines appear in the log). */
const OPEN_ORDER: readonly StoreName[] = ["alerts", "audit", "incidents", "backlog", "jobs", "risk"];

/**
 * Every store of the context, in order; if one cannot start, the ones already open are closed
 * before the error is thrown (no pools left behind).
 */
export async function createStores(opts: Omit<StoreFactoryOptions, "env">, env: Record<StoreName, StoreEnv>): Promise<{ stores: Stores; close(): Promise<void> }> {
  const opened: Array<{ close(): Promise<void> }> = [];
  try {
    const stores: Partial<Record<StoreName, Stores[StoreName]>> = {};
    for (const name of OPEN_ORDER) {
      const store = await createStore(name, { ...opts, env: env[name] });
      opened.push(store);
      stores[name] = store;
    }
    return { stores: stores as Stores, close: () => closeAll(opened) };
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

async function ready<S extends ReplayableStore>(store: S, row: StoreRow<S>, b: Build): Promise<S> {
  try {
    await store.init();
  } catch (err) {
    await store.close().catch(() => {});
    throw err;
  }
  b.opts.logger.info({ store: row.logName, backend: store.backendName }, `${row.logName}_store: using ${store.backendName}`);
  return store;
}
