/**
 * risk_watch: the current risk score of the service (or of every service in the env), the same
 * computation as risk_history_tool.get, against the policy's fail_at_band.
 */
import type { ReleaseGatePolicy } from "../config/release-policy.js";
import { BANDS, type RiskAttribution, type RiskPolicy } from "../config/risk-policy.js";
import { loadRiskInput, type RiskSources } from "../risk/load.js";
import { computeRisk } from "../risk/score.js";
import type { GateFindings } from "./types.js";

export interface RiskGateDeps extends RiskSources {
  riskPolicy: RiskPolicy;
  attribution: RiskAttribution;
  policy: ReleaseGatePolicy["risk_watch"];
}

const rank = (band: string) => BANDS.indexOf(band as (typeof BANDS)[number]);

export async function riskWatch(d: RiskGateDeps, q: { service?: string; env: string; now: Date }): Promise<GateFindings> {
  const scope = { env: q.env, ...(q.service ? { service: q.service } : {}) };
  const input = await loadRiskInput(d, d.attribution, q.now, scope);
  const scores = computeRisk({ ...input, services: q.service ? [q.service] : d.riskPolicy.services, defaultEnv: q.env }, d.attribution, d.riskPolicy).filter(
    (r) => r.env === q.env && (!q.service || r.service === q.service),
  );
  const limit = d.policy.fail_at_band;
  const f: GateFindings = {
    problems: [],
    notes: [],
    details: { fail_at_band: limit, scores: scores.map((r) => ({ service: r.service, score: r.score, band: r.band, attribution: r.attribution })) },
  };
  for (const r of scores) {
    const top = r.attribution.filter((c) => c.points > 0).sort((a, b) => b.points - a.points).map((c) => `${c.factor} ${c.points}`).join(", ");
    const line = `${r.service} risk ${r.score} (${r.band})${top ? `: ${top}` : ""}`;
    if (rank(r.band) >= rank(limit)) f.problems.push(`${line}; band ${r.band} is at or above ${limit}`);
    else f.notes.push(line);
  }
  if (scores.length === 0) f.notes.push(`no service with risk data in ${q.env}`);
  return f;
}
