/**
 * The release gate's vocabulary. A gate evaluated to its findings: `problems` are what would stop a
 * release; the env's mode turns them into a verdict (warn → `warn`, strict → `fail`).
 */
import type { GateMode, GateName, ReleaseEnv } from "../config/release-policy.js";

export type { GateMode, GateName, ReleaseEnv };

export const GATE_VERDICTS = ["pass", "warn", "fail", "skipped", "bypassed"] as const;
export type GateVerdict = (typeof GATE_VERDICTS)[number];

/** What one gate found, before the mode is applied. */
export interface GateFindings {
  /** Each one a reason the release should not go out; empty = the gate holds. */
  problems: string[];
  /** Informational lines (readings, counts) shown even when the gate holds. */
  notes: string[];
  /** Structured evidence for callers that want numbers, not sentences. */
  details: Record<string, unknown>;
}

export interface GateResult {
  gate: GateName;
  mode: GateMode;
  verdict: GateVerdict;
  /** Why this verdict: the problems, or why it was skipped/bypassed, or what was checked. */
  reasons: string[];
  details: Record<string, unknown>;
}

export interface ReleaseCheckInput {
  service?: string;
  env: ReleaseEnv;
  /** `false` bypasses the gate (needs tools.release.bypass). */
  run: Record<GateName, boolean>;
  reason?: string;
}

export interface BypassRecord {
  gates: GateName[];
  by: string;
  role: string;
  reason?: string;
  /** Where it was recorded besides the audit log: the service's open incidents. */
  incident_ids: string[];
}

export interface ReleaseCheckResult {
  service: string | null;
  env: ReleaseEnv;
  checked_at: string;
  /** False when a strict gate failed. */
  pass: boolean;
  verdict: "pass" | "fail";
  /** Gates whose failure blocks the release. */
  blocked_by: GateName[];
  /** `<gate>: <reason>` of every warn-mode failure. */
  warnings: string[];
  gates: GateResult[];
  bypass?: BypassRecord;
}

/** Who asks for a check: the tool API's caller, as much of it as the release gate reads. */
export interface ReleaseCaller {
  agent_id: string;
  role: string;
  entitlements: ReadonlySet<string>;
  /** `nats`, `http`, `scheduler`, … */
  channel: string;
}
