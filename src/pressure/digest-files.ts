/**
 * The weekly platform digest files, `<reportsDir>/platform/YYYY-WW.{json,md}`, and how to read
 * them back. The backlog generator reads the latest one with `latestPlatformDigest`.
 *
 * JSON shape (`schema: "opsbus.platform_digest/1"`):
 * ```
 * { schema, week: "2026-11", from, to, generated_at, window_days, env: "prod" | null,
 *   totals: { services, requires_arch_review, band_counts: { low, medium, high, critical } },
 *   services: [            // highest score first
 *     { service, env, score, band: "low"|"medium"|"high"|"critical",
 *       requires_arch_review, review_reasons: string[],
 *       categories: ["incidents" | "recurrence" | "risk_trend" | "followups_overdue", …],  // contributing, most points first
 *       factors: { incidents|recurrence|risk_trend|followups_overdue: { points, value, max, detail } },
 *       stats: { incidents, by_severity: {P0..P3}, recurring_signatures: [{signature, count}],
 *                risk_score, risk_score_before, followups_overdue } } ] }
 * ```
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Band } from "../config/risk-policy.js";
import { OpsError } from "../errors.js";
import { formatIsoWeek, isoWeekOf } from "../util/iso-week.js";
import type { ServicePressure } from "./score.js";

export const PLATFORM_DIGEST_SCHEMA = "opsbus.platform_digest/1";

export interface PlatformDigest {
  schema: typeof PLATFORM_DIGEST_SCHEMA;
  /** ISO week `YYYY-WW`. */
  week: string;
  /** The window read: [from, to). */
  from: string;
  to: string;
  generated_at: string;
  window_days: number;
  /** The env the digest was limited to, or null for all. */
  env: string | null;
  totals: { services: number; requires_arch_review: number; band_counts: Record<Band, number> };
  services: ServicePressure[];
}

const WEEK_FILE = /^(\d{4}-\d{2})\.json$/;

export function platformDir(reportsDir: string): string {
  return join(reportsDir, "platform");
}

export function platformDigestPaths(reportsDir: string, week: string): { json: string; md: string } {
  const base = join(platformDir(reportsDir), week);
  return { json: `${base}.json`, md: `${base}.md` };
}

/** Weeks with a digest file, newest first. */
export async function platformDigestWeeks(reportsDir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(platformDir(reportsDir));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw err;
  }
  return names.flatMap((n) => WEEK_FILE.exec(n)?.[1] ?? []).sort().reverse();
}

/** The digest of `week`, or null when there is no file. */
export async function readPlatformDigest(reportsDir: string, week: string): Promise<PlatformDigest | null> {
  const path = platformDigestPaths(reportsDir, week).json;
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new OpsError("internal", `platform digest ${path} is not valid JSON`, { path });
  }
  const d = parsed as Partial<PlatformDigest> | null;
  if (!d || d.schema !== PLATFORM_DIGEST_SCHEMA || !Array.isArray(d.services)) {
    throw new OpsError("internal", `platform digest ${path} is not a ${PLATFORM_DIGEST_SCHEMA} document`, { path });
  }
  return d as PlatformDigest;
}

/**
 * The newest platform digest (by week), or null when none was written. With `now`, weeks after
 * the week of `now` are ignored (a digest written by a clock running ahead).
 */
export async function latestPlatformDigest(reportsDir: string, now?: Date): Promise<PlatformDigest | null> {
  const limit = now ? formatIsoWeek(isoWeekOf(now)) : undefined;
  for (const week of await platformDigestWeeks(reportsDir)) {
    if (limit !== undefined && week > limit) continue;
    return readPlatformDigest(reportsDir, week);
  }
  return null;
}
