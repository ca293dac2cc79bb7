/**
 * Microsoft Teams through a Workflows webhook ("When a Teams webhook request is received"): a
 * message with one Adaptive Card 1.4 attachment (the headline, what happened, the facts, and
 * links to acknowledge and to open opsbus; an alert group's: Alertmanager's title and its alerts).
 * Workflows answers 202 Accepted.
 */
import type { GroupNotification, IncidentNotification as Notification, Integration } from "../types.js";
import { alertLines, groupFacts, groupTitle } from "./group-text.js";
import type { HttpClient } from "./http.js";
import { facts, headline, momentLine, truncate } from "./text.js";

type TextBlock = { type: "TextBlock"; text: string; wrap: true; size?: "Medium" | "Large"; weight?: "Bolder"; color?: "Attention" | "Warning" | "Good" | "Default"; isSubtle?: boolean };
type FactSet = { type: "FactSet"; facts: Array<{ title: string; value: string }> };
type OpenUrl = { type: "Action.OpenUrl"; title: string; url: string };

export interface TeamsBody {
  type: "message";
  attachments: Array<{
    contentType: "application/vnd.microsoft.card.adaptive";
    contentUrl: null;
    content: {
      $schema: "http://adaptivecards.io/schemas/adaptive-card.json";
      type: "AdaptiveCard";
      version: "1.4";
      body: Array<TextBlock | FactSet>;
      actions: OpenUrl[];
      msteams?: { width: "Full" };
    };
  }>;
}

/**
 * Card text is a markdown subset; Teams shows a backslash escape literally, so only link syntax
 * is broken up (an alert's title must not become a link to somewhere else).
 */
const md = (s: string): string => s.replace(/\]\(/g, "] (");

const COLOR = { P0: "Attention", P1: "Attention", P2: "Warning", P3: "Default" } as const;

/** The message around one card. */
function card(body: Array<TextBlock | FactSet>, actions: OpenUrl[]): TeamsBody {
  return {
    type: "message",
    attachments: [
      {
        contentType: "application/vnd.microsoft.card.adaptive",
        contentUrl: null,
        content: { $schema: "http://adaptivecards.io/schemas/adaptive-card.json", type: "AdaptiveCard", version: "1.4", body, actions, msteams: { width: "Full" } },
      },
    ],
  };
}

/** An alert group's flush: `[FIRING:2] …`, its alerts, the group's facts. */
export function buildGroupTeamsBody(n: GroupNotification): TeamsBody {
  const actions: OpenUrl[] = n.external_url ? [{ type: "Action.OpenUrl", title: "Open opsbus", url: n.external_url }] : [];
  return card(
    [
      { type: "TextBlock", text: md(truncate(groupTitle(n), 500)), wrap: true, size: "Medium", weight: "Bolder", color: n.group.status === "resolved" ? "Good" : "Attention" },
      { type: "TextBlock", text: md(truncate(alertLines(n, 20).map((l) => `- ${l}`).join("\n"), 4000)), wrap: true },
      { type: "FactSet", facts: groupFacts(n).map(([title, value]) => ({ title, value: md(truncate(value, 500)) })) },
      { type: "TextBlock", text: md(n.key), wrap: true, isSubtle: true },
    ],
    actions,
  );
}

export function buildTeamsBody(n: Notification): TeamsBody {
  const severity = n.moment.to_severity ?? n.incident.severity;
  const color = n.moment.kind === "resolved" ? "Good" : COLOR[severity];
  const actions: OpenUrl[] = [];
  if (n.ack_url && n.moment.kind !== "resolved" && n.moment.kind !== "acknowledged") actions.push({ type: "Action.OpenUrl", title: "Acknowledge", url: n.ack_url });
  if (n.external_url) actions.push({ type: "Action.OpenUrl", title: "Open opsbus", url: n.external_url });
  return {
    type: "message",
    attachments: [
      {
        contentType: "application/vnd.microsoft.card.adaptive",
        contentUrl: null,
        content: {
          $schema: "http://adaptivecards.io/schemas/adaptive-card.json",
          type: "AdaptiveCard",
          version: "1.4",
          body: [
            { type: "TextBlock", text: md(truncate(headline(n), 500)), wrap: true, size: "Medium", weight: "Bolder", color },
            { type: "TextBlock", text: md(truncate(momentLine(n), 1000)), wrap: true },
            { type: "FactSet", facts: facts(n).map(([title, value]) => ({ title, value: md(truncate(value, 500)) })) },
            { type: "TextBlock", text: md(n.key), wrap: true, isSubtle: true },
          ],
          actions,
          msteams: { width: "Full" },
        },
      },
    ],
  };
}

export interface TeamsDeps {
  name: string;
  url: URL;
  http: HttpClient;
  timeoutMs: number;
  release: () => Promise<void>;
}

export function teamsIntegration(d: TeamsDeps): Integration {
  return {
    kind: "msteams",
    async send(n, signal) {
      const body = JSON.stringify(n.group ? buildGroupTeamsBody(n) : buildTeamsBody(n));
      return d.http.postJson({ receiver: `msteams "${d.name}"`, url: d.url, body, idempotencyKey: n.key, timeoutMs: d.timeoutMs, signal });
    },
    close: d.release,
  };
}
