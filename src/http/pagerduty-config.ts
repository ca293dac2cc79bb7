/**
 * The `pagerduty` section of config/intake.yml: which routing keys opsbus accepts and what each
 * one stands for (service, source, env, kind), the per-key rate, and the severity map. A key is
 * written literally or as an environment reference `${PD_KEY_CHECKOUT}`, resolved at load; keys
 * are secrets, so everything else (logs, audit, the timeline) names a key by its `name`.
 */
import { z } from "zod";
import { OPS_ENVS } from "../config/env.js";
import { SEVERITIES, type Severity } from "../subjects/index.js";

export const PD_SEVERITIES = ["critical", "error", "warning", "info"] as const;
export type PdSeverity = (typeof PD_SEVERITIES)[number];

const RoutingKeyTarget = z.strictObject({
  service: z.string().min(1).max(128),
  source: z.string().min(1).max(256),
  env: z.enum(OPS_ENVS).optional(),
  kind: z.string().min(1).max(64).optional(),
  /** What logs and the audit call this key; default the env variable's name, else service/source. */
  name: z.string().min(1).max(128).optional(),
});

export const PagerDutyIntakeConfig = z.strictObject({
  routing_keys: z.record(z.string().min(1), RoutingKeyTarget).default({}),
  /** Events per minute per routing key (a token bucket); past it 429. */
  rate_per_minute: z.number().int().min(1).default(120),
  /** Bucket size: how many events a key may send at once; default one minute's worth. */
  burst: z.number().int().min(1).optional(),
  severity_map: z
    .record(z.enum(PD_SEVERITIES), z.enum(SEVERITIES))
    .default({ critical: "P1", error: "P2", warning: "P3", info: "P3" }),
});
export type PagerDutyIntakeConfig = z.infer<typeof PagerDutyIntakeConfig>;

export interface RoutingTarget {
  name: string;
  service: string;
  source: string;
  env?: (typeof OPS_ENVS)[number];
  kind?: string;
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
    byKey.set(key, { name, service: target.service, source: target.source, ...(target.env ? { env: target.env } : {}), ...(target.kind ? { kind: target.kind } : {}) });
  }
  return { byKey, unresolved };
}

export function opsSeverity(cfg: Pick<PagerDutyIntakeConfig, "severity_map">, s: PdSeverity): Severity {
  return cfg.severity_map[s] ?? (s === "critical" ? "P1" : s === "error" ? "P2" : "P3");
}
