/**
 * Slack incoming webhooks: `{text, blocks}` with `text` as the notification fallback, a header,
 * the facts as fields and an acknowledge button; an alert group's shows Alertmanager's title and
 * its alerts. Block Kit bounds: a section's text ≤ 3000
 * characters, a header's ≤ 150, a field's ≤ 2000, at most 10 fields, a button's URL ≤ 3000.
 * Sends are paced to one per second per webhook URL within the process (Slack's limit).
 */
import type { GroupNotification, IncidentNotification as Notification, Integration } from "../types.js";
import { alertLines, groupFacts, groupTitle } from "./group-text.js";
import type { HttpClient } from "./http.js";
import type { Pacer } from "./pacer.js";
import { facts, headline, momentLine, truncate } from "./text.js";

export const SLACK_LIMITS = { sectionText: 3000, headerText: 150, fieldText: 2000, fields: 10, buttonUrl: 3000, fallbackText: 3000 } as const;

type Text = { type: "mrkdwn" | "plain_text"; text: string; emoji?: boolean };
export type SlackBlock =
  | { type: "header"; text: Text }
  | { type: "section"; text?: Text; fields?: Text[] }
  | { type: "context"; elements: Text[] }
  | { type: "actions"; elements: Array<{ type: "button"; text: Text; url: string; style?: "primary" | "danger"; action_id: string }> };

export interface SlackBody {
  text: string;
  blocks: SlackBlock[];
}

/** Slack's mrkdwn needs &, < and > escaped; nothing else is interpreted in the values we send. */
const esc = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
/** Escaped, then cut to the bound (the cut never leaves half an entity). */
function mrkdwn(s: string, max: number): Text {
  let text = esc(s);
  if (text.length > max) text = truncate(text, max).replace(/&[a-z]{0,3}…$/, "…");
  return { type: "mrkdwn", text };
}

const SEVERITY_EMOJI: Record<string, string> = { P0: ":red_circle:", P1: ":large_orange_circle:", P2: ":large_yellow_circle:", P3: ":white_circle:" };

export function buildSlackBody(n: Notification): SlackBody {
  const title = headline(n);
  const resolved = n.moment.kind === "resolved";
  const emoji = resolved ? ":white_check_mark:" : (SEVERITY_EMOJI[n.moment.to_severity ?? n.incident.severity] ?? "");
  const fields = facts(n)
    .filter(([k]) => k !== "Moment")
    .slice(0, SLACK_LIMITS.fields)
    .map(([k, v]) => mrkdwn(`*${k}*\n${v}`, SLACK_LIMITS.fieldText));
  const alerts = n.alerts
    .slice(0, 5)
    .map((a) => `• ${a.status}: ${a.labels.alertname ?? a.annotations.summary ?? a.fingerprint}${a.annotations.summary && a.labels.alertname ? ` — ${a.annotations.summary}` : ""}`);
  const more = n.alerts.length + n.truncated_alerts - alerts.length;
  const blocks: SlackBlock[] = [
    { type: "header", text: { type: "plain_text", text: truncate(`${title}`, SLACK_LIMITS.headerText), emoji: true } },
    { type: "section", text: mrkdwn(`${emoji} *${momentLine(n)}*\n${n.incident.title}`, SLACK_LIMITS.sectionText) },
    { type: "section", fields },
  ];
  if (alerts.length) blocks.push({ type: "section", text: mrkdwn(`${alerts.join("\n")}${more > 0 ? `\n… and ${more} more` : ""}`, SLACK_LIMITS.sectionText) });
  const buttons: Extract<SlackBlock, { type: "actions" }>["elements"] = [];
  if (n.ack_url && !resolved && n.moment.kind !== "acknowledged" && n.ack_url.length <= SLACK_LIMITS.buttonUrl) {
    buttons.push({ type: "button", text: { type: "plain_text", text: "Acknowledge" }, url: n.ack_url, style: "primary", action_id: "ack" });
  }
  if (n.external_url && n.external_url.length <= SLACK_LIMITS.buttonUrl) {
    buttons.push({ type: "button", text: { type: "plain_text", text: "Open opsbus" }, url: n.external_url, action_id: "open" });
  }
  if (buttons.length) blocks.push({ type: "actions", elements: buttons });
  blocks.push({ type: "context", elements: [mrkdwn(`opsbus · ${n.key}`, SLACK_LIMITS.sectionText)] });
  return { text: truncate(`${title}: ${momentLine(n)}`, SLACK_LIMITS.fallbackText), blocks };
}

/** An alert group's flush: `[FIRING:2] …` as the header and text, its alerts, the group's facts. */
export function buildGroupSlackBody(n: GroupNotification): SlackBody {
  const title = groupTitle(n);
  const emoji = n.group.status === "resolved" ? ":white_check_mark:" : ":red_circle:";
  const fields = groupFacts(n).slice(0, SLACK_LIMITS.fields).map(([k, v]) => mrkdwn(`*${k}*\n${v}`, SLACK_LIMITS.fieldText));
  const blocks: SlackBlock[] = [
    { type: "header", text: { type: "plain_text", text: truncate(title, SLACK_LIMITS.headerText), emoji: true } },
    { type: "section", text: mrkdwn(`${emoji} ${alertLines(n, 10).map((l) => `• ${l}`).join("\n")}`, SLACK_LIMITS.sectionText) },
    { type: "section", fields },
  ];
  if (n.external_url && n.external_url.length <= SLACK_LIMITS.buttonUrl) {
    blocks.push({ type: "actions", elements: [{ type: "button", text: { type: "plain_text", text: "Open opsbus" }, url: n.external_url, action_id: "open" }] });
  }
  blocks.push({ type: "context", elements: [mrkdwn(`opsbus · ${n.key}`, SLACK_LIMITS.sectionText)] });
  return { text: truncate(title, SLACK_LIMITS.fallbackText), blocks };
}

export interface SlackDeps {
  name: string;
  url: URL;
  http: HttpClient;
  pacer: Pacer;
  timeoutMs: number;
  release: () => Promise<void>;
}

export function slackIntegration(d: SlackDeps): Integration {
  const receiver = `slack "${d.name}"`;
  return {
    kind: "slack",
    async send(n, signal) {
      if (!(await d.pacer.turn(signal))) return { outcome: "retry", error: `${receiver} (${d.url.host}): aborted while waiting for its turn (1 message/s)` };
      const body = JSON.stringify(n.group ? buildGroupSlackBody(n) : buildSlackBody(n));
      const result = await d.http.postJson({ receiver, url: d.url, body, idempotencyKey: n.key, timeoutMs: d.timeoutMs, signal });
      if (result.outcome === "retry" && result.retry_after_ms !== undefined) d.pacer.holdFor(result.retry_after_ms);
      return result;
    },
    close: d.release,
  };
}
