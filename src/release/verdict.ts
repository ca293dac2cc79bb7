/** Turns gate findings into verdicts under the env's modes, and gate verdicts into the release's. */
import type { GateFindings, GateMode, GateName, GateResult, ReleaseCheckResult } from "./types.js";

export function skippedGate(gate: GateName, mode: GateMode, env: string): GateResult {
  return { gate, mode, verdict: "skipped", reasons: [`${gate} is off in ${env}`], details: {} };
}

export function bypassedGate(gate: GateName, mode: GateMode, by: string, reason?: string): GateResult {
  return { gate, mode, verdict: "bypassed", reasons: [`bypassed by ${by}${reason ? `: ${reason}` : ""}`], details: {} };
}

/**
 * A gate with problems warns in warn mode and fails in strict mode, its reasons being the problems
 * (notes move to details); without problems it passes, its reasons being the notes.
 */
export function gateVerdict(gate: GateName, mode: Exclude<GateMode, "off">, f: GateFindings): GateResult {
  if (f.problems.length === 0) return { gate, mode, verdict: "pass", reasons: f.notes, details: f.details };
  const details = f.notes.length ? { ...f.details, notes: f.notes } : f.details;
  return { gate, mode, verdict: mode === "strict" ? "fail" : "warn", reasons: f.problems, details };
}

/** The release fails when any gate failed (strict); warn-mode failures only add warnings. */
export function composeRelease(
  head: Pick<ReleaseCheckResult, "service" | "env" | "checked_at">,
  gates: GateResult[],
): ReleaseCheckResult {
  const blocked_by = gates.filter((g) => g.verdict === "fail").map((g) => g.gate);
  const warnings = gates.filter((g) => g.verdict === "warn").flatMap((g) => g.reasons.map((r) => `${g.gate}: ${r}`));
  const pass = blocked_by.length === 0;
  return { ...head, pass, verdict: pass ? "pass" : "fail", blocked_by, warnings, gates };
}
