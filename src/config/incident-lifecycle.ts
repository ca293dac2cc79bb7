/**
 * `resolve:` in `config/incident_escalation.yml`: incidents follow their alerts. Per severity of
 * the incident, whether it is resolved automatically and how long every one of its alerts must
 * have been resolved first. Reopening a resolved incident on a new firing uses the bridge's
 * `reopen_window_minutes` (alert_routing_policy.yml), as for incidents closed by hand.
 */
import { z } from "zod";

const QUIET_MAX_MINUTES = 7 * 24 * 60;

export const SeverityResolve = z.strictObject({
  /** false: the incident stays open until a human closes it (e.g. P0, which wants a postmortem). */
  auto_resolve: z.boolean().default(true),
  /** Minutes every alert of the incident must have been resolved before the incident is. */
  resolve_quiet_minutes: z.number().int().min(0).max(QUIET_MAX_MINUTES).default(5),
});
export type SeverityResolve = z.infer<typeof SeverityResolve>;

export const AutoResolvePolicy = z.strictObject({
  P0: SeverityResolve.prefault({ auto_resolve: false, resolve_quiet_minutes: 15 }),
  P1: SeverityResolve.prefault({ resolve_quiet_minutes: 10 }),
  P2: SeverityResolve.prefault({ resolve_quiet_minutes: 5 }),
  P3: SeverityResolve.prefault({ resolve_quiet_minutes: 5 }),
});
export type AutoResolvePolicy = z.infer<typeof AutoResolvePolicy>;
