/** The console's pages as /openapi.json lists them: HTML for a browser, not an API to call. */
type Json = Record<string, unknown>;

const PAGES: Array<[string, string, string]> = [
  ["/", "consoleRoot", "Redirects to /console/"],
  ["/console", "consoleBare", "Redirects to /console/"],
  ["/console/", "consoleOverview", "Console page: open incidents by severity, queue depth per consumer, live events"],
  ["/console/login", "consoleLoginPage", "Console page: log in with an API key (dev: or an agent's name)"],
  ["/console/alerts", "consoleAlertsPage", "Console page: alerts grouped by service; silence one from its labels"],
  ["/console/incidents", "consoleIncidentsPage", "Console page: incidents, filtered and paged by start time"],
  ["/console/incidents/{id}", "consoleIncidentPage", "Console page: one incident: artifacts (markdown rendered and sanitised), follow-ups, timeline, notifications; acknowledge, note, close, add a follow-up, draft the postmortem"],
  ["/console/silences", "consoleSilencesPage", "Console page: silences and their state; expire"],
  ["/console/notifications", "consoleNotificationsPage", "Console page: recent and failed notifications; retry"],
  ["/console/jobs", "consoleJobsPage", "Console page: the task registry with each task's state, recent runs live; run now, cancel"],
  ["/console/backlog", "consoleBacklogPage", "Console page: backlog items in columns by status, filtered by env and service; move along the workflow"],
  ["/console/release", "consoleReleasePage", "Console page: release check (service, env) answered with every gate's verdict and reasons"],
  ["/console/audit", "consoleAuditPage", "Console page: the audit log, filtered by agent, tool, action, channel, decision, outcome and time, paged"],
  ["/console/static/{name}", "consoleStatic", "The console's script (app.js) and stylesheet (app.css)"],
];

/** Pages a role without their tool action's entitlement is refused (403, the page says which entitlement). */
const ENTITLED_PAGES = new Set(["/console/release", "/console/audit"]);

/** The console's server paths with the pages' GET operations merged in (GET /console/login beside its POST). */
export function consolePagePaths(server: Record<string, Json>): Record<string, Json> {
  const out: Record<string, Json> = { ...server };
  for (const [path, operationId, summary] of PAGES) {
    const redirect = summary.startsWith("Redirects");
    // The login page and the static files are open; every other page needs a session (else: 303 to the login page).
    const open = redirect || path === "/console/login" || path.startsWith("/console/static/");
    const params = path.includes("{") ? { parameters: [{ name: path.includes("{id}") ? "id" : "name", in: "path", required: true, schema: { type: "string" } }] } : {};
    out[path] = {
      ...(out[path] ?? {}),
      get: {
        operationId,
        summary,
        tags: ["console"],
        ...params,
        ...(open ? {} : { security: [{ consoleSession: [] }] }),
        responses: redirect
          ? { "302": { description: "to /console/" } }
          : { "200": { description: "HTML (or the static file)", content: { [path.startsWith("/console/static") ? "text/javascript" : "text/html"]: { schema: { type: "string" } } } }, "303": { description: "no live session: to /console/login" }, ...(ENTITLED_PAGES.has(path) ? { "403": { description: "the role may not use this page: HTML saying which entitlement it needs" } } : {}), "404": { description: "the console is not enabled here" } },
      },
    };
  }
  return out;
}
