/**
 * The label set an incident is routed on (config/notification_routes.yml matchers and group_by).
 */
import type { IncidentSnapshot } from "./types.js";

/** The incident fields that are labels too, over any label of the same name. */
export const INCIDENT_FIELDS = ["service", "env", "severity"] as const;

/**
 * The incident's labels (the opening alert's labels, kind, source, alertname when it was sent),
 * then its service, env and severity over them: the incident's own fields win, so a route on
 * `severity="P0"` follows an escalation, and an Alertmanager `severity="critical"` label (which
 * intake already mapped to P0) cannot route past it. The title is not a label: free text is not
 * something to route on. On a null-prototype object (a `__proto__` label is just a label).
 */
export function incidentLabels(i: Pick<IncidentSnapshot, "labels" | (typeof INCIDENT_FIELDS)[number]>): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  const own = i.labels;
  for (const name of Object.keys(own)) out[name] = String(own[name]);
  for (const field of INCIDENT_FIELDS) out[field] = String(i[field]);
  return out;
}
