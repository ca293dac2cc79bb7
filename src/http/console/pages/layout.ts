/**
 * What every console page shares: the page context (the session's caller, tool calls through the
 * gateway core on channel console, what the role may do), and the frame around a page's body:
 * navigation, who is logged in, the logout button, the one script (with the response's CSP nonce).
 */
import type { Caller } from "../../../tools/types.js";
import { html, type Html } from "./html.js";

export type ToolAnswer = { ok: true; result: Record<string, unknown> } | { ok: false; message: string };

export interface PageContext {
  caller: Caller;
  csrf: string;
  nonce: string;
  now: Date;
  /** A tool action as the session's agent, through the gateway core (RBAC, limits, audit; channel console). */
  call(tool: string, action: string, params?: Record<string, unknown>): Promise<ToolAnswer>;
  /** True when the session's role holds the action's entitlement: actions it lacks are not rendered. */
  may(tool: string, action: string): boolean;
  /** The page's query string values. */
  query: Record<string, string>;
}

export const NAV = [
  { href: "/console/", label: "Overview", page: "overview" },
  { href: "/console/alerts", label: "Alerts", page: "alerts" },
  { href: "/console/incidents", label: "Incidents", page: "incidents" },
  { href: "/console/silences", label: "Silences", page: "silences" },
  { href: "/console/notifications", label: "Notifications", page: "notifications" },
  // `needs`: the entry shows only to a role that may run this tool action.
  { href: "/console/release", label: "Release", page: "release", needs: ["release_tool", "release_check"] },
  { href: "/console/audit", label: "Audit", page: "audit", needs: ["audit_tool", "query"] },
  { href: "/console/jobs", label: "Jobs", page: "jobs" },
  { href: "/console/backlog", label: "Backlog", page: "backlog" },
] as const;

export interface Page {
  title: string;
  /** Which nav entry is current. */
  page: string;
  /** Event type prefixes that make app.js refresh the page's live regions (`[data-live]`). */
  live: string[];
  body: Html;
  /** The answer's HTTP status; default 200 (403: the role may not see this page, said in the body). */
  status?: number;
}

function head(title: string, nonce: string, csrf: string | undefined): Html {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · opsbus console</title>
<link rel="stylesheet" href="/console/static/app.css">
${csrf === undefined ? "" : html`<meta name="csrf-token" content="${csrf}">`}
<script nonce="${nonce}" src="/console/static/app.js" defer></script>
</head>`;
}

export function layout(ctx: PageContext, p: Page): string {
  const nav = NAV.filter((n) => !("needs" in n) || ctx.may(n.needs[0], n.needs[1])).map((n) => html`<a href="${n.href}"${n.page === p.page ? html` aria-current="page"` : ""}>${n.label}</a>`);
  return html`${head(p.title, ctx.nonce, ctx.csrf)}
<body data-page="${p.page}" data-live="${p.live.join(",")}">
<a class="skip" href="#main">Skip to content</a>
<header class="top">
  <strong class="brand">opsbus</strong>
  <nav aria-label="Console">${nav}</nav>
  <span class="who"><span id="live-state" class="muted" title="live updates">○</span> ${ctx.caller.agent_id} <span class="muted">(${ctx.caller.role})</span></span>
  <form data-logout method="post" action="/console/logout"><button type="submit">Log out</button></form>
</header>
<main id="main" tabindex="-1">
<h1>${p.title}</h1>
${p.body}
</main>
</body>
</html>`.text;
}

/** A page without a session (login). */
export function bare(nonce: string, title: string, body: Html): string {
  return html`${head(title, nonce, undefined)}
<body data-page="login" data-live="">
<main id="main" class="narrow">
<h1>${title}</h1>
${body}
</main>
</body>
</html>`.text;
}

/** A failed tool call, said on the page. */
export const failed = (what: string, a: { ok: false; message: string }): Html => html`<p class="error" role="alert">Could not load ${what}: ${a.message}</p>`;

/** A tool form handled by app.js: POST /console/api/tools/<tool>/<action> with the CSRF header. */
export function toolForm(tool: string, action: string, inner: Html, opts: { after?: "reload" | "reset-reload" | "none"; cls?: string; label?: string } = {}): Html {
  return html`<form class="tool ${opts.cls ?? ""}" data-tool="${tool}" data-action="${action}" data-after="${opts.after ?? "reload"}"${opts.label ? html` aria-label="${opts.label}"` : ""}>${inner}<output class="result" aria-live="polite"></output></form>`;
}
