/** What every Postgres store shares: migrations on init, a cheap ping for `auto`, closing its pool once. */
import type { Logger } from "../log.js";
import { migrate } from "./migrate.js";
import type { Pool } from "./pg.js";

export interface PostgresStoreOptions {
  pool: Pool;
  logger?: Logger;
  /** close() ends the pool. Default true. */
  ownsPool?: boolean;
}

export abstract class PostgresStore {
  protected readonly pool: Pool;
  private closed = false;

  constructor(protected readonly opts: PostgresStoreOptions) {
    this.pool = opts.pool;
  }

  async init(): Promise<void> {
    await migrate(this.pool, { log: (line) => this.opts.logger?.info(line) });
  }

  async ping(): Promise<void> {
    await this.pool.query("SELECT 1");
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.opts.ownsPool !== false) await this.pool.end();
  }
}

/** `WHERE …` from [sql with `$`, value] pairs whose value is defined; params get the values. */
export function where(params: unknown[], conds: Array<[string, unknown]>): string {
  const parts: string[] = [];
  for (const [cond, value] of conds) {
    if (value === undefined) continue;
    params.push(value);
    parts.push(cond.replace("$", `$${params.length}`));
  }
  return parts.length ? `WHERE ${parts.join(" AND ")}` : "";
}
