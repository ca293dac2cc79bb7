/** The backlog planners every backend runs over the state it loaded, plus query matching. */
import { randomBytes } from "node:crypto";
import type { BacklogTransitions } from "../config/backlog-policy.js";
import { conflict, invalid } from "../errors.js";
import {
  BACKLOG_PRIORITIES, BACKLOG_STATUSES, type BacklogEvent, type BacklogEventType, type BacklogItem, type BacklogQuery, type BacklogRow,
  type BacklogStatus, type BacklogUpsert, type UpsertResult,
} from "./store.js";

export const BACKLOG_BOUNDS = { listDefault: 100, listMax: 100_000 } as const;
const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;
const PRIORITY_RANK = Object.fromEntries(BACKLOG_PRIORITIES.map((p, i) => [p, i])) as Record<string, number>;

export const newItemId = () => `bl_${randomBytes(6).toString("hex")}`;
export const newEventId = () => `ble_${randomBytes(6).toString("hex")}`;

export function backlogRowKey(row: BacklogRow): string {
  return `${row.kind}:${row.data.id}`;
}

export function clampLimit(limit: number | undefined): number {
  return Math.min(Math.max(1, limit ?? BACKLOG_BOUNDS.listDefault), BACKLOG_BOUNDS.listMax);
}

export function newEvent(item_id: string, type: BacklogEventType, message: string, actor: string, now: Date, meta: Record<string, unknown> = {}): BacklogEvent {
  return { id: newEventId(), item_id, ts: now.toISOString(), type, message, actor, meta };
}

/** JSON with object keys sorted: Postgres' jsonb does not keep key order, so plain JSON would differ. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

function check(input: BacklogUpsert): void {
  const problems: string[] = [];
  if (!input.dedupe_key) problems.push("dedupe_key is required");
  if (!input.service || !input.category || !input.title || !input.owner) problems.push("service, category, title and owner are required");
  if (!DATE_RE.test(input.due_date) || Number.isNaN(Date.parse(input.due_date))) problems.push(`due_date must be YYYY-MM-DD, got "${input.due_date}"`);
  if (!(BACKLOG_PRIORITIES as readonly string[]).includes(input.priority)) problems.push(`priority must be one of ${BACKLOG_PRIORITIES.join(", ")}`);
  if (problems.length) throw invalid(`backlog item ${input.dedupe_key}: ${problems.join("; ")}`, { problems });
}

/** Creates the item or updates a known one (title, description, meta, and what `overwrite` names). */
export function planUpsert(existing: BacklogItem | undefined, input: BacklogUpsert, by: string, now: Date): { result: UpsertResult; event?: BacklogEvent } {
  check(input);
  const ts = now.toISOString();
  if (!existing) {
    const item: BacklogItem = {
      id: newItemId(), dedupe_key: input.dedupe_key, env: input.env, service: input.service, category: input.category,
      title: input.title, description: input.description ?? "", priority: input.priority, status: "open", owner: input.owner,
      due_date: input.due_date, source: input.source, meta: input.meta ?? {}, created_by: by, created_at: ts, updated_at: ts,
    };
    return { result: { item, action: "created", changed: [] }, event: newEvent(item.id, "created", `created: ${item.title}`, by, now, { owner: item.owner, priority: item.priority }) };
  }
  const next: BacklogItem = { ...existing, title: input.title, description: input.description ?? existing.description, meta: input.meta ?? existing.meta };
  for (const field of input.overwrite ?? []) (next as unknown as Record<string, unknown>)[field] = input[field];
  const changed = (["title", "description", "meta", "owner", "priority", "due_date"] as const).filter(
    (f) => canonical(next[f]) !== canonical(existing[f]),
  );
  if (changed.length === 0) return { result: { item: existing, action: "unchanged", changed } };
  next.updated_at = ts;
  return { result: { item: next, action: "updated", changed }, event: newEvent(existing.id, "updated", `updated: ${changed.join(", ")}`, by, now, { changed }) };
}

/** The allowed targets of `from`, for the refusal message. */
export function allowedFrom(transitions: BacklogTransitions, from: BacklogStatus): BacklogStatus[] {
  return transitions[from] ?? [];
}

/** null = already in that status (nothing to write); throws conflict for a transition not allowed. */
export function planStatus(item: BacklogItem, to: BacklogStatus, opts: { by: string; message?: string; transitions: BacklogTransitions }, now: Date): { item: BacklogItem; event: BacklogEvent } | null {
  if (!(BACKLOG_STATUSES as readonly string[]).includes(to)) throw invalid(`status must be one of ${BACKLOG_STATUSES.join(", ")}`);
  if (item.status === to) return null;
  const allowed = allowedFrom(opts.transitions, item.status);
  if (!allowed.includes(to)) {
    const list = allowed.length ? allowed.join(", ") : "none";
    throw conflict(`backlog item ${item.id}: ${item.status} → ${to} is not allowed; from ${item.status}: ${list}`, { item_id: item.id, from: item.status, to, allowed });
  }
  const next = { ...item, status: to, updated_at: now.toISOString() };
  const message = opts.message ? `${item.status} → ${to}: ${opts.message}` : `${item.status} → ${to}`;
  return { item: next, event: newEvent(item.id, "status_change", message, opts.by, now, { from: item.status, to }) };
}

export function itemMatches(i: BacklogItem, q: BacklogQuery): boolean {
  return (
    (q.env === undefined || i.env === q.env) &&
    (q.service === undefined || i.service === q.service) &&
    (q.category === undefined || i.category === q.category) &&
    (q.owner === undefined || i.owner === q.owner) &&
    (q.status === undefined || q.status.includes(i.status)) &&
    (q.priority === undefined || q.priority.includes(i.priority)) &&
    (q.updated_before === undefined || Date.parse(i.updated_at) < Date.parse(q.updated_before)) &&
    (q.due_before === undefined || i.due_date < q.due_before)
  );
}

/** List order: highest priority, earliest due date, then id (the same ORDER BY as Postgres). */
export function byPriorityThenDue(a: BacklogItem, b: BacklogItem): number {
  return (PRIORITY_RANK[a.priority]! - PRIORITY_RANK[b.priority]!) || (a.due_date < b.due_date ? -1 : a.due_date > b.due_date ? 1 : 0) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/**
 * Replay rows merged into a store's state: newer item versions win by id; an item whose dedupe
 * key another id already holds (written on the fallback while Postgres had it) folds into the
 * holder (title, description, meta if newer; owner and status kept) and its events follow it.
 */
export function mergeImport(
  rows: BacklogRow[],
  byId: (id: string) => BacklogItem | undefined,
  byKey: (key: string) => BacklogItem | undefined,
): { items: BacklogItem[]; events: BacklogEvent[] } {
  const items = new Map<string, BacklogItem>();
  const renamed = new Map<string, string>();
  const keyHolder = new Map<string, BacklogItem>();
  const current = (id: string) => items.get(id) ?? byId(id);
  for (const row of rows) {
    if (row.kind !== "item") continue;
    const inc = row.data;
    const holder = keyHolder.get(inc.dedupe_key) ?? byKey(inc.dedupe_key);
    if (holder && holder.id !== inc.id) {
      renamed.set(inc.id, holder.id);
      const base = current(holder.id) ?? holder;
      if (Date.parse(inc.updated_at) > Date.parse(base.updated_at)) {
        items.set(holder.id, { ...base, title: inc.title, description: inc.description, meta: inc.meta, updated_at: inc.updated_at });
      }
      continue;
    }
    const prev = current(inc.id);
    if (!prev || Date.parse(inc.updated_at) >= Date.parse(prev.updated_at)) items.set(inc.id, inc);
    keyHolder.set(inc.dedupe_key, items.get(inc.id) ?? prev!);
  }
  const events = rows.flatMap((r) => (r.kind === "event" ? [{ ...r.data, item_id: renamed.get(r.data.item_id) ?? r.data.item_id }] : []));
  return { items: [...items.values()], events };
}
