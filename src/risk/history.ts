/**
 * The risk history operations behind risk_history_tool: snapshot (hourly, idempotent per service
 * and hour), the daily digest, a service's current score and series, and retention cleanup.
 * Each write takes `dry_run`: compute and answer what would be written, write nothing.
 */
import type { RiskAttribution, RiskPolicy } from "../config/risk-policy.js";
import { invalid } from "../errors.js";
import { writeFileAtomic } from "../util/fs-atomic.js";
import { hourOf, riskSnapshotId, RISK_BOUNDS, type RiskHistoryStore, type RiskSnapshot } from "./store.js";
import { buildRiskDigest, riskDigestMarkdown, riskDigestPaths, type RiskDigest } from "./digest.js";
import { loadRiskInput, type RiskSources, type ScopeFilter } from "./load.js";
import { computeRisk, type ServiceRisk } from "./score.js";

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;

export interface RiskDeps extends RiskSources {
  history: RiskHistoryStore;
  policy: RiskPolicy;
  attribution: RiskAttribution;
  /** `<reportsDir>/risk/YYYY-MM-DD.{json,md}` */
  reportsDir: string;
}

/** Scores of every service now (optionally one env or service); listed services score in `env` or prod. */
export async function currentRisk(d: RiskDeps, now: Date, f: ScopeFilter = {}): Promise<ServiceRisk[]> {
  const input = await loadRiskInput(d, d.attribution, now, f);
  const listed = f.service ? [f.service] : d.policy.services;
  const all = computeRisk({ ...input, services: listed, defaultEnv: f.env ?? "prod" }, d.attribution, d.policy);
  return all.filter((r) => (!f.env || r.env === f.env) && (!f.service || r.service === f.service));
}

export function toSnapshot(r: ServiceRisk, now: Date): RiskSnapshot {
  const hour = hourOf(now);
  return { id: riskSnapshotId(r.env, r.service, hour), env: r.env, service: r.service, hour, ts: now.toISOString(), score: r.score, band: r.band, attribution: r.attribution };
}

export interface SnapshotResult {
  hour: string;
  dry_run: boolean;
  /** Snapshots written by this call (or, dry run, that would be). */
  inserted: number;
  /** Services that already had this hour's snapshot: kept as stored, and shown as stored. */
  existing: number;
  snapshots: Array<RiskSnapshot & { stored: "inserted" | "existing" | "would_insert" }>;
}

export async function takeSnapshot(d: RiskDeps, opts: { env?: string; dry_run: boolean }, now: Date): Promise<SnapshotResult> {
  const hour = hourOf(now);
  const computed = (await currentRisk(d, now, opts.env ? { env: opts.env } : {})).map((r) => toSnapshot(r, now));
  const storedNow = async () => {
    const until = new Date(Date.parse(hour) + HOUR_MS).toISOString();
    const rows = await d.history.list({ since: hour, until, limit: RISK_BOUNDS.maxLimit, ...(opts.env ? { env: opts.env } : {}) });
    return new Map(rows.map((s) => [s.id, s]));
  };
  if (opts.dry_run) {
    const stored = await storedNow();
    const snapshots = computed.map((s) => (stored.has(s.id) ? { ...stored.get(s.id)!, stored: "existing" as const } : { ...s, stored: "would_insert" as const }));
    return summary(hour, true, snapshots);
  }
  const put = await d.history.put(computed);
  const inserted = new Set(put.inserted);
  const stored = put.existing.length ? await storedNow() : new Map<string, RiskSnapshot>();
  const snapshots = computed.map((s) => (inserted.has(s.id) ? { ...s, stored: "inserted" as const } : { ...(stored.get(s.id) ?? s), stored: "existing" as const }));
  return summary(hour, false, snapshots);
}

function summary(hour: string, dry_run: boolean, snapshots: SnapshotResult["snapshots"]): SnapshotResult {
  const existing = snapshots.filter((s) => s.stored === "existing").length;
  return { hour, dry_run, inserted: snapshots.length - existing, existing, snapshots };
}

export interface RiskDigestResult extends RiskDigest {
  dry_run: boolean;
  /** The files written (dry run: that would be written). */
  files: { json: string; md: string };
}

/**
 * The digest of `date` (default: today, UTC). For today the current hour's snapshot is taken first
 * (idempotently; on a dry run computed, not stored), so the digest never misses the latest scores.
 */
export async function riskDigest(d: RiskDeps, opts: { date?: string; env?: string; dry_run: boolean }, now: Date): Promise<RiskDigestResult> {
  const today = now.toISOString().slice(0, 10);
  const date = opts.date ?? today;
  if (!DATE_RE.test(date) || Number.isNaN(Date.parse(`${date}T00:00:00Z`))) throw invalid(`date must be YYYY-MM-DD, got "${date}"`);
  if (date > today) throw invalid(`date ${date} is in the future (today is ${today})`);
  const asOf = date === today ? now : new Date(Date.parse(`${date}T00:00:00Z`) + DAY_MS - 1);
  const scope = opts.env ? { env: opts.env } : {};

  let current = await d.history.latestAt(asOf.toISOString(), scope);
  if (date === today) {
    const taken = await takeSnapshot(d, { ...scope, dry_run: opts.dry_run }, now);
    const byPair = new Map(current.map((s) => [`${s.env}\u0000${s.service}`, s]));
    for (const s of taken.snapshots) {
      const { stored: _stored, ...snap } = s;
      byPair.set(`${s.env}\u0000${s.service}`, snap);
    }
    current = [...byPair.values()];
  }
  const [day, week] = await Promise.all([
    d.history.latestAt(new Date(asOf.getTime() - DAY_MS).toISOString(), scope),
    d.history.latestAt(new Date(asOf.getTime() - 7 * DAY_MS).toISOString(), scope),
  ]);
  const digest = buildRiskDigest(date, asOf, current, { day, week }, d.policy.digest.top_risers, now);
  const files = riskDigestPaths(d.reportsDir, date);
  if (!opts.dry_run) {
    await writeFileAtomic(files.json, `${JSON.stringify(digest, null, 2)}\n`);
    await writeFileAtomic(files.md, riskDigestMarkdown(digest));
  }
  return { ...digest, dry_run: opts.dry_run, files };
}

/** A service's snapshots over the last `hours` (oldest first). */
export async function riskSeries(history: RiskHistoryStore, q: { service: string; env?: string; hours: number }, now: Date) {
  const since = new Date(now.getTime() - q.hours * HOUR_MS);
  const rows = await history.list({
    service: q.service,
    ...(q.env ? { env: q.env } : {}),
    since: since.toISOString(),
    until: new Date(now.getTime() + 1).toISOString(),
    limit: RISK_BOUNDS.maxLimit,
  });
  return {
    service: q.service,
    ...(q.env ? { env: q.env } : {}),
    from: since.toISOString(),
    to: now.toISOString(),
    count: rows.length,
    points: rows.map((s) => ({ hour: s.hour, env: s.env, score: s.score, band: s.band })),
  };
}

export async function riskCleanup(history: RiskHistoryStore, opts: { retention_days: number; dry_run: boolean }, now: Date) {
  const cutoff = new Date(now.getTime() - opts.retention_days * DAY_MS);
  const deleted = opts.dry_run ? await history.countOlderThan(cutoff) : await history.purgeOlderThan(cutoff);
  return { retention_days: opts.retention_days, cutoff: cutoff.toISOString(), dry_run: opts.dry_run, deleted };
}
