/**
 * Incidents follow their alerts: whether an open incident is resolved now, as a pure function of
 * the incident, its alerts and the policy. The sweep (auto-resolve.ts) loads, asks, and commits
 * through the store's compare-and-set close.
 */
import type { AutoResolvePolicy } from "../config/incident-lifecycle.js";
import type { AlertRecord } from "../subjects/index.js";
import type { IncidentEvent, IncidentRecord } from "./store.js";

const MINUTE = 60_000;

/**
 * The alert an event records as absorbed into its incident: the bridge's own `alert` event (or
 * `note` inside the triage cooldown) carries `meta.alert_ref` (see absorb-plan.ts). The Postgres
 * store asks the same in SQL (postgres-sql.ts ALERT_REFS).
 */
export function absorbedAlertRef(e: Pick<IncidentEvent, "type" | "meta">): string | undefined {
  const ref = e.meta.alert_ref;
  return (e.type === "alert" || e.type === "note") && typeof ref === "string" && ref !== "" ? ref : undefined;
}

/** The alert fields the decision reads. */
export type ResolvableAlert = Pick<AlertRecord, "alert_ref" | "ends_at" | "resolved_at">;

export type AutoResolveDecision =
  | { resolve: true; resolution: string; quiet_minutes: number; last_resolved_at: string; alert_refs: string[] }
  | { resolve: false; reason: string };

/**
 * When the alert stopped firing, or undefined while it fires. An alert stored before the
 * lifecycle existed has neither `ends_at` nor `resolved_at`: it counts as firing, so an incident
 * is never resolved on alerts that cannot say they ended.
 */
export function resolvedSince(a: ResolvableAlert, now: Date): number | undefined {
  if (a.resolved_at !== undefined) {
    const at = Date.parse(a.resolved_at);
    return Number.isNaN(at) ? undefined : at;
  }
  if (a.ends_at === undefined) return undefined;
  const ends = Date.parse(a.ends_at);
  return !Number.isNaN(ends) && ends <= now.getTime() ? ends : undefined;
}

/**
 * Resolve when the incident is open (or mitigating), its severity allows it, it has alerts, every
 * one of them was found, and each has been resolved for at least the severity's quiet period.
 * `alertRefs` are the refs the incident absorbed; `alerts` what the alert store returned for them.
 */
export function planAutoResolve(
  incident: Pick<IncidentRecord, "status" | "severity">,
  alertRefs: readonly string[],
  alerts: readonly ResolvableAlert[],
  policy: AutoResolvePolicy,
  now: Date,
): AutoResolveDecision {
  if (incident.status === "closed") return { resolve: false, reason: "closed" };
  const rule = policy[incident.severity];
  if (!rule.auto_resolve) return { resolve: false, reason: `auto_resolve is off for ${incident.severity}` };
  const refs = [...new Set(alertRefs)];
  if (refs.length === 0) return { resolve: false, reason: "no alerts" };
  const byRef = new Map(alerts.map((a) => [a.alert_ref, a]));
  let last = -Infinity;
  for (const ref of refs) {
    const a = byRef.get(ref);
    // A ref the alert store no longer has (retention) says nothing about its state: keep open.
    if (!a) return { resolve: false, reason: `alert ${ref} not found` };
    const since = resolvedSince(a, now);
    if (since === undefined) return { resolve: false, reason: `alert ${ref} is firing` };
    last = Math.max(last, since);
  }
  const quietMs = rule.resolve_quiet_minutes * MINUTE;
  if (now.getTime() - last < quietMs) return { resolve: false, reason: `quiet for less than ${rule.resolve_quiet_minutes} min` };
  const n = rule.resolve_quiet_minutes;
  return {
    resolve: true,
    resolution: `auto-resolved: all alerts resolved for ${n} min`,
    quiet_minutes: n,
    last_resolved_at: new Date(last).toISOString(),
    alert_refs: refs,
  };
}
