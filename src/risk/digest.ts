/**
 * The daily risk digest: each service's latest score and band, its change over 24 h and 7 d (from
 * risk history) and the top risers; written to `<reportsDir>/risk/YYYY-MM-DD.{json,md}`.
 */
import { join } from "node:path";
import { BANDS, type Band } from "../config/risk-policy.js";
import type { RiskSnapshot } from "./store.js";
import { round2, type RiskFactor } from "./score.js";

export interface RiskDigestEntry {
  service: string;
  env: string;
  score: number;
  band: Band;
  /** The hour of the snapshot the score comes from. */
  hour: string;
  /** Score minus the latest score at least 24 h (7 d) earlier; null without such a snapshot. */
  delta_24h: number | null;
  delta_7d: number | null;
  /** The factor adding the most points, if any added points. */
  top_factor: RiskFactor | null;
}

export interface RiskDigest {
  /** YYYY-MM-DD (UTC) */
  date: string;
  /** The instant the scores stand for: now for today, the day's end for a past day. */
  as_of: string;
  generated_at: string;
  band_counts: Record<Band, number>;
  /** Highest score first. */
  services: RiskDigestEntry[];
  /** delta_24h > 0, largest first; at most the policy's top_risers. */
  top_risers: RiskDigestEntry[];
}

const DAY_MS = 86_400_000;
const pairKey = (s: { env: string; service: string }) => `${s.env}\u0000${s.service}`;

function topFactor(s: RiskSnapshot): RiskFactor | null {
  let best: RiskSnapshot["attribution"][number] | undefined;
  for (const c of s.attribution) if (c.points > 0 && (!best || c.points > best.points)) best = c;
  return best?.factor ?? null;
}

/**
 * Pure. `current` are the latest snapshots at `asOf`; those older than 24 h are left out (the
 * service stopped being scored). Baselines are the latest snapshots at asOf − 24 h and − 7 d.
 */
export function buildRiskDigest(
  date: string,
  asOf: Date,
  current: RiskSnapshot[],
  baselines: { day: RiskSnapshot[]; week: RiskSnapshot[] },
  topRisers: number,
  now: Date,
): RiskDigest {
  const day = new Map(baselines.day.map((s) => [pairKey(s), s.score]));
  const week = new Map(baselines.week.map((s) => [pairKey(s), s.score]));
  const delta = (m: Map<string, number>, s: RiskSnapshot) => (m.has(pairKey(s)) ? round2(s.score - m.get(pairKey(s))!) : null);
  const fresh = current.filter((s) => Date.parse(s.hour) > asOf.getTime() - DAY_MS);
  const services = fresh
    .map((s): RiskDigestEntry => ({
      service: s.service,
      env: s.env,
      score: s.score,
      band: s.band,
      hour: s.hour,
      delta_24h: delta(day, s),
      delta_7d: delta(week, s),
      top_factor: topFactor(s),
    }))
    .sort((a, b) => b.score - a.score || a.env.localeCompare(b.env) || a.service.localeCompare(b.service));
  const band_counts = Object.fromEntries(BANDS.map((b) => [b, 0])) as Record<Band, number>;
  for (const s of services) band_counts[s.band] += 1;
  const top_risers = services
    .filter((s) => s.delta_24h !== null && s.delta_24h > 0)
    .sort((a, b) => b.delta_24h! - a.delta_24h! || (b.delta_7d ?? 0) - (a.delta_7d ?? 0) || a.service.localeCompare(b.service))
    .slice(0, topRisers);
  return { date, as_of: asOf.toISOString(), generated_at: now.toISOString(), band_counts, services, top_risers };
}

export function riskDigestPaths(reportsDir: string, date: string): { json: string; md: string } {
  const base = join(reportsDir, "risk", date);
  return { json: `${base}.json`, md: `${base}.md` };
}

const signed = (n: number | null) => (n === null ? "—" : n > 0 ? `+${n}` : String(n));
const cell = (s: string) => s.replace(/\|/g, "\\|");

export function riskDigestMarkdown(d: RiskDigest): string {
  const lines = [
    `# Risk digest ${d.date}`,
    "",
    `Scores as of ${d.as_of} (generated ${d.generated_at}).`,
    "",
    `Bands: ${BANDS.map((b) => `${b} ${d.band_counts[b]}`).join(", ")}.`,
    "",
    "## Top risers (24 h)",
    "",
  ];
  if (d.top_risers.length === 0) lines.push("None: no service's score rose in the last 24 h.");
  for (const r of d.top_risers) lines.push(`- **${cell(r.service)}** (${r.env}): ${r.score} (${r.band}), ${signed(r.delta_24h)} in 24 h, ${signed(r.delta_7d)} in 7 d`);
  lines.push("", "## Services", "");
  if (d.services.length === 0) {
    lines.push("No risk snapshots in the last 24 h. Run risk_history_tool.snapshot first.");
  } else {
    lines.push("| service | env | score | band | Δ 24 h | Δ 7 d | top factor |", "|---|---|---:|---|---:|---:|---|");
    for (const s of d.services) {
      lines.push(`| ${cell(s.service)} | ${s.env} | ${s.score} | ${s.band} | ${signed(s.delta_24h)} | ${signed(s.delta_7d)} | ${s.top_factor ?? "—"} |`);
    }
  }
  return `${lines.join("\n")}\n`;
}
