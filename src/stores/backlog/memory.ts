/**
 * Backlog items and events held in Maps. For tests and dev; the factory refuses it in prod. The
 * JSONL backend extends it with a file under the same state. `keys` (dedupe_key → id) is the
 * uniqueness guard Postgres' UNIQUE constraint gives.
 */
import type { BacklogTransitions } from "../../config/backlog-policy.js";
import { invalid, notFound } from "../../errors.js";
import { RowStore } from "../row-store.js";
import { byPriorityThenDue, clampLimit, itemMatches, mergeImport, newEvent, planStatus, planUpsert } from "../../backlog/item-plans.js";
import type { BacklogEvent, BacklogItem, BacklogQuery, BacklogRow, BacklogStatus, BacklogStore, BacklogUpsert, UpsertResult } from "../../backlog/store.js";

const clone = <T>(value: T): T => structuredClone(value);

export class MemoryBacklogStore extends RowStore<BacklogRow> implements BacklogStore {
  readonly backendName: string = "MemoryBacklogStore";
  protected items = new Map<string, BacklogItem>();
  protected keys = new Map<string, string>();
  /** In insertion order (ties of ts keep it). */
  protected eventsById = new Map<string, BacklogEvent>();

  protected liveCount(): number {
    return this.items.size + this.eventsById.size;
  }

  protected apply(row: BacklogRow): void {
    if (row.kind === "item") {
      const prev = this.items.get(row.data.id);
      if (prev && prev.dedupe_key !== row.data.dedupe_key) this.keys.delete(prev.dedupe_key);
      this.items.set(row.data.id, row.data);
      this.keys.set(row.data.dedupe_key, row.data.id);
    } else if (row.kind === "event") {
      this.eventsById.set(row.data.id, row.data);
    }
  }

  protected async write(rows: BacklogRow[]): Promise<void> {
    if (rows.length === 0) return;
    await this.persist(rows);
    for (const row of rows) this.apply(row);
  }

  private byKey(key: string): BacklogItem | undefined {
    const id = this.keys.get(key);
    return id === undefined ? undefined : this.items.get(id);
  }

  upsert(inputs: BacklogUpsert[], by: string, now: Date): Promise<UpsertResult[]> {
    return this.exclusive(async () => {
      const seen = new Map<string, BacklogItem>();
      const rows: BacklogRow[] = [];
      const results: UpsertResult[] = [];
      for (const input of inputs) {
        const { result, event } = planUpsert(seen.get(input.dedupe_key) ?? this.byKey(input.dedupe_key), input, by, now);
        seen.set(input.dedupe_key, result.item);
        if (result.action !== "unchanged") rows.push({ kind: "item", data: result.item });
        if (event) rows.push({ kind: "event", data: event });
        results.push(result);
      }
      await this.write(rows);
      return clone(results);
    });
  }

  async get(id: string): Promise<BacklogItem | null> {
    const item = this.items.get(id);
    return item ? clone(item) : null;
  }

  async byDedupeKeys(keys: string[]): Promise<BacklogItem[]> {
    return clone(keys.flatMap((k) => this.byKey(k) ?? []));
  }

  async list(q: BacklogQuery): Promise<BacklogItem[]> {
    const out = [...this.items.values()].filter((i) => itemMatches(i, q)).sort(byPriorityThenDue);
    return clone(out.slice(0, clampLimit(q.limit)));
  }

  setStatus(id: string, to: BacklogStatus, opts: { by: string; message?: string; transitions: BacklogTransitions }, now: Date): Promise<{ item: BacklogItem; changed: boolean }> {
    return this.exclusive(async () => {
      const item = this.items.get(id);
      if (!item) throw notFound(`backlog item ${id} not found`, { item_id: id });
      const plan = planStatus(item, to, opts, now);
      if (!plan) return { item: clone(item), changed: false };
      await this.write([{ kind: "item", data: plan.item }, { kind: "event", data: plan.event }]);
      return { item: clone(plan.item), changed: true };
    });
  }

  addComment(id: string, opts: { by: string; message: string }, now: Date): Promise<BacklogEvent> {
    return this.exclusive(async () => {
      if (!this.items.has(id)) throw notFound(`backlog item ${id} not found`, { item_id: id });
      if (!opts.message.trim()) throw invalid("comment message is required");
      const event = newEvent(id, "comment", opts.message, opts.by, now);
      await this.write([{ kind: "event", data: event }]);
      return clone(event);
    });
  }

  async events(itemId: string): Promise<BacklogEvent[]> {
    const out = [...this.eventsById.values()].filter((e) => e.item_id === itemId);
    return clone(out.sort((a, b) => Date.parse(a.ts) - Date.parse(b.ts)));
  }

  purge(statuses: BacklogStatus[], before: string): Promise<string[]> {
    return this.exclusive(async () => {
      const gone = [...this.items.values()].filter((i) => itemMatches(i, { status: statuses, updated_before: before })).map((i) => i.id);
      if (gone.length === 0) return [];
      for (const id of gone) {
        this.keys.delete(this.items.get(id)!.dedupe_key);
        this.items.delete(id);
      }
      const dead = new Set(gone);
      for (const [eid, e] of this.eventsById) if (dead.has(e.item_id)) this.eventsById.delete(eid);
      await this.persistAll();
      return gone;
    });
  }

  async exportRows(): Promise<BacklogRow[]> {
    return clone([...this.rows()]);
  }

  /** Idempotent: newer versions win, events are only added, events of unknown items are dropped. */
  importRows(rows: BacklogRow[]): Promise<void> {
    return this.exclusive(async () => {
      const merged = mergeImport(rows, (id) => this.items.get(id), (key) => this.byKey(key));
      const known = new Set([...this.items.keys(), ...merged.items.map((i) => i.id)]);
      const out: BacklogRow[] = merged.items.map((data) => ({ kind: "item", data }));
      for (const e of merged.events) if (known.has(e.item_id) && !this.eventsById.has(e.id)) out.push({ kind: "event", data: e });
      await this.write(out);
    });
  }

  protected reset(): void {
    for (const m of [this.items, this.keys, this.eventsById]) m.clear();
  }

  /** Items first, so an importer meets parents before children. */
  protected *rows(): Iterable<BacklogRow> {
    for (const data of this.items.values()) yield { kind: "item", data };
    for (const data of this.eventsById.values()) yield { kind: "event", data };
  }
}
