/**
 * The `pagerduty` section of config/intake.yml (schema in src/config/intake-policy.ts): which
 * routing keys opsbus accepts and what each one stands for (service, source, env, kind), the
 * per-key rate, and the severity map. A key is
 * written literally or as an environment reference `${PD_KEY_CHECKOUT}`, resolved at load; keys
 * are secrets, so everything else (logs, audit, the timeline) names a key by its `name`.
 */
import type { OPS_ENVS } from "../config/env.js";
import { PagerDutyIntake, PD_SEVERITIES } from "../config/intake-policy.js";
import type { Severity } from "../subjects/index.js";

/** The schema lives with the rest of config/intake.yml (policies.intake.pagerduty). */
export { PD_SEVERITIES };
export const PagerDutyIntakeConfig = PagerDutyIntake;
export type PagerDutyIntakeConfig = PagerDutyIntake;
export type PdSeverity = (typeof PD_SEVERITIES)[number];

export interface RoutingTarget {
  name: string;
  service: string;
  source: string;
  env?: (typeof OPS_ENVS)[number];
  kind?: string;
  /** The key's alerts end this long after their last trigger; unset: at their resolve only. */
  resolve_timeout_minutes?: number;
}

const ENV_REF = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/;

export interface ResolvedKeys {
  /** Routing key → what it stands for. */
  byKey: ReadonlyMap<string, RoutingTarget>;
  /** Env references whose variable is unset or empty: those keys accept nothing (said once at start). */
  unresolved: string[];
}

/** Resolves env references; an unset variable leaves its entry out (never matches an empty key). */
export function resolveRoutingKeys(cfg: Pick<PagerDutyIntakeConfig, "routing_keys">, env: Readonly<Record<string, string | undefined>>): ResolvedKeys {
  const byKey = new Map<string, RoutingTarget>();
  const unresolved: string[] = [];
  for (const [written, target] of Object.entries(cfg.routing_keys)) {
    const ref = ENV_REF.exec(written)?.[1];
    const key = ref === undefined ? written : env[ref];
    if (!key) {
      unresolved.push(ref ?? written);
      continue;
    }
    const name = target.name ?? ref ?? `${target.service}/${target.source}`;
    byKey.set(key, { name, service: target.service, source: target.source, ...(target.env ? { env: target.env } : {}), ...(target.kind ? { kind: target.kind } : {}), ...(target.resolve_timeout_minutes ? { resolve_timeout_minutes: target.resolve_timeout_minutes } : {}) });
  }
  return { byKey, unresolved };
}

export function opsSeverity(cfg: Pick<PagerDutyIntakeConfig, "severity_map">, s: PdSeverity): Severity {
  return cfg.severity_map[s] ?? (s === "critical" ? "P1" : s === "error" ? "P2" : "P3");
}
