/**
 * release_check: every gate of the env under its mode (off → skipped, bypass → bypassed, else
 * evaluated), composed into one verdict. A gate that cannot be evaluated (a store down) counts as
 * a failed gate with the reason, so a strict gate fails closed instead of the call crashing.
 */
import type { ObservabilitySources, ReleaseGatePolicy, SloPolicy } from "../config/release-policy.js";
import { GATES } from "../config/release-policy.js";
import type { RiskAttribution, RiskPolicy } from "../config/risk-policy.js";
import { scrubSecrets, type Logger } from "../log.js";
import type { AlertStore } from "../alerts/store.js";
import { authorizeBypass, recordBypass, type BypassDeps } from "./bypass.js";
import { followupWatch } from "./followup-gate.js";
import { riskWatch } from "./risk-gate.js";
import { sloWatch } from "./slo-gate.js";
import type { GateFindings, GateName, GateResult, ReleaseCaller, ReleaseCheckInput, ReleaseCheckResult } from "./types.js";
import { bypassedGate, composeRelease, gateVerdict, skippedGate } from "./verdict.js";

export interface ReleasePolicies {
  releaseGate: ReleaseGatePolicy;
  slo: SloPolicy;
  observabilitySources: ObservabilitySources;
  riskPolicy: RiskPolicy;
  riskAttribution: RiskAttribution;
}

export interface ReleaseDeps extends BypassDeps {
  alerts: AlertStore;
  policies: ReleasePolicies;
}

export interface CheckHelpers {
  caller: ReleaseCaller;
  logger: Logger;
  signal?: AbortSignal;
  now(): Date;
}

type Query = { service?: string; env: string; now: Date; signal?: AbortSignal };

function evaluate(d: ReleaseDeps, gate: GateName, q: Query): Promise<GateFindings> {
  const p = d.policies;
  switch (gate) {
    case "slo_watch":
      return sloWatch({ alerts: d.alerts, slo: p.slo, sources: p.observabilitySources }, q);
    case "followup_watch":
      return followupWatch({ incidents: d.incidents, policy: p.releaseGate.followup_watch }, q);
    case "risk_watch":
      return riskWatch(
        { incidents: d.incidents, alerts: d.alerts, riskPolicy: p.riskPolicy, attribution: p.riskAttribution, policy: p.releaseGate.risk_watch },
        q,
      );
  }
}

async function runGate(d: ReleaseDeps, gate: GateName, mode: "warn" | "strict", q: Query, log: Logger): Promise<GateResult> {
  try {
    return gateVerdict(gate, mode, await evaluate(d, gate, q));
  } catch (err) {
    if (q.signal?.aborted) throw err;
    log.warn({ err, gate }, "release gate could not be evaluated");
    const why = scrubSecrets(err instanceof Error ? err.message : String(err));
    return gateVerdict(gate, mode, { problems: [`${gate} could not be evaluated: ${why}`], notes: [], details: {} });
  }
}

export async function releaseCheck(d: ReleaseDeps, input: ReleaseCheckInput, h: CheckHelpers): Promise<ReleaseCheckResult> {
  const requested = GATES.filter((g) => !input.run[g]);
  authorizeBypass(h.caller, requested);
  const now = h.now();
  const modes = d.policies.releaseGate.envs[input.env];
  const q: Query = { env: input.env, now, ...(input.service ? { service: input.service } : {}), ...(h.signal ? { signal: h.signal } : {}) };
  const log = h.logger.child({ ...(input.service ? { service: input.service } : {}), env: input.env });

  const gates = await Promise.all(
    GATES.map((gate) => {
      const mode = modes[gate];
      if (mode === "off") return skippedGate(gate, mode, input.env);
      if (!input.run[gate]) return bypassedGate(gate, mode, h.caller.agent_id, input.reason);
      return runGate(d, gate, mode, q, log);
    }),
  );
  const check = composeRelease({ service: input.service ?? null, env: input.env, checked_at: now.toISOString() }, gates);
  // Only a gate that would have run is bypassed; skipping an `off` gate changes nothing.
  const bypassed = gates.filter((g) => g.verdict === "bypassed").map((g) => g.gate);
  if (bypassed.length === 0) return check;
  const bypass = await recordBypass(d, { caller: h.caller, gates: bypassed, ...(input.reason ? { reason: input.reason } : {}), check, now, logger: log });
  log.info({ bypassed, verdict: check.verdict, incidents: bypass.incident_ids }, "release gate bypassed");
  return { ...check, bypass };
}
