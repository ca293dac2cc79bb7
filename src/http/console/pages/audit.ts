/**
 * Audit: the gateway's audit log through audit_tool.query (newest first), filtered by the tool's own
 * params — agent, tool, action, channel, decision, outcome (ok or an error code), time range — and
 * paged by time. A role without tools.audit.read gets a 403 page that says so (and no nav entry).
 */
import type { AuditRecord } from "../../../audit/store.js";
import { ERROR_CODES } from "../../../errors.js";
import { html, time, type Html } from "./html.js";
import { failed, type Page, type PageContext } from "./layout.js";

const PAGE_SIZE = 50;
/** Text filters, as the tool takes them. */
const TEXT_FILTERS = ["agent_id", "tool", "action", "channel"] as const;
const CHANNELS = ["nats", "http", "console", "scheduler"];
const OUTCOMES = ["ok", ...ERROR_CODES] as const;
/** A full ISO 8601 instant, or the `YYYY-MM-DDTHH:MM[:SS]` of a datetime-local input, read as UTC. */
const ISO_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;
const LOCAL = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/;
/** How much of a call's params a row shows. */
const PARAMS_CHARS = 240;

/** An instant the tool accepts, or undefined with the reason when the text is not one. */
function instant(name: string, v: string | undefined): { iso?: string; error?: string } {
  const t = (v ?? "").trim();
  if (!t) return {};
  const iso = ISO_OFFSET.test(t) ? t : LOCAL.test(t) ? `${t.length === 16 ? `${t}:00` : t}Z` : undefined;
  if (!iso || Number.isNaN(Date.parse(iso))) return { error: `${name} is not a time: use 2026-03-01T12:00 (UTC) or ISO 8601 with an offset` };
  return { iso: new Date(iso).toISOString() };
}

const paramsText = (p: Record<string, unknown>): string => {
  const s = JSON.stringify(p ?? {});
  return s.length > PARAMS_CHARS ? `${s.slice(0, PARAMS_CHARS)}…` : s;
};

/**
 * The next page ends just after the first record not shown, so records of that same millisecond may
 * show twice and none is skipped; unless a whole page was that one millisecond, when the page must
 * move on past it.
 */
function cursorAfter(firstNotShown: string, current: string | undefined): string {
  const ms = Date.parse(firstNotShown);
  return new Date(current !== undefined && ms + 1 >= Date.parse(current) ? ms : ms + 1).toISOString();
}

function table(rows: AuditRecord[], now: Date): Html {
  return html`<table class="audit"><thead><tr><th scope="col">When</th><th scope="col">Agent</th><th scope="col">Call</th><th scope="col">Channel</th><th scope="col">Outcome</th><th scope="col" class="num">ms</th><th scope="col">Params</th></tr></thead><tbody>
${rows.map(
  (r) => html`<tr data-id="${r.id}" class="decision-${r.decision}"><td>${time(r.ts, now)}</td><td>${r.agent_id} <span class="muted small">${r.role}</span></td><td><code class="call">${r.tool}.${r.action}</code></td><td>${r.channel}</td><td><span class="state ${r.decision === "deny" ? "state-failed" : r.status === "ok" ? "state-delivered" : "state-failed"}">${r.decision === "deny" ? "denied" : r.status}</span>${r.error_message ? html`<div class="muted small msg">${r.error_message}</div>` : ""}</td><td class="num">${Math.round(r.duration_ms)}</td><td><code class="small">${paramsText(r.params)}</code>${r.request_id ? html`<div class="muted small">${r.request_id}</div>` : ""}</td></tr>`,
)}</tbody></table>`;
}

export async function auditPage(ctx: PageContext): Promise<Page> {
  if (!ctx.may("audit_tool", "query")) {
    return {
      title: "Audit",
      page: "audit",
      live: [],
      status: 403,
      body: html`<p class="error" role="alert">Your role (${ctx.caller.role}) may not read the audit log: that needs the entitlement tools.audit.read (config/rbac_tools_matrix.yml).</p>`,
    };
  }
  const q = ctx.query;
  const text = Object.fromEntries(TEXT_FILTERS.flatMap((k) => (q[k]?.trim() ? [[k, q[k]!.trim()]] : []))) as Partial<Record<(typeof TEXT_FILTERS)[number], string>>;
  const decision = q.decision === "allow" || q.decision === "deny" ? q.decision : undefined;
  const status = (OUTCOMES as readonly string[]).includes(q.status ?? "") ? q.status : undefined;
  const since = instant("since", q.since);
  const until = instant("until", q.until);
  // The paging cursor: older than this instant (never later than the until filter, since it comes from its results).
  const before = instant("before", q.before);
  const errors = [since.error, until.error, before.error].filter((e): e is string => !!e);
  const filters = { ...text, ...(decision ? { decision } : {}), ...(status ? { status } : {}), ...(since.iso ? { since: q.since! } : {}), ...(until.iso ? { until: q.until! } : {}) };
  let body: Html;
  if (errors.length) body = html`<p class="error" role="alert">${errors.join("; ")}.</p>`;
  else {
    const a = await ctx.call("audit_tool", "query", {
      ...text,
      ...(decision ? { decision } : {}),
      ...(status ? { status } : {}),
      ...(since.iso ? { since: since.iso } : {}),
      ...((before.iso ?? until.iso) ? { until: before.iso ?? until.iso } : {}),
      limit: PAGE_SIZE + 1,
    });
    if (!a.ok) body = failed("the audit log", a);
    else {
      const all = (a.result.records ?? []) as AuditRecord[];
      const rows = all.slice(0, PAGE_SIZE);
      const filtered = Object.keys(filters).length > 0;
      const next = all.length > PAGE_SIZE ? new URLSearchParams({ ...filters, before: cursorAfter(all[PAGE_SIZE]!.ts, before.iso) }) : undefined;
      const newest = new URLSearchParams(filters);
      body =
        rows.length === 0
          ? html`<p class="empty">No audit records${filtered ? html` match these filters; <a href="/console/audit">clear them</a>` : ""}.</p>`
          : html`${table(rows, ctx.now)}<nav class="paging" aria-label="Pages">${before.iso ? html`<a href="/console/audit${newest.size ? `?${newest}` : ""}">← Newest</a>` : ""}${next ? html` <a href="/console/audit?${next.toString()}" rel="next">Older →</a>` : ""}</nav>`;
    }
  }
  const input = (k: (typeof TEXT_FILTERS)[number], label: string, list?: string) =>
    html`<label for="f-${k}">${label}</label> <input id="f-${k}" name="${k}" value="${q[k] ?? ""}" maxlength="512" class="filter"${list ? html` list="${list}"` : ""}>`;
  const form = html`<form class="filters" method="get" action="/console/audit" aria-label="Audit filters">
${input("agent_id", "Agent")} ${input("tool", "Tool")} ${input("action", "Action")} ${input("channel", "Channel", "channels")}
<datalist id="channels">${CHANNELS.map((c) => html`<option value="${c}"></option>`)}</datalist>
<label for="f-decision">Decision</label> <select id="f-decision" name="decision"><option value="">all</option>${["allow", "deny"].map((d) => html`<option value="${d}"${d === decision ? html` selected` : ""}>${d}</option>`)}</select>
<label for="f-status">Outcome</label> <select id="f-status" name="status"><option value="">all</option>${OUTCOMES.map((s) => html`<option value="${s}"${s === status ? html` selected` : ""}>${s}</option>`)}</select>
<label for="f-since">Since (UTC)</label> <input id="f-since" name="since" value="${q.since ?? ""}" placeholder="2026-03-01T12:00" class="filter">
<label for="f-until">Until (UTC)</label> <input id="f-until" name="until" value="${q.until ?? ""}" placeholder="2026-03-02T00:00" class="filter">
<button type="submit">Filter</button></form>`;
  return { title: "Audit", page: "audit", live: [], body: html`${form}<div id="audit">${body}</div>` };
}
