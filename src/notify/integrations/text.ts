/** The words every integration shows for a notification: one headline, one line on the moment, the facts. */
import type { IncidentNotification as Notification, MomentKind } from "../types.js";

const MOMENT_WORDS: Record<MomentKind, string> = {
  opened: "opened",
  escalated: "escalated",
  reopened: "reopened",
  acknowledged: "acknowledged",
  resolved: "resolved",
  repeat: "still open",
};

/** `text` cut to `max` characters, ending with … when cut. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  // Never split a surrogate pair.
  let cut = max - 1;
  if (cut > 0 && /[\uD800-\uDBFF]/.test(text[cut - 1]!)) cut--;
  return `${text.slice(0, cut)}…`;
}

/** The severity the notification is about: an escalation's new one. */
export const severityOf = (n: Notification): string => n.moment.to_severity ?? n.incident.severity;

/** `[P1] opened: <title> (checkout/prod)`: subject line, summary, fallback text. */
export function headline(n: Notification): string {
  return `[${severityOf(n)}] ${MOMENT_WORDS[n.moment.kind]}: ${n.incident.title} (${n.incident.service}/${n.incident.env})`;
}

/** What happened, in a few words: `escalated P2 → P1 by escalation`, `acknowledged by alice`. */
export function momentLine(n: Notification): string {
  const m = n.moment;
  const by = m.by ? ` by ${m.by}` : "";
  switch (m.kind) {
    case "escalated":
      return `escalated${m.from_severity && m.to_severity ? ` ${m.from_severity} → ${m.to_severity}` : ""}${by}`;
    case "repeat":
      return "still open and not acknowledged (reminder)";
    case "resolved":
      return `resolved${by}${n.incident.resolution ? `: ${n.incident.resolution}` : ""}`;
    default:
      return `${m.kind}${by}`;
  }
}

/** Label → value pairs shown as fields or facts. */
export function facts(n: Notification): Array<[string, string]> {
  const i = n.incident;
  const out: Array<[string, string]> = [
    ["Service", i.service],
    ["Env", i.env],
    ["Severity", severityOf(n)],
    ["Moment", momentLine(n)],
    ["Status", i.status],
    ["Started", i.started_at],
    ["Alerts", String(i.alert_count)],
    ["Incident", i.id],
  ];
  if (i.acknowledged_at) out.push(["Acknowledged", `${i.acknowledged_at}${i.acknowledged_by ? ` by ${i.acknowledged_by}` : ""}`]);
  if (i.closed_at) out.push(["Closed", i.closed_at]);
  return out;
}
