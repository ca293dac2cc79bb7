/**
 * The backlog store: engineering work items and their events (created, updated, status changes,
 * comments). Items are unique by `dedupe_key` (weekly generation: `<prefix>:YYYY-WW:<env>:<service>:<category>`);
 * upserting a known key updates title/description/meta and keeps owner, status, priority and
 * due date unless the caller names them in `overwrite`. Every backend runs the same planners
 * (item-plans.ts), so memory, JSONL and Postgres decide identically.
 */
import type { OpsEnv } from "../config/env.js";
import type { BacklogPriority, BacklogStatus, BacklogTransitions } from "../config/backlog-policy.js";
import type { BaseStore, Replayable } from "../util/store-port.js";

export { BACKLOG_PRIORITIES, BACKLOG_STATUSES, type BacklogPriority, type BacklogStatus } from "../config/backlog-policy.js";

export type BacklogEnv = OpsEnv;

export interface BacklogItem {
  /** `bl_<hex>` */
  id: string;
  dedupe_key: string;
  env: BacklogEnv;
  service: string;
  category: string;
  title: string;
  description: string;
  priority: BacklogPriority;
  status: BacklogStatus;
  owner: string;
  /** YYYY-MM-DD (UTC). */
  due_date: string;
  /** `digest` (weekly generation) or `manual`. */
  source: string;
  meta: Record<string, unknown>;
  created_by: string;
  created_at: string;
  updated_at: string;
}

export const BACKLOG_EVENT_TYPES = ["created", "updated", "status_change", "comment"] as const;
export type BacklogEventType = (typeof BACKLOG_EVENT_TYPES)[number];

export interface BacklogEvent {
  /** `ble_<hex>` */
  id: string;
  item_id: string;
  ts: string;
  type: BacklogEventType;
  message: string;
  actor: string;
  meta: Record<string, unknown>;
}

/** Fields an upsert may overwrite on an existing item besides title, description and meta (status: set_status only). */
export const OVERWRITABLE = ["owner", "priority", "due_date"] as const;
export type Overwritable = (typeof OVERWRITABLE)[number];

export interface BacklogUpsert {
  dedupe_key: string;
  env: BacklogEnv;
  service: string;
  category: string;
  title: string;
  description?: string;
  priority: BacklogPriority;
  owner: string;
  due_date: string;
  source: string;
  meta?: Record<string, unknown>;
  /** Applied to an existing item too (an explicit owner from a person); default none. */
  overwrite?: Overwritable[];
}

export interface UpsertResult {
  item: BacklogItem;
  action: "created" | "updated" | "unchanged";
  /** Fields that changed on an existing item. */
  changed: string[];
}

export interface BacklogQuery {
  env?: string;
  service?: string;
  category?: string;
  owner?: string;
  status?: BacklogStatus[];
  priority?: BacklogPriority[];
  /** updated_at < updated_before (ISO): cleanup's candidates. */
  updated_before?: string;
  /** due_date < due_before (YYYY-MM-DD). */
  due_before?: string;
  /** Default 100, at most 100,000. Highest priority, then earliest due date, then id. */
  limit?: number;
}

export type BacklogRow = { kind: "item"; data: BacklogItem } | { kind: "event"; data: BacklogEvent };

export interface BacklogStore extends BaseStore, Replayable<BacklogRow> {
  /** One atomic step for the batch (results in input order); idempotent by dedupe_key. */
  upsert(inputs: BacklogUpsert[], by: string, now: Date): Promise<UpsertResult[]>;
  get(id: string): Promise<BacklogItem | null>;
  byDedupeKeys(keys: string[]): Promise<BacklogItem[]>;
  list(q: BacklogQuery): Promise<BacklogItem[]>;
  /** not_found, or conflict (naming the allowed targets) for a transition `transitions` does not list; same status = unchanged. */
  setStatus(id: string, to: BacklogStatus, opts: { by: string; message?: string; transitions: BacklogTransitions }, now: Date): Promise<{ item: BacklogItem; changed: boolean }>;
  addComment(id: string, opts: { by: string; message: string }, now: Date): Promise<BacklogEvent>;
  /** Oldest first. */
  events(itemId: string): Promise<BacklogEvent[]>;
  /** Deletes items (with their events) in `statuses` last updated before `before`; returns their ids. */
  purge(statuses: BacklogStatus[], before: string): Promise<string[]>;
}
