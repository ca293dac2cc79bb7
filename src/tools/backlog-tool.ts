/**
 * `backlog_tool` (config/backlog_policy.yml): weekly generation from the platform digest, cleanup,
 * dashboard, and items by hand. Every writing action takes `dry_run` (default false): it answers
 * with what would change and writes nothing (the job runner's planning step).
 */
import { z } from "zod";
import { OPS_ENVS } from "../config/env.js";
import { BACKLOG_PRIORITIES, BACKLOG_STATUSES, type BacklogPolicy } from "../config/backlog-policy.js";
import { backlogDashboard, CLOSED_STATUSES } from "../backlog/dashboard.js";
import { planWeeklyBacklog } from "../backlog/generate.js";
import { manualDedupeKey, manualUpsert } from "../backlog/manual.js";
import { readPlatformDigest } from "../backlog/platform-digest.js";
import { notFound } from "../errors.js";
import type { Logger } from "../log.js";
import type { EventPublisher } from "../nats/events.js";
import { BACKLOG_BOUNDS, newEvent, planStatus, planUpsert } from "../backlog/item-plans.js";
import type { BacklogItem, BacklogStore, BacklogUpsert, UpsertResult } from "../backlog/store.js";
import type { EventData, EventType } from "../subjects/index.js";
import { action, enumList, RetentionDays, type ToolDef } from "./types.js";

export interface BacklogToolDeps {
  backlog: BacklogStore;
  policy: BacklogPolicy;
  /** The digest is read from `<reportsDir>/platform/YYYY-WW.json`. */
  reportsDir: string;
  /** When given: backlog.generated / created / updated / cleaned events. */
  events?: EventPublisher;
}

const READ = "tools.backlog.read";
const WRITE = "tools.backlog.write";
const ADMIN = "tools.backlog.admin";
const DAY_MS = 86_400_000;

const Env = z.enum(OPS_ENVS);
const Status = z.enum(BACKLOG_STATUSES);
const Priority = z.enum(BACKLOG_PRIORITIES);
const ItemId = z.string().regex(/^bl_[0-9a-f]{6,32}$/, "id must look like bl_<hex>").describe("the item's id, e.g. bl_3f9a2c");
const DryRun = z.boolean().default(false).describe("answer with what would change; write nothing; default false");
const Day = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, "YYYY-MM-DD").refine((s) => !Number.isNaN(Date.parse(s)), "not a date");

function definedOnly<T extends object>(obj: T): T {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as T;
}

const brief = (r: UpsertResult) => ({ id: r.item.id, dedupe_key: r.item.dedupe_key, action: r.action, changed: r.changed, priority: r.item.priority, owner: r.item.owner, status: r.item.status, due_date: r.item.due_date });
const counts = (rs: UpsertResult[]) => ({
  created: rs.filter((r) => r.action === "created").length,
  updated: rs.filter((r) => r.action === "updated").length,
  unchanged: rs.filter((r) => r.action === "unchanged").length,
});

export function createBacklogTool(deps: BacklogToolDeps): ToolDef {
  const { backlog: store, policy } = deps;

  /** The store is the record: a publish failure is logged, never fails the call. */
  async function publish<T extends EventType>(log: Logger, type: T, data: EventData<T>, dedupeId: string): Promise<void> {
    if (!deps.events) return;
    await deps.events.publish(type, data, dedupeId).catch((err: unknown) => log.warn({ err, type }, "backlog event publish failed (the store has the change)"));
  }

  async function mustGet(id: string): Promise<BacklogItem> {
    const item = await store.get(id);
    if (!item) throw notFound(`backlog item ${id} not found`, { item_id: id });
    return item;
  }

  /** What upserting would do, without writing (planned against the stored items). */
  async function preview(inputs: BacklogUpsert[], by: string, now: Date): Promise<UpsertResult[]> {
    const known = new Map((await store.byDedupeKeys(inputs.map((i) => i.dedupe_key))).map((i) => [i.dedupe_key, i]));
    return inputs.map((input) => {
      const { result } = planUpsert(known.get(input.dedupe_key), input, by, now);
      known.set(input.dedupe_key, result.item);
      return result;
    });
  }

  return {
    name: "backlog_tool",
    description: "Engineering backlog: weekly generation from the platform digest, cleanup, dashboard, list/get, upsert, status workflow (and its transitions), comments.",
    actions: {
      auto_generate_weekly: action({
        entitlement: ADMIN,
        description: "Items from the latest platform digest (or `week`): one per service and category that triggers, deduped per week; existing items keep owner and status.",
        params: z.strictObject({
          env: Env.default(policy.defaults.env).describe(`the environment to generate for; default ${policy.defaults.env}`),
          week: z.string().regex(/^\d{4}-W?\d{2}$/, "week must be YYYY-WW").optional().describe("the platform digest of this ISO week (YYYY-WW); default the latest"),
          dry_run: DryRun,
        }),
        async handler(p, h) {
          if (!policy.generation.weekly_from_pressure_digest) return { env: p.env, created: 0, updated: 0, unchanged: 0, reason: "disabled (generation.weekly_from_pressure_digest: false)" };
          const now = h.now();
          const digest = await readPlatformDigest(deps.reportsDir, { ...(p.week ? { week: p.week } : {}), now });
          const plan = planWeeklyBacklog(digest, policy, p.env, now);
          const by = h.caller.agent_id;
          const results = p.dry_run ? await preview(plan.upserts, by, now) : await store.upsert(plan.upserts, by, now);
          const out = {
            week: plan.week, env: plan.env, digest_file: digest.file, dry_run: p.dry_run, services_considered: plan.services_considered,
            ...counts(results), over_cap: plan.over_cap.length, max_items_per_run: policy.defaults.max_items_per_run, items: results.map(brief),
          };
          if (!p.dry_run) {
            const { items: _items, ...summary } = out;
            await publish(h.logger, "backlog.generated", { ...summary, by }, `${plan.week}:${plan.env}@${now.toISOString()}`);
          }
          return out;
        },
      }),
      cleanup: action({
        entitlement: ADMIN,
        description: "Removes done and canceled items last updated more than retention_days ago (with their events).",
        params: z.strictObject({
          retention_days: RetentionDays.default(policy.defaults.retention_days)
            .describe(`remove done/canceled items last updated more than this many days ago (1–3650); default ${policy.defaults.retention_days}`),
          dry_run: DryRun,
        }),
        async handler(p, h) {
          const now = h.now();
          const cutoff = new Date(now.getTime() - p.retention_days * DAY_MS).toISOString();
          const ids = p.dry_run
            ? (await store.list({ status: CLOSED_STATUSES, updated_before: cutoff, limit: BACKLOG_BOUNDS.listMax })).map((i) => i.id)
            : await store.purge(CLOSED_STATUSES, cutoff);
          if (!p.dry_run && ids.length) await publish(h.logger, "backlog.cleaned", { deleted: ids.length, cutoff, by: h.caller.agent_id }, `cleanup@${now.toISOString()}`);
          return { retention_days: p.retention_days, cutoff, dry_run: p.dry_run, deleted: ids.length, item_ids: ids.slice(0, 1000) };
        },
      }),
      dashboard: action({
        entitlement: READ,
        description: "Totals for an env: status_counts, priority_counts, overdue_count and the overdue items (not done/canceled, due before today), top_services by active items.",
        params: z.strictObject({ env: Env.default(policy.defaults.env).describe(`the environment; default ${policy.defaults.env}`) }),
        async handler(p, h) {
          const items = await store.list({ env: p.env, limit: BACKLOG_BOUNDS.listMax });
          return backlogDashboard(items, h.now(), { env: p.env });
        },
      }),
      list: action({
        entitlement: READ,
        description: "Items, highest priority then earliest due first; filters combine. overdue: only active items due before today.",
        params: z.strictObject({
          env: Env.optional().describe("only items of this environment; default all"),
          service: z.string().min(1).optional().describe("only items of this service (exact name); default all"),
          category: z.string().min(1).optional().describe("only items of this category (backlog_policy.yml categories); default all"),
          owner: z.string().min(1).optional().describe("only items owned by this owner; default all"),
          status: enumList(BACKLOG_STATUSES).optional().describe("only items in these statuses (one, a list, or comma-separated); default all"),
          priority: enumList(BACKLOG_PRIORITIES).optional().describe("only items of these priorities (one, a list, or comma-separated); default all"),
          overdue: z.boolean().default(false).describe("only active items due before today; default false"),
          limit: z.number().int().min(1).max(1000).default(100).describe("most items answered (1–1000); default 100"),
        }),
        async handler(p, h) {
          const { overdue, ...q } = p;
          const filter = overdue
            ? { ...q, status: (q.status ?? [...BACKLOG_STATUSES]).filter((s) => !CLOSED_STATUSES.includes(s)), due_before: h.now().toISOString().slice(0, 10) }
            : q;
          const items = await store.list(definedOnly(filter));
          return { count: items.length, items };
        },
      }),
      workflow: action({
        entitlement: READ,
        description: "The item workflow (backlog_policy.yml workflow.transitions): the statuses, and for each the statuses set_status may move an item to.",
        params: z.strictObject({}),
        handler: async () => ({ statuses: BACKLOG_STATUSES, transitions: policy.workflow.transitions }),
      }),
      get: action({
        entitlement: READ,
        description: "An item with its events (oldest first).",
        params: z.strictObject({ id: ItemId, include_events: z.boolean().default(true).describe("include the item's events; default true") }),
        async handler(p) {
          const item = await mustGet(p.id);
          return { item, ...(p.include_events ? { events: await store.events(p.id) } : {}) };
        },
      }),
      upsert: action({
        entitlement: WRITE,
        description:
          "Create an item, or update one (by id or dedupe_key): title, description and meta are replaced; owner, priority and due_date only when given; status only via set_status.",
        params: z.strictObject({
          id: ItemId.optional().describe("update this item; default: found by dedupe_key, else created"),
          dedupe_key: z.string().min(1).max(300).optional().describe("stable key of the item; default derived from env, service, category and title"),
          env: Env.default(policy.defaults.env).describe(`the item's environment; default ${policy.defaults.env}`),
          service: z.string().min(1).max(128).optional().describe("the service the work is for; required to create"),
          category: z.string().min(1).max(64).optional().describe("kind of work, e.g. arch_review (backlog_policy.yml categories); required to create"),
          title: z.string().min(1).max(500).optional().describe("one-line summary (≤ 500 chars); required to create, replaces the stored one when given"),
          description: z.string().max(20_000).optional().describe("details (≤ 20000 chars); when given, replaces the stored one"),
          priority: Priority.optional().describe("P0 (most urgent) to P3; default from the category's policy on create, unchanged on update"),
          owner: z.string().min(1).max(128).optional().describe("who owns it; default from policy on create, unchanged on update"),
          due_date: Day.optional().describe("due day, YYYY-MM-DD; default from the priority's due days on create, unchanged on update"),
          meta: z.record(z.string(), z.unknown()).optional().describe("structured details; when given, replaces the stored meta"),
          dry_run: DryRun,
        }),
        async handler(p, h) {
          const now = h.now();
          const by = h.caller.agent_id;
          const key = p.dedupe_key ?? (p.service && p.category && p.title ? manualDedupeKey(p.env, p.service, p.category, p.title) : undefined);
          const existing = p.id ? await mustGet(p.id) : key ? (await store.byDedupeKeys([key]))[0] : undefined;
          const input = manualUpsert(p, existing, policy, now);
          const [result] = p.dry_run ? await preview([input], by, now) : await store.upsert([input], by, now);
          if (!p.dry_run && result!.action !== "unchanged") {
            const type = result!.action === "created" ? "backlog.created" : "backlog.updated";
            await publish(h.logger, type, { ...brief(result!), by }, `${result!.item.id}@${result!.item.updated_at}`);
          }
          return { ...result!, dry_run: p.dry_run };
        },
      }),
      set_status: action({
        entitlement: WRITE,
        description: "Moves an item along the workflow (config workflow.transitions); a transition not allowed is refused with conflict naming the allowed ones.",
        params: z.strictObject({
          id: ItemId,
          status: Status.describe("the status to move to; allowed moves are backlog_policy.yml workflow.transitions"),
          message: z.string().max(5000).optional().describe("why, kept with the status event (≤ 5000 chars)"),
          dry_run: DryRun,
        }),
        async handler(p, h) {
          const opts = definedOnly({ by: h.caller.agent_id, message: p.message, transitions: policy.workflow.transitions });
          if (p.dry_run) {
            const item = await mustGet(p.id);
            const plan = planStatus(item, p.status, opts, h.now());
            return { item: plan?.item ?? item, changed: plan !== null, dry_run: true };
          }
          const before = await mustGet(p.id);
          const r = await store.setStatus(p.id, p.status, opts, h.now());
          if (r.changed) await publish(h.logger, "backlog.updated", { id: r.item.id, service: r.item.service, from: before.status, status: r.item.status, by: opts.by }, `${r.item.id}:status@${r.item.updated_at}`);
          return { ...r, dry_run: false };
        },
      }),
      add_comment: action({
        entitlement: WRITE,
        description: "Adds a comment event to an item.",
        params: z.strictObject({ id: ItemId, message: z.string().min(1).max(20_000).describe("the comment (≤ 20000 chars)"), dry_run: DryRun }),
        async handler(p, h) {
          const by = h.caller.agent_id;
          if (p.dry_run) {
            await mustGet(p.id);
            return { event: newEvent(p.id, "comment", p.message, by, h.now()), dry_run: true };
          }
          const event = await store.addComment(p.id, { by, message: p.message }, h.now());
          await publish(h.logger, "backlog.updated", { id: p.id, event_id: event.id, event_type: "comment", by }, event.id);
          return { event, dry_run: false };
        },
      }),
    },
  };
}
