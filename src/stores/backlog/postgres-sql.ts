/** SQL of the Postgres backlog store and the row ↔ record mapping. Writes take batches as jsonb. */
import { iso, RetryTransaction, withRetry, withTransaction, type Pool, type PoolClient } from "../pg.js";
import type { BacklogEvent, BacklogItem } from "../../backlog/store.js";

/** Two writers creating one dedupe key at once: the loser's transaction runs again and finds it. */
const ATTEMPTS = 5;

export function tx<T>(pool: Pool, fn: (c: PoolClient) => Promise<T>): Promise<T> {
  return withRetry(
    () => withTransaction(pool, fn).catch((err: unknown) => {
      if ((err as { code?: unknown })?.code === "23505") throw new RetryTransaction(`dedupe key taken meanwhile: ${(err as Error).message}`);
      throw err;
    }),
    { attempts: ATTEMPTS },
  );
}

type Columns = ReadonlyArray<readonly [string, string]>;
const ITEM: Columns = [
  ["id", "text"], ["dedupe_key", "text"], ["env", "text"], ["service", "text"], ["category", "text"], ["title", "text"],
  ["description", "text"], ["priority", "text"], ["status", "text"], ["owner", "text"], ["due_date", "date"], ["source", "text"],
  ["meta", "jsonb"], ["created_by", "text"], ["created_at", "timestamptz"], ["updated_at", "timestamptz"],
];
const EVENT: Columns = [["id", "text"], ["item_id", "text"], ["ts", "timestamptz"], ["type", "text"], ["message", "text"], ["actor", "text"], ["meta", "jsonb"]];

const names = (cols: Columns) => cols.map(([c]) => c).join(", ");
const excluded = (cols: Columns) => cols.map(([c]) => `EXCLUDED.${c}`).join(", ");
const recordset = (param: string, cols: Columns, extra = "") => `jsonb_to_recordset(${param}::jsonb) AS x(${cols.map(([c, t]) => `${c} ${t}`).join(", ")}${extra})`;

/** Every item column, due_date as YYYY-MM-DD text (a `date` would come back as a local Date). */
export const ITEM_COLUMNS = ITEM.map(([c]) => (c === "due_date" ? "to_char(due_date, 'YYYY-MM-DD') AS due_date" : c)).join(", ");

const upsertItems = (n: string, onlyNewer: boolean) => `
  INSERT INTO backlog_items (${names(ITEM)}) SELECT ${names(ITEM)} FROM ${recordset(n, ITEM)} ORDER BY id COLLATE "C"
  ON CONFLICT (id) DO UPDATE SET (${names(ITEM)}) = (${excluded(ITEM)})
  ${onlyNewer ? "WHERE EXCLUDED.updated_at >= backlog_items.updated_at" : ""}`;

/**
 * Events from jsonb `$n` with `ord` (their position). `onlyKnownItems` (import) drops events of
 * items that do not exist; WRITE must not filter, since its own items are invisible to it until
 * the statement ends (the FK is checked then).
 */
const insertEvents = (n: string, onlyKnownItems: boolean) => `
  INSERT INTO backlog_events (${names(EVENT)})
  SELECT ${names(EVENT)} FROM ${recordset(n, EVENT, ", ord integer")}
  ${onlyKnownItems ? "WHERE EXISTS (SELECT 1 FROM backlog_items i WHERE i.id = x.item_id)" : ""}
  ORDER BY ord ON CONFLICT (id) DO NOTHING`;

/** $1 items, $2 events (jsonb arrays), in one statement; FKs are checked at its end. */
export const WRITE = `
  WITH it AS (${upsertItems("$1", false)} RETURNING 1),
  ev AS (${insertEvents("$2", false)} RETURNING 1)
  SELECT (SELECT count(*) FROM it)::int AS items, (SELECT count(*) FROM ev)::int AS events`;

export const IMPORT_ITEMS = upsertItems("$1", true);
export const IMPORT_EVENTS = insertEvents("$1", true);

export function eventsJson(events: BacklogEvent[]): string {
  return JSON.stringify(events.map((e, ord) => ({ ...e, ord })));
}

export function toItem(row: Record<string, unknown>): BacklogItem {
  return { ...(row as unknown as BacklogItem), created_at: iso(row.created_at), updated_at: iso(row.updated_at), meta: (row.meta ?? {}) as Record<string, unknown> };
}

export function toEvent(row: Record<string, unknown>): BacklogEvent {
  const { seq: _seq, ...rest } = row;
  return { ...(rest as unknown as BacklogEvent), ts: iso(row.ts), meta: (row.meta ?? {}) as Record<string, unknown> };
}
