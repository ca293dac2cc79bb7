/**
 * Stores that hold every record in process memory (the memory and JSONL backends, and `auto` while
 * on its JSONL fallback) keep working at any size, but their RAM grows with the data and their
 * whole-state scans slow down; past JSONL_WARN_RECORDS that is a health warning (not a problem:
 * `ok` stays true), shown by `opsbus verify` and logged once when a store crosses it.
 */
import { JSONL_WARN_RECORDS_DEFAULT, STORE_ENV_PREFIX, type StoreName } from "../config/env.js";
import type { Logger } from "../log.js";

/** What health reads of a store: memory and JSONL backends count their records; Postgres has no count. */
export interface StoreView {
  backendName: string;
  recordsInMemory?: number;
}

export type StoreViews = { alerts: StoreView; audit: StoreView } & Partial<Record<StoreName, StoreView>>;

/** One store above the limit. */
export interface StoreOverLimit {
  store: StoreName;
  records: number;
  warning: string;
}

const kindOf = (backendName: string) => (/^jsonl/i.test(backendName) ? "JSONL" : /^memory/i.test(backendName) ? "memory" : backendName);

/** Every store holding more than `limit` records in memory, with the warning health reports. */
export function storesOverLimit(stores: StoreViews, limit = JSONL_WARN_RECORDS_DEFAULT): StoreOverLimit[] {
  const out: StoreOverLimit[] = [];
  for (const store of Object.keys(STORE_ENV_PREFIX) as StoreName[]) {
    const view = stores[store];
    const records = view?.recordsInMemory;
    if (view === undefined || typeof records !== "number" || records <= limit) continue;
    const warning =
      `${store} store: ${kindOf(view.backendName)} holds ${records.toLocaleString("en-US")} records in memory ` +
      `(more than JSONL_WARN_RECORDS=${limit.toLocaleString("en-US")}); use Postgres (${STORE_ENV_PREFIX[store]}_BACKEND=postgres) at this size`;
    out.push({ store, records, warning });
  }
  return out;
}

/** Logs a store once when it crosses the limit (again only after it fell back under it). */
export class StoreMemoryWatch {
  private readonly over = new Set<StoreName>();

  constructor(
    private readonly stores: StoreViews,
    private readonly limit: number,
    private readonly logger: Logger,
  ) {}

  /** The warnings now; logs the stores that crossed the limit since the last call. */
  check(): string[] {
    const now = storesOverLimit(this.stores, this.limit);
    for (const o of now) {
      if (this.over.has(o.store)) continue;
      this.over.add(o.store);
      this.logger.warn({ store: o.store, records: o.records, limit: this.limit }, o.warning);
    }
    for (const store of this.over) if (!now.some((o) => o.store === store)) this.over.delete(store);
    return now.map((o) => o.warning);
  }
}
