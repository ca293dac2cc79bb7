/**
 * Weekly generation, pure: platform digest + policy → the upserts to run. One item per
 * (service, category) whose trigger holds, keyed `<prefix>:YYYY-WW:<env>:<service>:<category>`,
 * most urgent first (priority, then service score), capped at max_items_per_run.
 */
import type { BacklogPolicy } from "../config/backlog-policy.js";
import type { BacklogEnv, BacklogUpsert } from "./store.js";
import type { DigestService, PlatformDigest } from "./platform-digest.js";

const DAY_MS = 86_400_000;
const ARCH_REVIEW_FACTOR = "arch_review";

export interface GenerationPlan {
  week: string;
  env: BacklogEnv;
  upserts: BacklogUpsert[];
  /** Items that matched but were over max_items_per_run: their dedupe keys. */
  over_cap: string[];
  services_considered: number;
}

export function dedupeKey(prefix: string, week: string, env: string, service: string, category: string): string {
  return `${prefix}:${week}:${env}:${service}:${category}`;
}

export function ownerFor(policy: BacklogPolicy, service: string, category: string): string {
  const o = policy.ownership;
  return o.overrides.services[service] ?? o.overrides.categories[category] ?? o.default_owner;
}

/** `now` + days, as YYYY-MM-DD (UTC). */
export function dueDate(now: Date, days: number): string {
  const midnight = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  return new Date(midnight + days * DAY_MS).toISOString().slice(0, 10);
}

function factorValue(s: DigestService, factor: string): number {
  if (factor === ARCH_REVIEW_FACTOR) return s.requires_arch_review ? 1 : (s.factors[factor] ?? 0);
  return s.factors[factor] ?? 0;
}

const fill = (template: string, vars: Record<string, string | number>) => template.replace(/\{(\w+)\}/g, (m, k: string) => (k in vars ? String(vars[k]) : m));

export function planWeeklyBacklog(digest: PlatformDigest, policy: BacklogPolicy, env: BacklogEnv, now: Date): GenerationPlan {
  // A service without env is in the digest's env, else in the policy's default env.
  const services = digest.services.filter((s) => (s.env ?? digest.env ?? policy.defaults.env) === env);
  const rank = (p: string) => Number(p.slice(1));
  const candidates: Array<{ upsert: BacklogUpsert; score: number }> = [];
  for (const s of services) {
    for (const [category, cat] of Object.entries(policy.categories)) {
      const factor = cat.factor ?? category;
      const value = factorValue(s, factor);
      if (value <= 0 || value < cat.min) continue;
      if (cat.bands.length > 0 && !cat.bands.includes(s.band)) continue;
      const vars = { service: s.service, env, week: digest.week, value };
      candidates.push({
        score: s.score,
        upsert: {
          dedupe_key: dedupeKey(policy.dedupe.key_prefix, digest.week, env, s.service, category),
          env,
          service: s.service,
          category,
          title: fill(cat.title, vars),
          description: `Platform digest ${digest.week}: ${s.service} (${env}) band ${s.band}, score ${s.score}; ${factor} = ${value} (min ${cat.min}).`,
          priority: cat.priority,
          owner: ownerFor(policy, s.service, category),
          due_date: dueDate(now, cat.due_days),
          source: "digest",
          meta: { week: digest.week, band: s.band, score: s.score, factor, value, requires_arch_review: s.requires_arch_review },
        },
      });
    }
  }
  candidates.sort(
    (a, b) => rank(a.upsert.priority) - rank(b.upsert.priority) || b.score - a.score ||
      (a.upsert.dedupe_key < b.upsert.dedupe_key ? -1 : a.upsert.dedupe_key > b.upsert.dedupe_key ? 1 : 0),
  );
  const cap = policy.defaults.max_items_per_run;
  return {
    week: digest.week,
    env,
    upserts: candidates.slice(0, cap).map((c) => c.upsert),
    over_cap: candidates.slice(cap).map((c) => c.upsert.dedupe_key),
    services_considered: services.length,
  };
}
