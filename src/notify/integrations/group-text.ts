/**
 * The words every integration shows for an alert group's notification, as Alertmanager's default
 * templates put them: the title `[FIRING:2] <group label values> (<other common label values>)` or
 * `[RESOLVED] …`, and one line per alert.
 */
import type { AlertSummary, GroupNotification } from "../types.js";

/** The pairs every map has with the same value (Alertmanager's common labels and annotations). */
export function commonPairs(maps: ReadonlyArray<Record<string, string>>): Record<string, string> {
  if (!maps.length) return {};
  const [first, ...rest] = maps;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(first!)) if (rest.every((m) => m[k] === v)) out[k] = v;
  return out;
}

/** Names in Go's string order (the templates' `SortedPairs`). */
export const sortedPairs = (m: Record<string, string>): Array<[string, string]> => Object.entries(m).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

/**
 * Alertmanager's `__subject`: `[FIRING:<n>] <group label values> (<common label values not among
 * the group labels>)`, `[RESOLVED] …` once nothing fires.
 */
export function groupTitle(n: GroupNotification): string {
  const status = n.group.status === "firing" ? `FIRING:${n.group.firing}` : "RESOLVED";
  const groupValues = sortedPairs(n.route.group_labels).map(([, v]) => v);
  const common = commonPairs(n.alerts.map((a) => a.labels));
  const rest = sortedPairs(common).filter(([k]) => !Object.hasOwn(n.route.group_labels, k));
  const extra = rest.length ? ` (${rest.map(([, v]) => v).join(" ")})` : "";
  return `[${status}] ${groupValues.join(" ")}${extra}`.trimEnd();
}

/** One alert: `firing HighLatency: p99 above 2s (instance=web-1)`. */
export function alertLine(a: AlertSummary): string {
  const name = a.labels.alertname ?? a.annotations.summary ?? a.fingerprint;
  const summary = a.annotations.summary && a.labels.alertname ? `: ${a.annotations.summary}` : "";
  const where = a.labels.instance ? ` (instance=${a.labels.instance})` : "";
  return `${a.status} ${name}${summary}${where}`;
}

/** The alert lines, `… and N more` for the ones left out. */
export function alertLines(n: GroupNotification, max = Infinity): string[] {
  const shown = n.alerts.slice(0, max).map(alertLine);
  const more = n.alerts.length + n.truncated_alerts - shown.length;
  return more > 0 ? [...shown, `… and ${more} more`] : shown;
}

/** Label → value pairs shown as fields or facts. */
export function groupFacts(n: GroupNotification): Array<[string, string]> {
  const labels = sortedPairs(n.route.group_labels).map(([k, v]) => `${k}=${v}`).join(", ");
  return [
    ["Status", n.group.status],
    ["Firing", String(n.group.firing)],
    ["Resolved", String(n.group.resolved)],
    ["Group", labels || "(all alerts of the route)"],
    ["Receiver", n.receiver],
  ];
}
