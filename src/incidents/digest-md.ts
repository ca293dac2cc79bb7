/** Markdown of the weekly digest (the JSON file is the complete record). */
import { SEVERITIES } from "../subjects/index.js";
import type { WeeklyDigest } from "./digest-types.js";
import { capMarkdown, minutesText, table } from "../util/md.js";

export function digestMarkdown(d: WeeklyDigest, maxChars: number): string {
  const t = d.totals;
  const lines: string[] = [
    `# Weekly incident digest ${d.week}`,
    "",
    `${d.from} → ${d.to} (ISO week, UTC). Generated ${d.generated_at}.`,
    "",
    "## Totals",
    "",
    `- Opened: **${t.opened}** (${SEVERITIES.map((s) => `${s}: ${t.by_severity[s]}`).join(", ")})`,
    `- Closed: **${t.closed}**; MTTR (median): ${minutesText(t.mttr_minutes)}`,
    `- Still open at week end: **${t.still_open}**`,
    `- Open follow-ups: ${d.followups.open_count}; overdue: **${d.followups.overdue_count}**`,
    "",
    "## By service",
    "",
    ...(Object.keys(t.by_service).length ? table(["service", "opened"], Object.entries(t.by_service)) : ["No incidents opened."]),
    "",
    "## Top incidents",
    "",
    ...(d.top_incidents.length
      ? table(
          ["incident", "severity", "service", "title", "status", "started", "duration"],
          d.top_incidents.map((i) => [i.incident_id, i.severity, `${i.service}/${i.env}`, i.title, i.status, i.started_at, minutesText(i.duration_minutes)]),
        )
      : ["None."]),
    "",
    "## Recurrence (this week vs the week before)",
    "",
    ...(d.recurrence.signatures.length || d.recurrence.services.length
      ? table(
          ["kind", "key", "count", "previous", "trend", "level"],
          [
            ...d.recurrence.signatures.map((e) => ["signature", e.key, e.count, e.previous_count, e.trend, e.level]),
            ...d.recurrence.services.map((e) => ["service", e.key, e.count, e.previous_count, e.trend, e.level]),
          ],
        )
      : ["Nothing recurred."]),
    "",
    "## Overdue follow-ups",
    "",
    ...(d.followups.overdue.length
      ? table(
          ["incident", "follow-up", "owner", "due", "days overdue", "severity"],
          d.followups.overdue.map((f) => [f.incident_id, f.title, f.owner, f.due_date, f.days_overdue, f.severity]),
        )
      : ["None."]),
    "",
  ];
  return capMarkdown(lines.join("\n"), maxChars);
}
