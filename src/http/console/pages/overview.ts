/** Overview: open incidents by severity, queue depth per consumer (the health answer), the live event feed. */
import { SEVERITIES } from "../../../subjects/alerts.js";
import { html, type Html } from "./html.js";
import { failed, type Page, type PageContext } from "./layout.js";

export interface QueueRow {
  stream?: string;
  consumer?: string;
  depth?: number;
  state?: string;
}

export async function overviewPage(ctx: PageContext, health: () => Promise<unknown>): Promise<Page> {
  let incidents: Html;
  if (ctx.may("oncall_tool", "incident_list")) {
    const a = await ctx.call("oncall_tool", "incident_list", { status: ["open", "mitigating"], limit: 1000 });
    if (!a.ok) incidents = failed("incidents", a);
    else {
      const list = (a.result.incidents ?? []) as Array<{ severity: string }>;
      const counts = SEVERITIES.map((s) => [s, list.filter((i) => i.severity === s).length] as const);
      incidents =
        list.length === 0
          ? html`<p class="empty">No open incidents. New ones appear here as alerts arrive.</p>`
          : html`<ul class="sev-counts">${counts.map(([s, n]) => html`<li><a class="sev sev-${s}" href="/console/incidents?severity=${s}">${s}</a> <strong>${n}</strong></li>`)}</ul>
<p><a href="/console/incidents">${list.length} open incident${list.length === 1 ? "" : "s"} →</a></p>`;
    }
  } else incidents = html`<p class="muted">Your role does not read incidents.</p>`;

  let queues: Html;
  try {
    const report = (await health()) as { queues?: QueueRow[] | { error: string } };
    const q = report.queues;
    queues = !q
      ? html`<p class="muted">No queue figures in the health answer.</p>`
      : !Array.isArray(q)
        ? html`<p class="error">Queues unreadable: ${q.error}</p>`
        : html`<table><thead><tr><th scope="col">Consumer</th><th scope="col">Stream</th><th scope="col" class="num">Depth</th><th scope="col">State</th></tr></thead>
<tbody>${q.map((r) => html`<tr><td>${r.consumer ?? "?"}</td><td>${r.stream ?? ""}</td><td class="num">${r.depth ?? ""}</td><td>${r.state ?? ""}</td></tr>`)}</tbody></table>`;
  } catch (err) {
    queues = html`<p class="error">Health unavailable: ${(err as Error).message}</p>`;
  }

  return {
    title: "Overview",
    page: "overview",
    live: ["incident."],
    body: html`<div class="grid">
<section aria-labelledby="h-inc" id="overview-incidents" data-live><h2 id="h-inc">Open incidents</h2>${incidents}</section>
<section aria-labelledby="h-q" id="overview-queues" data-live><h2 id="h-q">Queue depth</h2>${queues}</section>
</div>
<section aria-labelledby="h-feed"><h2 id="h-feed">Live events</h2>
<p class="empty" id="feed-empty">Waiting for events… they appear here as they happen.</p>
<ol id="feed" class="feed" data-feed></ol></section>`,
  };
}
