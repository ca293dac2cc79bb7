/** Markdown of the triage report and the postmortem draft, from their JSON data. */
import { cell, minutesText, table } from "../util/md.js";
import type { PostmortemDraft, TriageReport } from "./reports-data.js";

/** Alert rows shown in the triage markdown; the JSON has up to 1000. */
const MD_ALERTS = 50;

function relatedLines(related: TriageReport["related"]): string[] {
  if (!related.length) return ["None found."];
  return table(
    ["incident", "score", "reasons", "severity", "status", "started", "title"],
    related.map((r) => [r.incident_id, r.score, r.reasons.join(", "), r.severity, r.status, r.started_at, r.title]),
  );
}

export function triageMarkdown(d: TriageReport): string {
  const i = d.incident;
  const h = d.how_often;
  const s = d.since_when;
  const rec = [d.recurrence.signature, d.recurrence.service].filter((e) => e !== null);
  const shown = d.what_fired.alerts.slice(0, MD_ALERTS);
  return [
    `# Triage: ${cell(i.title, 300)}`,
    "",
    `\`${i.id}\` · ${i.severity} · ${i.service}/${i.env} · ${i.status}${i.kind ? ` · ${i.kind}` : ""}${i.signature ? ` · signature \`${i.signature}\`` : ""}`,
    "",
    `Generated ${d.generated_at}.`,
    "",
    "## What fired",
    "",
    ...(shown.length
      ? table(
          ["alert", "title", "kind", "severity", "source", "occurrences", "first", "last seen"],
          shown.map((a) => [a.alert_ref, a.title, a.kind, a.severity, a.source, a.occurrences, a.starts_at, a.last_seen_at]),
        )
      : ["No alerts referenced (created by hand)."]),
    ...(d.what_fired.alerts_total > shown.length ? ["", `…and ${d.what_fired.alerts_total - shown.length} more (see the JSON).`] : []),
    ...(d.what_fired.missing_alert_refs.length ? ["", `Not in the alert store any more: ${d.what_fired.missing_alert_refs.join(", ")}`] : []),
    "",
    "## How often",
    "",
    `- Alerts absorbed: ${h.alerts_absorbed} (${h.alert_events} as alert events, ${h.cooldown_notes} as notes inside the triage cooldown)`,
    `- Occurrences over those alerts: ${h.occurrences}`,
    `- Notes: ${h.notes}; escalations: ${h.escalations}; reopened: ${h.reopened}`,
    "",
    "## Since when",
    "",
    `- Started: ${s.started_at} (${minutesText(s.open_minutes)} ${i.status === "closed" ? "until closed" : "ago"})`,
    `- First alert: ${s.first_alert_at ?? "—"}; last alert: ${s.last_alert_at ?? "—"}`,
    "",
    "## Related incidents",
    "",
    ...relatedLines(d.related),
    "",
    "## Recurrence",
    "",
    ...(rec.length
      ? rec.map((e) => `- \`${e.key}\`: ${e.count} incident(s) in ${d.recurrence.window_days} days, previous window ${e.previous_count}, trend ${e.trend}, level ${e.level}`)
      : ["No recurrence in the window."]),
    "",
    "## Suggested owner",
    "",
    `${d.suggested_owner.owner} (from ${d.suggested_owner.source === "followup" ? "the newest open follow-up" : d.suggested_owner.source === "label" ? "the incident's owner label" : "the service"})`,
    "",
    "## Next steps",
    "",
    ...d.next_steps.map((step, n) => `${n + 1}. ${step}`),
    "",
  ].join("\n");
}

export function postmortemMarkdown(d: PostmortemDraft): string {
  const s = d.summary;
  const im = d.impact;
  return [
    `# Postmortem draft: ${cell(s.title, 300)}`,
    "",
    `Generated ${d.generated_at}. A draft built from the timeline; edit before publishing.`,
    "",
    "## Summary",
    "",
    `- Incident: \`${s.id}\` (${s.service}/${s.env}, ${s.status})`,
    `- Started: ${s.started_at}; closed: ${s.closed_at ?? "not yet"}`,
    `- Resolution: ${s.resolution ?? "—"}`,
    ...(s.signature ? [`- Signature: \`${s.signature}\``] : []),
    "",
    "## Impact",
    "",
    `- Severity: ${im.severity}${im.initial_severity !== im.severity ? ` (opened as ${im.initial_severity})` : ""}`,
    `- Duration: ${minutesText(im.duration_minutes)}${im.ongoing ? " (ongoing)" : ""}`,
    `- Alerts: ${im.alerts} referenced, ${im.alerts_absorbed} absorbed, ${im.occurrences} occurrences`,
    ...(im.reopened ? [`- Reopened ${im.reopened} time(s)`] : []),
    "",
    `## Timeline (${d.timeline.length} events)`,
    "",
    ...table(["time (UTC)", "type", "author", "event"], d.timeline.map((e) => [e.ts, e.type, e.author, e.message])),
    "",
    "## Contributing signals",
    "",
    ...(d.contributing_signals.by_fingerprint.length
      ? table(
          ["fingerprint", "kind", "title", "alerts", "occurrences", "first", "last"],
          d.contributing_signals.by_fingerprint.map((f) => [f.fingerprint, f.kind, f.title, f.alerts, f.occurrences, f.first_seen, f.last_seen]),
        )
      : ["No alert data."]),
    ...(d.contributing_signals.by_kind.length ? ["", `By kind: ${d.contributing_signals.by_kind.map((k) => `${k.kind} ${k.occurrences}`).join(", ")}`] : []),
    "",
    "## Follow-ups",
    "",
    ...(d.followups.length
      ? table(
          ["follow-up", "owner", "due", "status"],
          d.followups.map((f) => [f.title, f.owner, f.due_date, f.days_overdue !== null ? `${f.status} (overdue ${f.days_overdue} d)` : f.status]),
        )
      : ["None recorded yet."]),
    "",
    "## Related incidents",
    "",
    ...relatedLines(d.related),
    "",
    "## Open questions",
    "",
    ...d.open_questions.map((q) => `- ${q}`),
    "",
  ].join("\n");
}
