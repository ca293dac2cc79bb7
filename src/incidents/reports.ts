/**
 * Deterministic report builders: the same ReportInput gives byte-identical md and json (no clock,
 * no randomness, every list sorted with a full tie-break). Triage report: what fired, how often,
 * since when, related incidents, suggested owner, next steps. Postmortem draft: summary, impact,
 * the whole timeline, contributing signals, follow-ups, open questions.
 */
import type { ReportInput } from "./report-input.js";
import { postmortemData, triageData, type PostmortemDraft, type TriageReport } from "./reports-data.js";
import { postmortemMarkdown, triageMarkdown } from "./reports-md.js";

export * from "./reports-data.js";

const jsonText = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;

export function buildTriageReport(input: ReportInput): { md: string; json: string; data: TriageReport } {
  const data = triageData(input);
  return { md: triageMarkdown(data), json: jsonText(data), data };
}

export function buildPostmortemDraft(input: ReportInput): { md: string; json: string; data: PostmortemDraft } {
  const data = postmortemData(input);
  return { md: postmortemMarkdown(data), json: jsonText(data), data };
}
