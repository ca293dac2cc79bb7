/**
 * `config/backlog_policy.yml`: how the weekly backlog is generated from the platform digest
 * (categories, caps, owners) and the item workflow (allowed status transitions).
 */
import { z } from "zod";
import { OPS_ENVS } from "./env.js";

export const BACKLOG_STATUSES = ["open", "in_progress", "blocked", "done", "canceled"] as const;
export type BacklogStatus = (typeof BACKLOG_STATUSES)[number];
export const BACKLOG_PRIORITIES = ["P0", "P1", "P2", "P3"] as const;
export type BacklogPriority = (typeof BACKLOG_PRIORITIES)[number];

/** Named bounds of the backlog policy. */
export const BACKLOG_BOUNDS = { maxItemsPerRun: 10_000, maxDueDays: 3650, maxRetentionDays: 3650 } as const;

const Status = z.enum(BACKLOG_STATUSES);
const Priority = z.enum(BACKLOG_PRIORITIES);
const Name = z.string().regex(/^[a-z][a-z0-9_]*$/, "a lowercase token such as arch_review");

/**
 * A category is raised for a service when the digest's factor of the same name (or `factor`)
 * reaches `min`; `requires_arch_review` counts as factor `arch_review` = 1 when true.
 */
const Category = z.strictObject({
  priority: Priority,
  due_days: z.number().int().min(0).max(BACKLOG_BOUNDS.maxDueDays),
  factor: Name.optional(),
  /** The factor must be above 0 and at least this (0 = any contribution). */
  min: z.number().min(0).default(0),
  /** Only services in these pressure bands; empty = any band. */
  bands: z.array(z.string().min(1)).default([]),
  /** `{service}`, `{env}`, `{week}`, `{value}` are filled in. */
  title: z.string().min(1).max(300),
});
export type BacklogCategory = z.infer<typeof Category>;

const DEFAULT_CATEGORIES: Record<string, z.input<typeof Category>> = {
  arch_review: { priority: "P1", due_days: 14, title: "[ARCH] Architecture review: {service} ({env})" },
  incidents: { priority: "P1", due_days: 14, bands: ["high", "critical"], title: "Reduce incident load: {service} ({env})" },
  recurrence: { priority: "P2", due_days: 21, bands: ["high", "critical"], title: "Fix recurring incidents: {service} ({env})" },
  risk_trend: { priority: "P2", due_days: 30, bands: ["high", "critical"], title: "Reverse rising risk: {service} ({env})" },
  followups_overdue: { priority: "P2", due_days: 7, title: "Close overdue follow-ups: {service} ({env})" },
};

const DEFAULT_TRANSITIONS: Record<BacklogStatus, BacklogStatus[]> = {
  open: ["in_progress", "blocked", "canceled"],
  in_progress: ["open", "blocked", "done", "canceled"],
  blocked: ["open", "in_progress", "canceled"],
  done: ["open"],
  canceled: ["open"],
};

export const BacklogPolicy = z
  .strictObject({
    defaults: z
      .strictObject({
        env: z.enum(OPS_ENVS).default("prod"),
        retention_days: z.number().int().min(1).max(BACKLOG_BOUNDS.maxRetentionDays).default(180),
        max_items_per_run: z.number().int().min(1).max(BACKLOG_BOUNDS.maxItemsPerRun).default(50),
      })
      .prefault({}),
    dedupe: z.strictObject({ key_prefix: Name.default("platform_backlog") }).prefault({}),
    categories: z.record(Name, Category).default(() => z.record(Name, Category).parse(DEFAULT_CATEGORIES)),
    generation: z.strictObject({ weekly_from_pressure_digest: z.boolean().default(true) }).prefault({}),
    ownership: z
      .strictObject({
        default_owner: z.string().min(1).default("oncall"),
        /** Checked in this order: the service's owner, then the category's, then default_owner. */
        overrides: z
          .strictObject({
            services: z.record(z.string().min(1), z.string().min(1)).default({}),
            categories: z.record(Name, z.string().min(1)).default({}),
          })
          .prefault({}),
      })
      .prefault({}),
    workflow: z
      .strictObject({
        /** status → the statuses it may move to; anything else is refused with `conflict`. */
        transitions: z.strictObject(Object.fromEntries(BACKLOG_STATUSES.map((s) => [s, z.array(Status).default(DEFAULT_TRANSITIONS[s])])) as Record<BacklogStatus, z.ZodDefault<z.ZodArray<typeof Status>>>).prefault({}),
      })
      .prefault({}),
  })
  .superRefine((p, ctx) => {
    for (const cat of Object.keys(p.ownership.overrides.categories)) {
      if (!p.categories[cat]) {
        ctx.addIssue({ code: "custom", path: ["ownership", "overrides", "categories", cat], message: `no such category; allowed: ${Object.keys(p.categories).join(", ")}` });
      }
    }
    for (const [from, tos] of Object.entries(p.workflow.transitions)) {
      if (tos.includes(from as BacklogStatus)) ctx.addIssue({ code: "custom", path: ["workflow", "transitions", from], message: `${from} may not list itself` });
    }
  });
export type BacklogPolicy = z.infer<typeof BacklogPolicy>;
export type BacklogTransitions = BacklogPolicy["workflow"]["transitions"];
