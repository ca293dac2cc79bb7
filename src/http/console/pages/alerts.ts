/**
 * Alerts: the window's alerts grouped by service, with their work state (suppressed included) and
 * whether they still fire; "silence this" prefilled from the alert's labels (preview, then create).
 */
import type { AlertRecord } from "../../../subjects/alerts.js";
import { html, time, type Html } from "./html.js";
import { failed, type Page, type PageContext } from "./layout.js";
import { silenceForm } from "./silences.js";

/** What the page reads of an alert_ingest_tool.list alert (the stored record), so a renamed field fails the typecheck. */
type AlertRow = Pick<
  AlertRecord,
  "alert_ref" | "service" | "title" | "kind" | "severity" | "env" | "source" | "status" | "labels" | "last_seen_at" | "resolved_at" | "ends_at" | "occurrences" | "suppression"
>;

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const quoted = (v: string) => `"${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;

/** Matchers for a silence of exactly this alert: its service, env and labels, one per line. */
export function matchersOf(a: AlertRow): string[] {
  const out = [`service=${quoted(a.service)}`, `env=${quoted(a.env)}`];
  for (const [k, v] of Object.entries(a.labels ?? {})) if (LABEL_NAME.test(k) && k !== "service" && k !== "env") out.push(`${k}=${quoted(String(v))}`);
  return out;
}

const firing = (a: AlertRow, now: Date) => !a.resolved_at && !(a.ends_at && Date.parse(a.ends_at) <= now.getTime());


export async function alertsPage(ctx: PageContext): Promise<Page> {
  const window = Math.min(10_080, Math.max(1, Number(ctx.query.window) || 1440));
  const state = ctx.query.state === "firing" || ctx.query.state === "resolved" ? ctx.query.state : undefined;
  const a = await ctx.call("alert_ingest_tool", "list", { window_minutes: window, limit: 500, ...(state ? { state } : {}) });
  const canSilence = ctx.may("silence_tool", "create") && ctx.may("silence_tool", "preview");
  let body: Html;
  if (!a.ok) body = failed("alerts", a);
  else {
    const list = (a.result.alerts ?? []) as AlertRow[];
    const groups = new Map<string, AlertRow[]>();
    for (const x of list) groups.set(x.service, [...(groups.get(x.service) ?? []), x]);
    let n = 0;
    body =
      list.length === 0
        ? html`<p class="empty">No alerts in the last ${window} minutes. Monitors publish to <code>ops.alerts.in.&lt;service&gt;</code>; try a wider window.</p>`
        : html`${[...groups].map(
            ([service, rows]) => html`<section class="group" aria-label="${service}"><h2>${service} <span class="muted">(${rows.length})</span></h2><ul class="cards">${rows.map(
              (r) => html`<li class="card alert" data-ref="${r.alert_ref}">
<div class="row"><span class="sev sev-${r.severity}">${r.severity}</span> <strong class="title">${r.title}</strong></div>
<div class="row"><span class="state state-${r.status}">${r.status}</span> <span class="state ${firing(r, ctx.now) ? "state-firing" : "state-resolved"}">${firing(r, ctx.now) ? "firing" : "resolved"}</span>
<span class="muted">${r.env} · ${r.kind} · ${r.source} · seen ${r.occurrences}× · last ${time(r.last_seen_at, ctx.now)}</span></div>
${Object.keys(r.labels ?? {}).length ? html`<ul class="labels" aria-label="labels">${Object.entries(r.labels).map(([k, v]) => html`<li><code>${k}=${String(v)}</code></li>`)}</ul>` : ""}
${r.suppression?.silenced_by?.length ? html`<div class="muted small">silenced by ${r.suppression.silenced_by.join(", ")}</div>` : ""}
${canSilence && firing(r, ctx.now) ? silenceForm({ id: `silence-${r.alert_ref}`, field: String(n++), matchers: matchersOf(r), summary: "Silence this", label: "Silence this alert" }) : ""}
</li>`,
            )}</ul></section>`,
          )}`;
  }
  const filters = html`<form class="filters" method="get" action="/console/alerts"><label for="window">Window (min)</label> <input id="window" name="window" type="number" min="1" max="10080" value="${window}" class="short">
<label for="state">State</label> <select id="state" name="state"><option value="">all</option><option value="firing"${state === "firing" ? html` selected` : ""}>firing</option><option value="resolved"${state === "resolved" ? html` selected` : ""}>resolved</option></select>
<button type="submit">Filter</button></form>`;
  return { title: "Alerts", page: "alerts", live: ["alert.", "silence."], body: html`${filters}<div id="alerts" data-live>${body}</div>` };
}
