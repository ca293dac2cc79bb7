/** `backlog_tool.upsert` by hand: fills what the caller left out from the policy and the existing item. */
import { createHash } from "node:crypto";
import type { BacklogPolicy, BacklogPriority } from "../config/backlog-policy.js";
import { invalid } from "../errors.js";
import { OVERWRITABLE, type BacklogEnv, type BacklogItem, type BacklogUpsert, type Overwritable } from "./store.js";
import { dueDate, ownerFor } from "./generate.js";

export interface ManualUpsert {
  id?: string | undefined;
  dedupe_key?: string | undefined;
  env: BacklogEnv;
  service?: string | undefined;
  category?: string | undefined;
  title?: string | undefined;
  description?: string | undefined;
  priority?: BacklogPriority | undefined;
  owner?: string | undefined;
  due_date?: string | undefined;
  meta?: Record<string, unknown> | undefined;
}

const FALLBACK = { priority: "P2" as BacklogPriority, due_days: 14 };

/** The key of a manual item without one: the same title for the same service/category/env is the same item. */
export function manualDedupeKey(env: string, service: string, category: string, title: string): string {
  const h = createHash("sha256").update(title.trim().toLowerCase()).digest("hex").slice(0, 12);
  return `manual:${env}:${service}:${category}:${h}`;
}

/** Explicit owner/priority/due_date overwrite an existing item; title, description and meta always do. */
export function manualUpsert(p: ManualUpsert, existing: BacklogItem | undefined, policy: BacklogPolicy, now: Date): BacklogUpsert {
  const overwrite: Overwritable[] = OVERWRITABLE.filter((f) => p[f] !== undefined);
  if (existing) {
    for (const f of ["service", "category"] as const) {
      if (p[f] !== undefined && p[f] !== existing[f]) throw invalid(`${f} of item ${existing.id} is ${existing[f]}; it cannot change (create a new item instead)`);
    }
    return {
      dedupe_key: existing.dedupe_key, env: existing.env, service: existing.service, category: existing.category,
      title: p.title ?? existing.title, description: p.description ?? existing.description, priority: p.priority ?? existing.priority,
      owner: p.owner ?? existing.owner, due_date: p.due_date ?? existing.due_date, source: existing.source,
      meta: p.meta ?? existing.meta, overwrite,
    };
  }
  if (!p.service || !p.category || !p.title) throw invalid("service, category and title are required to create an item (or pass id / dedupe_key of an existing one)");
  const cat = policy.categories[p.category] ?? FALLBACK;
  return {
    dedupe_key: p.dedupe_key ?? manualDedupeKey(p.env, p.service, p.category, p.title),
    env: p.env, service: p.service, category: p.category, title: p.title, description: p.description ?? "",
    priority: p.priority ?? cat.priority, owner: p.owner ?? ownerFor(policy, p.service, p.category),
    due_date: p.due_date ?? dueDate(now, cat.due_days), source: "manual", meta: p.meta ?? {}, overwrite,
  };
}
