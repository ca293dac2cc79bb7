/** Notifications: recent ones, failed ones, and retry (when the role may write notifications). */
import { html, time, type Html } from "./html.js";
import { failed, toolForm, type Page, type PageContext } from "./layout.js";

export interface NotificationRow {
  key: string;
  /** Absent on an alert group's notification, which names its group instead. */
  incident_id?: string;
  group?: { id: string; key: string; status: string };
  receiver: string;
  moment: string;
  status: string;
  attempts: unknown[];
  updated_at: string;
  error?: string;
}

export function notificationTable(ctx: PageContext, list: NotificationRow[], opts: { retry: boolean; empty: Html }): Html {
  if (list.length === 0) return opts.empty;
  return html`<table><thead><tr><th scope="col">When</th><th scope="col">Incident</th><th scope="col">Moment</th><th scope="col">Receiver</th><th scope="col">Status</th><th scope="col" class="num">Attempts</th>${opts.retry ? html`<th scope="col">Action</th>` : ""}</tr></thead><tbody>
${list.map(
  (n) => html`<tr><td>${time(n.updated_at, ctx.now)}</td><td>${n.incident_id !== undefined ? html`<a href="/console/incidents/${encodeURIComponent(n.incident_id)}">${n.incident_id}</a>` : html`<span class="muted">alert group</span> <code>${n.group?.key ?? ""}</code>`}</td><td>${n.group ? `alert group (${n.group.status})` : n.moment}</td><td>${n.receiver}</td><td><span class="state state-${n.status}">${n.status}</span>${n.error ? html`<div class="muted small">${n.error}</div>` : ""}</td><td class="num">${n.attempts.length}</td>${
    opts.retry ? html`<td>${(n.status === "failed" || n.status === "skipped") && n.incident_id !== undefined ? toolForm("notification_tool", "retry", html`<input type="hidden" name="key" value="${n.key}"><button type="submit">Retry</button>`, { label: "Retry notification" }) : ""}</td>` : ""
  }</tr>`,
)}</tbody></table>`;
}

export async function notificationsPage(ctx: PageContext): Promise<Page> {
  const retry = ctx.may("notification_tool", "retry");
  const [recent, bad] = await Promise.all([ctx.call("notification_tool", "list", { limit: 50 }), ctx.call("notification_tool", "list", { status: "failed", limit: 50 })]);
  const rows = (a: typeof recent) => (a.ok ? ((a.result.notifications ?? []) as NotificationRow[]) : []);
  return {
    title: "Notifications",
    page: "notifications",
    live: ["notification.", "incident."],
    body: html`<section aria-labelledby="h-failed" id="notif-failed" data-live><h2 id="h-failed">Failed</h2>${
      bad.ok ? notificationTable(ctx, rows(bad), { retry, empty: html`<p class="empty">No failed notifications in the last 24 hours. Nothing to retry.</p>` }) : failed("failed notifications", bad)
    }</section>
<section aria-labelledby="h-recent" id="notif-recent" data-live><h2 id="h-recent">Recent (24 h)</h2>${
      recent.ok ? notificationTable(ctx, rows(recent), { retry, empty: html`<p class="empty">Nothing sent in the last 24 hours. Receivers are set in config/notification_routes.yml.</p>` }) : failed("notifications", recent)
    }</section>`,
  };
}
