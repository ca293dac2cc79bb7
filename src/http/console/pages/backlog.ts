/**
 * Backlog board: items in one column per status (backlog_tool.list), each with a button per move
 * the workflow allows from its status (backlog_tool.workflow, i.e. backlog_policy.yml
 * workflow.transitions), rendered only when the role may set_status. Filters: env and service.
 * The board refreshes on every `backlog.*` event.
 */
import type { BacklogItem } from "../../../backlog/store.js";
import { OPS_ENVS } from "../../../config/env.js";
import { html, time, type Html } from "./html.js";
import { failed, toolForm, type Page, type PageContext } from "./layout.js";

/** backlog_tool.list answers at most this many. */
const ITEMS_SHOWN = 1000;
const SERVICE = /^[A-Za-z0-9_.:@/-]{1,128}$/;

/** What the board reads of a backlog_tool.list item (the stored item). */
type ItemRow = Pick<BacklogItem, "id" | "env" | "service" | "category" | "title" | "priority" | "status" | "owner" | "due_date" | "updated_at">;

const label = (status: string) => status.replace(/_/g, " ");

function moves(item: ItemRow, targets: readonly string[]): Html {
  if (targets.length === 0) return html``;
  return html`<div class="row moves">${targets.map((to) =>
    toolForm("backlog_tool", "set_status", html`<input type="hidden" name="id" value="${item.id}"><input type="hidden" name="status" value="${to}"><button type="submit" data-to="${to}">→ ${label(to)}</button>`, { label: `Move ${item.title} to ${label(to)}` }),
  )}</div>`;
}

function card(ctx: PageContext, i: ItemRow, targets: readonly string[]): Html {
  const today = ctx.now.toISOString().slice(0, 10);
  const overdue = i.status !== "done" && i.status !== "canceled" && i.due_date < today;
  return html`<li class="card item" data-id="${i.id}" data-status="${i.status}">
<div class="row"><span class="sev sev-${i.priority}">${i.priority}</span> <strong class="title">${i.title}</strong></div>
<div class="muted small">${i.service} · ${i.env} · ${i.category} · ${i.owner}</div>
<div class="small${overdue ? " error" : " muted"}">due ${i.due_date}${overdue ? " (overdue)" : ""} · updated ${time(i.updated_at, ctx.now)} · <code>${i.id}</code></div>
${moves(i, targets)}
</li>`;
}

export async function backlogPage(ctx: PageContext): Promise<Page> {
  if (!ctx.may("backlog_tool", "list")) {
    return { title: "Backlog", page: "backlog", live: [], body: html`<p class="empty">Your role (${ctx.caller.role}) does not read the backlog: that needs <code>tools.backlog.read</code> in config/rbac_tools_matrix.yml.</p>` };
  }
  const env = (OPS_ENVS as readonly string[]).includes(ctx.query.env ?? "") ? ctx.query.env : undefined;
  const service = SERVICE.test(ctx.query.service ?? "") ? ctx.query.service : undefined;
  const [w, a] = await Promise.all([
    ctx.call("backlog_tool", "workflow"),
    ctx.call("backlog_tool", "list", { limit: ITEMS_SHOWN, ...(env ? { env } : {}), ...(service ? { service } : {}) }),
  ]);
  const canMove = ctx.may("backlog_tool", "set_status");
  let board: Html;
  if (!w.ok) board = failed("the backlog workflow", w);
  else if (!a.ok) board = failed("backlog items", a);
  else {
    const statuses = (w.result.statuses ?? []) as string[];
    const transitions = (w.result.transitions ?? {}) as Record<string, string[]>;
    const items = (a.result.items ?? []) as ItemRow[];
    const filtered = Boolean(env || service);
    board =
      items.length === 0
        ? filtered
          ? html`<p class="empty">No backlog items match these filters. <a href="/console/backlog">Clear the filters</a>.</p>`
          : html`<p class="empty">The backlog is empty. Items come from the weekly generation (task <code>weekly_backlog_generate</code> on the <a href="/console/jobs">Jobs</a> page) or from <code>backlog_tool upsert</code>.</p>`
        : html`${items.length >= ITEMS_SHOWN ? html`<p class="muted">Showing the first ${ITEMS_SHOWN} items (highest priority first); filter by env or service to see the rest.</p>` : ""}
<div class="grid board">${statuses.map((s) => {
            const column = items.filter((i) => i.status === s);
            return html`<section class="column" data-status="${s}" aria-labelledby="col-${s}"><h2 id="col-${s}">${label(s)} <span class="muted">(${column.length})</span></h2>${
              column.length === 0 ? html`<p class="muted small">None.</p>` : html`<ul class="cards">${column.map((i) => card(ctx, i, canMove ? (transitions[s] ?? []) : []))}</ul>`
            }</section>`;
          })}</div>`;
  }
  const filters = html`<form class="filters" method="get" action="/console/backlog">
<label for="env">Env</label> <select id="env" name="env"><option value="">all</option>${OPS_ENVS.map((e) => html`<option value="${e}"${e === env ? html` selected` : ""}>${e}</option>`)}</select>
<label for="service">Service</label> <input id="service" name="service" value="${service ?? ""}" placeholder="any">
<button type="submit">Filter</button></form>`;
  return { title: "Backlog", page: "backlog", live: ["backlog."], body: html`${filters}<div id="backlog-board" data-live>${board}</div>` };
}
