/** The rules behind a triage report's next steps and a postmortem's open questions: each one is read off the data. */
import { kindOf } from "./correlate.js";
import { daysOverdue } from "./followups.js";
import type { ReportInput } from "./report-input.js";

const KIND_HINTS: Record<string, string> = {
  slo_breach: "Check the SLO's error budget burn and which endpoints drive it.",
  error_rate: "Compare the error rate with recent deploys and config changes; roll back if one lines up.",
  latency: "Check saturation (CPU, connection pools, queues) and slow dependencies.",
  crash: "Read the crash logs and restart counts; look for a common stack or OOM kills.",
  resource: "Check capacity headroom (disk, memory, CPU) and what is growing.",
  security: "Involve the security on-call; preserve logs before any cleanup.",
};

/** Alerts last seen this recently are "still firing". */
const FIRING_MINUTES = 15;

export function nextSteps(input: ReportInput): string[] {
  const inc = input.incident;
  const now = Date.parse(input.now);
  const steps: string[] = [];
  if (inc.status !== "closed" && (inc.severity === "P0" || inc.severity === "P1")) {
    steps.push(`${inc.severity} is open: make sure the owner is engaged and post a status update.`);
  }
  const lastSeen = Math.max(...input.alerts.map((a) => Date.parse(a.last_seen_at)), inc.last_alert_at ? Date.parse(inc.last_alert_at) : 0);
  if (inc.status !== "closed" && lastSeen > 0 && now - lastSeen <= FIRING_MINUTES * 60_000) {
    steps.push(`Alerts are still firing (last seen ${new Date(lastSeen).toISOString()}): mitigate before digging for root cause.`);
  }
  const kind = kindOf(inc);
  const hint = kind ? KIND_HINTS[kind] : undefined;
  if (hint) steps.push(hint);
  const resolved = input.related.find((r) => r.reasons.includes("same_signature") && r.resolution);
  if (resolved) steps.push(`Same signature as ${resolved.incident_id}, resolved with: "${resolved.resolution}". Check whether that fix applies.`);
  const sameTime = input.related.filter((r) => r.reasons.includes("time_proximity") && !r.reasons.includes("same_signature"));
  if (sameTime.length) steps.push(`Started close to ${sameTime.map((r) => r.incident_id).join(", ")}: look for a shared cause.`);
  const rec = input.recurrence.signature ?? input.recurrence.service;
  if (rec && rec.level !== "ok") {
    steps.push(`${rec.key} had ${rec.count} incidents in ${input.recurrence.window_days} days (trend ${rec.trend}): plan a root-cause fix, not just mitigation.`);
  }
  const overdue = input.followups.filter((f) => daysOverdue(f, new Date(input.now)) !== undefined);
  if (overdue.length) steps.push(`Overdue follow-ups: ${overdue.map((f) => `${f.title} (${f.owner})`).join("; ")}.`);
  if (inc.reopened_count > 0) steps.push(`Reopened ${inc.reopened_count} time(s): the last fix did not hold.`);
  if (input.alert_refs.length > input.alerts.length) {
    steps.push(`${input.alert_refs.length - input.alerts.length} referenced alert(s) are no longer in the alert store; rely on the timeline for them.`);
  }
  steps.push(
    inc.status === "closed"
      ? "Closed: draft the postmortem (graphs_tool.run postmortem_draft) and record follow-ups."
      : "Record findings with oncall_tool.incident_append_event; close with incident_close once resolved.",
  );
  return steps;
}

export function openQuestions(input: ReportInput): string[] {
  const inc = input.incident;
  const q: string[] = [];
  if (!inc.resolution) q.push("What was the root cause, and what resolved it?");
  const firstAlert = input.alerts.map((a) => Date.parse(a.starts_at)).sort((a, b) => a - b)[0];
  const created = Date.parse(inc.created_at);
  if (firstAlert !== undefined && created - firstAlert > 5 * 60_000) {
    q.push(`The first alert fired ${Math.round((created - firstAlert) / 60_000)} min before the incident was opened: why the delay?`);
  }
  const esc = input.events.filter((e) => e.type === "escalated");
  if (esc.length) q.push(`Severity was raised ${esc.length} time(s): was the initial severity right, and could it have been contained earlier?`);
  if (inc.reopened_count > 0) q.push(`It was reopened ${inc.reopened_count} time(s): why did the first fix not hold?`);
  const repeat = input.related.filter((r) => r.reasons.includes("same_signature"));
  if (repeat.length) q.push(`Is this a repeat of ${repeat.map((r) => r.incident_id).join(", ")}? What stopped the earlier follow-ups from preventing it?`);
  const kinds = new Set(input.alerts.map((a) => a.kind));
  if (kinds.size > 1) q.push(`Signals of ${kinds.size} kinds fired (${[...kinds].sort().join(", ")}): which was cause and which symptom?`);
  if (input.followups.length === 0) q.push("Which follow-ups would prevent a recurrence, who owns them, and by when?");
  else if (input.followups.some((f) => f.status === "open" && !f.owner)) q.push("Some follow-ups have no owner: who takes them?");
  return q;
}
