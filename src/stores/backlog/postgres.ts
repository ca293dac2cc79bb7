/**
 * Backlog in Postgres. Each write is one transaction: lock the rows it reads (FOR UPDATE), run the
 * same planner as every backend, write items and events in one statement. `dedupe_key` is UNIQUE:
 * two writers creating one key at once → the loser runs again and updates the winner's item.
 */
import { PostgresStore, type PostgresStoreOptions, where } from "../postgres-store.js";
import type { BacklogTransitions } from "../../config/backlog-policy.js";
import { invalid, notFound } from "../../errors.js";
import type { PoolClient } from "../pg.js";
import { clampLimit, mergeImport, newEvent, planStatus, planUpsert } from "../../backlog/item-plans.js";
import * as SQL from "./postgres-sql.js";
import { ITEM_COLUMNS, tx } from "./postgres-sql.js";
import type { BacklogEvent, BacklogItem, BacklogQuery, BacklogRow, BacklogStatus, BacklogStore, BacklogUpsert, UpsertResult } from "../../backlog/store.js";

export type PostgresBacklogStoreOptions = PostgresStoreOptions;

const IMPORT_CHUNK = 1000;

export class PostgresBacklogStore extends PostgresStore implements BacklogStore {
  readonly backendName = "PostgresBacklogStore";

  private async write(c: PoolClient, items: BacklogItem[], events: BacklogEvent[]): Promise<void> {
    if (!items.length && !events.length) return;
    await c.query(SQL.WRITE, [JSON.stringify(items), SQL.eventsJson(events)]);
  }

  private async locked(c: PoolClient, id: string): Promise<BacklogItem> {
    const r = await c.query(`SELECT ${ITEM_COLUMNS} FROM backlog_items WHERE id = $1 FOR UPDATE`, [id]);
    if (!r.rows[0]) throw notFound(`backlog item ${id} not found`, { item_id: id });
    return SQL.toItem(r.rows[0]);
  }

  upsert(inputs: BacklogUpsert[], by: string, now: Date): Promise<UpsertResult[]> {
    if (inputs.length === 0) return Promise.resolve([]);
    return tx(this.pool, async (c) => {
      const keys = [...new Set(inputs.map((i) => i.dedupe_key))].sort();
      const r = await c.query(`SELECT ${ITEM_COLUMNS} FROM backlog_items WHERE dedupe_key = ANY($1::text[]) ORDER BY dedupe_key COLLATE "C" FOR UPDATE`, [keys]);
      const known = new Map(r.rows.map((row) => [row.dedupe_key as string, SQL.toItem(row)]));
      const results: UpsertResult[] = [];
      const events: BacklogEvent[] = [];
      for (const input of inputs) {
        const { result, event } = planUpsert(known.get(input.dedupe_key), input, by, now);
        known.set(input.dedupe_key, result.item);
        if (event) events.push(event);
        results.push(result);
      }
      // One version per item (a statement must not update a row twice): the last.
      const changed = new Map(results.filter((x) => x.action !== "unchanged").map((x) => [x.item.id, x.item]));
      await this.write(c, [...changed.values()], events);
      return results;
    });
  }

  async get(id: string): Promise<BacklogItem | null> {
    const r = await this.pool.query(`SELECT ${ITEM_COLUMNS} FROM backlog_items WHERE id = $1`, [id]);
    return r.rows[0] ? SQL.toItem(r.rows[0]) : null;
  }

  async byDedupeKeys(keys: string[]): Promise<BacklogItem[]> {
    if (keys.length === 0) return [];
    const r = await this.pool.query(`SELECT ${ITEM_COLUMNS} FROM backlog_items WHERE dedupe_key = ANY($1::text[])`, [keys]);
    const byKey = new Map(r.rows.map((row) => [row.dedupe_key as string, SQL.toItem(row)]));
    return keys.flatMap((k) => byKey.get(k) ?? []);
  }

  async list(q: BacklogQuery): Promise<BacklogItem[]> {
    const params: unknown[] = [];
    const w = where(params, [
      ["env = $", q.env], ["service = $", q.service], ["category = $", q.category], ["owner = $", q.owner],
      ["status = ANY($::text[])", q.status], ["priority = ANY($::text[])", q.priority],
      ["updated_at < $::timestamptz", q.updated_before], ["due_date < $::date", q.due_before],
    ]);
    params.push(clampLimit(q.limit));
    const r = await this.pool.query(
      `SELECT ${ITEM_COLUMNS} FROM backlog_items ${w} ORDER BY priority COLLATE "C", due_date, id COLLATE "C" LIMIT $${params.length}`,
      params,
    );
    return r.rows.map(SQL.toItem);
  }

  setStatus(id: string, to: BacklogStatus, opts: { by: string; message?: string; transitions: BacklogTransitions }, now: Date): Promise<{ item: BacklogItem; changed: boolean }> {
    return tx(this.pool, async (c) => {
      const item = await this.locked(c, id);
      const plan = planStatus(item, to, opts, now);
      if (!plan) return { item, changed: false };
      await this.write(c, [plan.item], [plan.event]);
      return { item: plan.item, changed: true };
    });
  }

  addComment(id: string, opts: { by: string; message: string }, now: Date): Promise<BacklogEvent> {
    if (!opts.message.trim()) return Promise.reject(invalid("comment message is required"));
    return tx(this.pool, async (c) => {
      await this.locked(c, id);
      const event = newEvent(id, "comment", opts.message, opts.by, now);
      await this.write(c, [], [event]);
      return event;
    });
  }

  async events(itemId: string): Promise<BacklogEvent[]> {
    const r = await this.pool.query("SELECT * FROM backlog_events WHERE item_id = $1 ORDER BY ts, seq", [itemId]);
    return r.rows.map(SQL.toEvent);
  }

  async purge(statuses: BacklogStatus[], before: string): Promise<string[]> {
    // Events go with their item (ON DELETE CASCADE).
    const r = await this.pool.query<{ id: string }>(
      "DELETE FROM backlog_items WHERE status = ANY($1::text[]) AND updated_at < $2::timestamptz RETURNING id",
      [statuses, before],
    );
    return r.rows.map((row) => row.id);
  }

  async exportRows(): Promise<BacklogRow[]> {
    const items = (await this.pool.query(`SELECT ${ITEM_COLUMNS} FROM backlog_items ORDER BY created_at, id COLLATE "C"`)).rows;
    const events = (await this.pool.query("SELECT * FROM backlog_events ORDER BY seq")).rows;
    return [
      ...items.map((r): BacklogRow => ({ kind: "item", data: SQL.toItem(r) })),
      ...events.map((r): BacklogRow => ({ kind: "event", data: SQL.toEvent(r) })),
    ];
  }

  /** Idempotent, in chunks (each its own transaction, so a failed import can run again); see mergeImport. */
  async importRows(rows: BacklogRow[]): Promise<void> {
    const items = rows.filter((r) => r.kind === "item");
    for (let i = 0; i < items.length; i += IMPORT_CHUNK) {
      const chunk = items.slice(i, i + IMPORT_CHUNK);
      await tx(this.pool, async (c) => {
        const ids = chunk.map((r) => r.data.id);
        const keys = chunk.map((r) => (r.data as BacklogItem).dedupe_key);
        const cur = await c.query(`SELECT ${ITEM_COLUMNS} FROM backlog_items WHERE id = ANY($1::text[]) OR dedupe_key = ANY($2::text[]) FOR UPDATE`, [ids, keys]);
        const stored = cur.rows.map(SQL.toItem);
        const merged = mergeImport(chunk, (id) => stored.find((s) => s.id === id), (k) => stored.find((s) => s.dedupe_key === k));
        if (merged.items.length) await c.query(SQL.IMPORT_ITEMS, [JSON.stringify(merged.items)]);
      });
    }
    // Events of items folded into another id (same dedupe key) follow that item.
    const all = await this.pool.query<{ id: string; dedupe_key: string }>("SELECT id, dedupe_key FROM backlog_items WHERE dedupe_key = ANY($1::text[])", [
      items.map((r) => (r.data as BacklogItem).dedupe_key),
    ]);
    const holder = new Map(all.rows.map((r) => [r.dedupe_key, r.id]));
    const renamed = new Map(items.map((r) => [r.data.id, holder.get((r.data as BacklogItem).dedupe_key) ?? r.data.id]));
    const events = rows.flatMap((r) => (r.kind === "event" ? [{ ...r.data, item_id: renamed.get(r.data.item_id) ?? r.data.item_id }] : []));
    for (let i = 0; i < events.length; i += IMPORT_CHUNK) await this.pool.query(SQL.IMPORT_EVENTS, [SQL.eventsJson(events.slice(i, i + IMPORT_CHUNK))]);
  }

  async clearRows(): Promise<void> {
    await this.pool.query("TRUNCATE backlog_items, backlog_events");
  }
}
