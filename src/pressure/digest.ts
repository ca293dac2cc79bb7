/**
 * The weekly platform (architecture pressure) digest: load the window's incidents, follow-ups and
 * risk history once, score every service in memory, write `<reportsDir>/platform/YYYY-WW.{json,md}`.
 */
import { BANDS, type ArchitecturePressure, type Band } from "../config/risk-policy.js";
import { writeFileAtomic } from "../util/fs-atomic.js";
import { formatIsoWeek, isoWeekRange, lastCompleteIsoWeek, parseIsoWeek } from "../util/iso-week.js";
import { loadIncidentData } from "../risk/load.js";
import type { IncidentStore } from "../incidents/store.js";
import type { RiskHistoryStore } from "../risk/store.js";
import { PLATFORM_DIGEST_SCHEMA, platformDigestPaths, type PlatformDigest } from "./digest-files.js";
import { computePressure, PRESSURE_FACTORS, type PressureInput } from "./score.js";

const DAY_MS = 86_400_000;

export interface PressureDeps {
  incidents: IncidentStore;
  history: RiskHistoryStore;
  policy: ArchitecturePressure;
  reportsDir: string;
}

/** Pure: the digest document of the scored input. */
export function buildPlatformDigest(week: string, input: PressureInput, policy: ArchitecturePressure, env: string | null, now: Date): PlatformDigest {
  const services = computePressure(input, policy).filter((s) => env === null || s.env === env);
  const band_counts = Object.fromEntries(BANDS.map((b) => [b, 0])) as Record<Band, number>;
  for (const s of services) band_counts[s.band] += 1;
  return {
    schema: PLATFORM_DIGEST_SCHEMA,
    week,
    from: new Date(input.to.getTime() - policy.window_days * DAY_MS).toISOString(),
    to: input.to.toISOString(),
    generated_at: now.toISOString(),
    window_days: policy.window_days,
    env,
    totals: { services: services.length, requires_arch_review: services.filter((s) => s.requires_arch_review).length, band_counts },
    services,
  };
}

export async function loadPressureInput(d: Pick<PressureDeps, "incidents" | "history" | "policy">, to: Date, env?: string): Promise<PressureInput> {
  const f = env ? { env } : {};
  const { incidents, followupEvents } = await loadIncidentData(d.incidents, new Date(to.getTime() - d.policy.window_days * DAY_MS), to, f);
  // latestAt is inclusive; the window's end is exclusive.
  const end = new Date(to.getTime() - 1);
  const [riskNow, riskBefore] = await Promise.all([
    d.history.latestAt(end.toISOString(), f),
    d.history.latestAt(new Date(end.getTime() - d.policy.factors.risk_trend.trend_days * DAY_MS).toISOString(), f),
  ]);
  return { to, incidents, followupEvents, riskNow, riskBefore };
}

export interface PlatformDigestResult extends PlatformDigest {
  dry_run: boolean;
  /** The files written (dry run: that would be written). */
  files: { json: string; md: string };
}

/** The digest of `week` (default: the last complete ISO week); the current week is read up to now. */
export async function platformDigest(d: PressureDeps, opts: { week?: string; env?: string; dry_run: boolean }, now: Date): Promise<PlatformDigestResult> {
  const w = opts.week ? parseIsoWeek(opts.week) : lastCompleteIsoWeek(now);
  const week = formatIsoWeek(w);
  const range = isoWeekRange(w);
  const to = new Date(Math.min(range.to.getTime(), now.getTime()));
  const input = await loadPressureInput(d, to, opts.env);
  const digest = buildPlatformDigest(week, input, d.policy, opts.env ?? null, now);
  const files = platformDigestPaths(d.reportsDir, week);
  if (!opts.dry_run) {
    await writeFileAtomic(files.json, `${JSON.stringify(digest, null, 2)}\n`);
    await writeFileAtomic(files.md, platformDigestMarkdown(digest, d.policy.markdown_max_chars));
  }
  return { ...digest, dry_run: opts.dry_run, files };
}

const cell = (s: string) => s.replace(/\|/g, "\\|");

export function platformDigestMarkdown(d: PlatformDigest, maxChars: number): string {
  const head = [
    `# Platform priority digest ${d.week}`,
    "",
    `Architecture pressure over ${d.window_days} days, ${d.from} – ${d.to}${d.env ? ` (env ${d.env})` : ""}; generated ${d.generated_at}.`,
    "",
    `Services: ${d.totals.services}; requiring an architecture review: ${d.totals.requires_arch_review}. ` +
      `Bands: ${BANDS.map((b) => `${b} ${d.totals.band_counts[b]}`).join(", ")}.`,
    "",
  ];
  const review = d.services.filter((s) => s.requires_arch_review);
  head.push("## Architecture review required", "");
  if (review.length === 0) head.push("None.");
  for (const s of review) head.push(`- **${cell(s.service)}** (${s.env}): pressure ${s.score} (${s.band}) — ${s.review_reasons.join("; ")}`);
  head.push("", "## Services", "");
  if (d.services.length === 0) head.push("No incidents or risk history in the window.");
  else head.push(`| service | env | pressure | band | review | ${PRESSURE_FACTORS.join(" | ")} |`, `|---|---|---:|---|---|${PRESSURE_FACTORS.map(() => "---:").join("|")}|`);
  let text = head.join("\n");
  for (const s of d.services) {
    const row = `\n| ${cell(s.service)} | ${s.env} | ${s.score} | ${s.band} | ${s.requires_arch_review ? "yes" : "no"} | ${PRESSURE_FACTORS.map((k) => s.factors[k].points).join(" | ")} |`;
    if (text.length + row.length > maxChars - 80) {
      text += `\n\n…${d.services.length - d.services.indexOf(s)} more service(s) in the JSON file.`;
      break;
    }
    text += row;
  }
  return `${text}\n`;
}
