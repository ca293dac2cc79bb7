/**
 * Incidents: the list (newest started first, filtered, paged by start time) and one incident with
 * its artifacts (triage reports and postmortem drafts: markdown rendered and sanitised), follow-ups,
 * timeline, notifications (notification_tool.list) and the actions its role may take: acknowledge,
 * note, close, add a follow-up, draft the postmortem. An action the role lacks is not rendered.
 */
import { renderMarkdown } from "../../../console/markdown.js";
import type { Followup } from "../../../incidents/followups.js";
import { INCIDENT_STATUSES, type ArtifactRecord, type IncidentEvent, type IncidentRecord } from "../../../incidents/store.js";
import { SEVERITIES } from "../../../subjects/alerts.js";
import { html, Html, time } from "./html.js";
import { failed, toolForm, type Page, type PageContext } from "./layout.js";
import { notificationTable, type NotificationRow } from "./notifications.js";

const PAGE_SIZE = 25;

/** What the pages read of an oncall_tool incident, its artifacts, follow-ups and timeline events (the stored records). */
type IncidentRow = Pick<
  IncidentRecord,
  "id" | "service" | "env" | "severity" | "title" | "status" | "started_at" | "resolution" | "alert_count" | "acknowledged_at" | "acknowledged_by" | "labels"
>;
type ArtifactRow = Pick<ArtifactRecord, "name" | "format" | "bytes" | "created_at" | "created_by">;
type FollowupRow = Pick<Followup, "followup_id" | "title" | "owner" | "due_date" | "status">;
type TimelineEvent = Pick<IncidentEvent, "ts" | "type" | "message" | "author">;

const ISO = /^\d{4}-\d{2}-\d{2}T[\d:.]+(Z|[+-]\d{2}:\d{2})$/;

export async function incidentListPage(ctx: PageContext): Promise<Page> {
  const q = ctx.query;
  const status = (INCIDENT_STATUSES as readonly string[]).includes(q.status ?? "") ? q.status : undefined;
  const severity = (SEVERITIES as readonly string[]).includes(q.severity ?? "") ? q.severity : undefined;
  const until = q.until && ISO.test(q.until) ? q.until : undefined;
  const a = await ctx.call("oncall_tool", "incident_list", { limit: PAGE_SIZE + 1, ...(status ? { status } : {}), ...(severity ? { severity } : {}), ...(until ? { until } : {}) });
  let body: Html;
  if (!a.ok) body = failed("incidents", a);
  else {
    const all = (a.result.incidents ?? []) as IncidentRow[];
    const list = all.slice(0, PAGE_SIZE);
    const more = all.length > PAGE_SIZE;
    const keep = new URLSearchParams({ ...(status ? { status } : {}), ...(severity ? { severity } : {}) });
    const next = more ? new URLSearchParams([...keep, ["until", list.at(-1)!.started_at]]) : undefined;
    body =
      list.length === 0
        ? html`<p class="empty">No incidents${status || severity ? " match these filters" : ""}. Incidents open from firing alerts; <a href="/console/alerts">see alerts</a>${status || severity ? html` or <a href="/console/incidents">clear the filters</a>` : ""}.</p>`
        : html`<table class="incidents"><thead><tr><th scope="col">Sev</th><th scope="col">Incident</th><th scope="col">Service</th><th scope="col">Status</th><th scope="col">Started</th><th scope="col" class="num">Alerts</th></tr></thead><tbody>
${list.map(
  (i) => html`<tr data-id="${i.id}"><td><span class="sev sev-${i.severity}">${i.severity}</span></td><td><a href="/console/incidents/${encodeURIComponent(i.id)}">${i.title}</a><div class="muted small">${i.id}</div></td><td>${i.service} <span class="muted">${i.env}</span></td><td><span class="state state-${i.status}">${i.status}</span>${i.acknowledged_at ? html` <span class="state state-acked" title="acknowledged by ${i.acknowledged_by ?? "?"}">ack</span>` : ""}</td><td>${time(i.started_at, ctx.now)}</td><td class="num">${i.alert_count}</td></tr>`,
)}</tbody></table>
<nav class="paging" aria-label="Pages">${until ? html`<a href="/console/incidents${keep.size ? `?${keep}` : ""}">← Newest</a>` : ""}${next ? html` <a href="/console/incidents?${next.toString()}" rel="next">Older →</a>` : ""}</nav>`;
  }
  const filters = html`<form class="filters" method="get" action="/console/incidents">
<label for="status">Status</label> <select id="status" name="status"><option value="">all</option>${INCIDENT_STATUSES.map((s) => html`<option value="${s}"${s === status ? html` selected` : ""}>${s}</option>`)}</select>
<label for="severity">Severity</label> <select id="severity" name="severity"><option value="">all</option>${SEVERITIES.map((s) => html`<option value="${s}"${s === severity ? html` selected` : ""}>${s}</option>`)}</select>
<button type="submit">Filter</button></form>`;
  // Live refresh on the first page only: a later page is a fixed slice of the past.
  return { title: "Incidents", page: "incidents", live: until ? [] : ["incident."], body: html`${filters}<div id="incidents" data-live>${body}</div>` };
}

/** Artifacts whose text the page shows, newest first; the rest are listed by name. */
const ARTIFACTS_SHOWN = 8;
const DAY_MS = 86_400_000;

function actions(ctx: PageContext, i: IncidentRow): Html {
  const id = html`<input type="hidden" name="incident_id" value="${i.id}">`;
  const parts: Html[] = [];
  const open = i.status !== "closed";
  if (open && ctx.may("oncall_tool", "incident_ack") && !i.acknowledged_at) {
    parts.push(toolForm("oncall_tool", "incident_ack", html`${id}<label for="ack-note">Acknowledge</label><input id="ack-note" name="note" placeholder="what you are doing (optional)"><button type="submit">Acknowledge</button>`, { label: "Acknowledge" }));
  }
  if (open && ctx.may("oncall_tool", "incident_append_event")) {
    parts.push(toolForm("oncall_tool", "incident_append_event", html`${id}<input type="hidden" name="type" value="note"><label for="note">Note</label><textarea id="note" name="message" rows="2" required></textarea><button type="submit">Add note</button>`, { label: "Add note", after: "reset-reload" }));
  }
  if (open && ctx.may("oncall_tool", "incident_close")) {
    parts.push(toolForm("oncall_tool", "incident_close", html`${id}<label for="resolution">Close with resolution</label><input id="resolution" name="resolution" required placeholder="what fixed it"><button type="submit">Close incident</button>`, { label: "Close incident" }));
  }
  // A follow-up and the postmortem belong to a closed incident as much as to an open one.
  if (ctx.may("oncall_tool", "incident_append_event")) {
    const due = new Date(ctx.now.getTime() + 7 * DAY_MS).toISOString().slice(0, 10);
    parts.push(
      toolForm(
        "oncall_tool",
        "incident_append_event",
        html`${id}<input type="hidden" name="type" value="followup"><label for="fu-title">Follow-up</label><input id="fu-title" name="title" data-in="meta" required maxlength="500" placeholder="what must be done so it does not happen again">
<label for="fu-owner">Owner</label><input id="fu-owner" name="owner" data-in="meta" required maxlength="500" value="${ctx.caller.agent_id}">
<label for="fu-due">Due</label><input id="fu-due" name="due_date" data-in="meta" type="date" required value="${due}"><button type="submit">Add follow-up</button>`,
        { label: "Add follow-up", after: "reset-reload", cls: "followup" },
      ),
    );
  }
  if (ctx.may("graphs_tool", "run")) {
    parts.push(
      toolForm(
        "graphs_tool",
        "run",
        html`${id}<input type="hidden" name="graph" value="postmortem_draft"><label for="pm-draft">Postmortem</label><button id="pm-draft" type="submit">Draft postmortem</button>`,
        { label: "Draft postmortem", after: "none", cls: "postmortem" },
      ),
    );
  }
  return parts.length ? html`<section aria-labelledby="h-act" class="actions"><h2 id="h-act">Actions</h2>${parts}</section>` : html``;
}

/** One artifact's text as the page shows it: markdown rendered and sanitised, JSON and text as preformatted text. */
function artifactBody(format: string, content: string): Html {
  if (format === "md") return html`<div class="markdown">${new Html(renderMarkdown(content))}</div>`;
  if (format === "json") {
    let pretty = content;
    try {
      pretty = JSON.stringify(JSON.parse(content), null, 2);
    } catch {
      // Shown as stored.
    }
    return html`<pre class="artifact-text">${pretty}</pre>`;
  }
  return html`<pre class="artifact-text">${content}</pre>`;
}

async function artifactsSection(ctx: PageContext, incidentId: string, list: ArtifactRow[]): Promise<Html> {
  if (list.length === 0) return html`<p class="empty">No artifacts yet. A triage report is written when the incident opens; draft the postmortem from Actions.</p>`;
  // Newest first; of one run's files, the markdown (written for people) before its JSON twin.
  const newest = [...list].sort((a, b) => b.created_at.localeCompare(a.created_at) || Number(b.format === "md") - Number(a.format === "md") || a.name.localeCompare(b.name));
  const readable = ctx.may("oncall_tool", "incident_artifact_get");
  const shown = readable ? newest.slice(0, ARTIFACTS_SHOWN) : [];
  const texts = await Promise.all(shown.map((x) => ctx.call("oncall_tool", "incident_artifact_get", { incident_id: incidentId, name: x.name })));
  const articles = shown.map((x, n) => {
    const t = texts[n]!;
    const facts = html`<span class="muted small">${x.format} · ${x.bytes} bytes · by ${x.created_by} · ${time(x.created_at, ctx.now)}</span>`;
    const body = !t.ok
      ? failed(x.name, t)
      : html`${artifactBody(x.format, String(t.result.content ?? ""))}${t.result.truncated ? html`<p class="muted">(cut: the whole file has ${String(t.result.chars ?? "?")} characters)</p>` : ""}`;
    // Reports open, their JSON twins folded: the markdown is the one written for people.
    return html`<details class="artifact" id="art-${x.name}"${x.format === "md" ? html` open` : ""}><summary><code>${x.name}</code> ${facts}</summary>${body}</details>`;
  });
  const rest = newest.slice(shown.length);
  return html`${articles}${rest.length ? html`<p class="muted">${readable ? "Older artifacts" : "Artifacts"}: ${rest.map((x) => html`<code>${x.name}</code> `)}</p>` : ""}`;
}

function followupsSection(list: FollowupRow[], now: Date): Html {
  if (list.length === 0) return html`<p class="empty">No follow-ups.</p>`;
  return html`<ul class="cards followups">${list.map(
    (f) => html`<li class="card" data-followup="${f.followup_id}"><span class="state state-${f.status}">${f.status}</span> <strong class="title">${f.title}</strong> <span class="muted">owner ${f.owner} · due ${f.due_date}${f.status === "open" && Date.parse(`${f.due_date}T23:59:59Z`) < now.getTime() ? " (overdue)" : ""}</span></li>`,
  )}</ul>`;
}

export async function incidentPage(ctx: PageContext, id: string): Promise<Page> {
  const [a, n] = await Promise.all([
    ctx.call("oncall_tool", "incident_get", { incident_id: id }),
    ctx.may("notification_tool", "list") ? ctx.call("notification_tool", "list", { incident_id: id, limit: 200 }) : Promise.resolve(undefined),
  ]);
  if (!a.ok) return { title: "Incident", page: "incidents", live: [], body: html`${failed(`incident ${id}`, a)}<p><a href="/console/incidents">All incidents</a></p>` };
  const i = a.result.incident as IncidentRow;
  const events = (a.result.events ?? []) as TimelineEvent[];
  const artifacts = await artifactsSection(ctx, i.id, (a.result.artifacts ?? []) as ArtifactRow[]);
  const followups = followupsSection((a.result.followups ?? []) as FollowupRow[], ctx.now);
  const timeline =
    events.length === 0
      ? html`<p class="empty">No timeline events yet.</p>`
      : html`<ol class="timeline">${events.map((e) => html`<li class="ev ev-${e.type}"><div class="row"><span class="state">${e.type}</span> <span class="muted">${e.author} · ${time(e.ts, ctx.now)}</span></div>${e.message ? html`<div class="msg">${e.message}</div>` : ""}</li>`)}</ol>`;
  const notes = !n
    ? html`<p class="muted">Your role does not read notifications.</p>`
    : n.ok
      ? notificationTable(ctx, (n.result.notifications ?? []) as NotificationRow[], { retry: ctx.may("notification_tool", "retry"), empty: html`<p class="empty">No notifications for this incident. Routes are in config/notification_routes.yml.</p>` })
      : failed("notifications", n);
  const body = html`<div id="incident-head" data-live>
<p class="row"><span class="sev sev-${i.severity}">${i.severity}</span> <strong class="title">${i.title}</strong></p>
<dl class="facts"><dt>Status</dt><dd><span class="state state-${i.status}">${i.status}</span>${i.acknowledged_at ? html` · acknowledged by ${i.acknowledged_by ?? "?"} ${time(i.acknowledged_at, ctx.now)}` : ""}</dd>
<dt>Service</dt><dd>${i.service} (${i.env})</dd><dt>Started</dt><dd>${time(i.started_at, ctx.now)}</dd><dt>Alerts</dt><dd>${i.alert_count}</dd><dt>Id</dt><dd><code>${i.id}</code></dd>
${i.resolution ? html`<dt>Resolution</dt><dd>${i.resolution}</dd>` : ""}</dl>
${Object.keys(i.labels ?? {}).length ? html`<ul class="labels" aria-label="labels">${Object.entries(i.labels).map(([k, v]) => html`<li><code>${k}=${String(v)}</code></li>`)}</ul>` : ""}
</div>
<div id="incident-actions" data-live>${actions(ctx, i)}</div>
<section aria-labelledby="h-art" id="incident-artifacts" data-live><h2 id="h-art">Artifacts</h2>${artifacts}</section>
<section aria-labelledby="h-fu" id="incident-followups" data-live><h2 id="h-fu">Follow-ups</h2>${followups}</section>
<section aria-labelledby="h-tl" id="incident-timeline" data-live><h2 id="h-tl">Timeline</h2>${timeline}</section>
<section aria-labelledby="h-n" id="incident-notifications" data-live><h2 id="h-n">Notifications</h2>${notes}</section>
<p><a href="/console/incidents">← All incidents</a></p>`;
  // triage.completed / postmortem.drafted: a graph run wrote its artifacts.
  return { title: `Incident ${i.id}`, page: "incidents", live: ["incident.", "notification.", "triage.", "postmortem."], body };
}
