/**
 * Glossary of the store pattern (every domain store follows it):
 * - port: the store interface a domain needs, with its record types, in the domain folder
 *   (`alerts/store.ts`, `incidents/store.ts`, `jobs/ledger-store.ts`, …); it extends BaseStore
 *   and Replayable below, and the rules every backend applies sit beside it.
 * - backend: one implementation of a port, `src/stores/<store>/<memory|jsonl|postgres>.ts`, built
 *   only by `src/stores/factory.ts`.
 * - auto: Postgres, falling back to JSONL while Postgres is unreachable, retrying every
 *   STORE_RETRY_INTERVAL_SEC, and replaying what the fallback took into Postgres on recovery.
 * - row: a store's unit of replay, `{ kind, data }`; importing rows is idempotent (upsert by key).
 */

export interface BaseStore {
  /** e.g. `PostgresAlertStore`; logged as `<store>_store: using <backendName>`. */
  readonly backendName: string;
  init(): Promise<void>;
  close(): Promise<void>;
}

/** What `auto` needs to move data written to the fallback back into Postgres. */
export interface Replayable<Row> {
  exportRows(): Promise<Row[]>;
  /** Idempotent: importing the same rows twice leaves the same state. */
  importRows(rows: Row[]): Promise<void>;
  /** Empties the store after a successful replay. */
  clearRows(): Promise<void>;
}

/** Postgres backends answer a cheap query, so `auto` can tell when the database is back. */
export interface Pingable {
  ping(): Promise<void>;
}
