/** The console's server routes as /openapi.json describes them (src/http/openapi.ts merges them in). */
import { CSP_REPORT_PATH, EVENTS_PATH, LOGIN_PATH, LOGOUT_PATH, SESSION_PATH } from "./routes.js";

type Json = Record<string, unknown>;

/** The console's session cookie, as a security scheme. */
export const CONSOLE_SECURITY_SCHEME: Json = { type: "apiKey", in: "cookie", name: "opsbus_session", description: "a console session (POST /console/login); writes also need X-CSRF-Token and a same-origin request" };
const session = [{ consoleSession: [] }];
const json = (description: string): Json => ({ description, content: { "application/json": { schema: { type: "object" } } } });
const refusals = { "401": json("no live session (none, unknown, idle or past its absolute expiry); audited") };
const writeRefusals = { ...refusals, "403": json("cross-origin, or no or a wrong X-CSRF-Token; audited") };
const csrfHeader = { name: "X-CSRF-Token", in: "header", required: true, schema: { type: "string" }, description: "the csrf of GET /console/session" };
const sessionResult: Json = {
  type: "object",
  properties: { agent: { type: "string" }, role: { type: "string" }, entitlements: { type: "array", items: { type: "string" } }, csrf: { type: "string" }, expires_at: { type: "string", format: "date-time" } },
};

export function consolePaths(): Record<string, Json> {
  const tags = ["console"];
  const login = { type: "object", properties: { api_key: { type: "string", description: "a key of OPSBUS_API_KEYS" }, agent: { type: "string", description: "dev only: an agent of config/rbac_tools_matrix.yml" } } };
  return {
    [LOGIN_PATH]: {
      post: {
        operationId: "consoleLogin",
        summary: "Log in with an API key (dev: or an agent's name): a session cookie, and the session as GET /console/session answers it",
        tags,
        requestBody: { required: true, content: { "application/json": { schema: login }, "application/x-www-form-urlencoded": { schema: login } } },
        responses: {
          "200": { description: "logged in; Set-Cookie opsbus_session (HttpOnly, SameSite=Strict)", content: { "application/json": { schema: { type: "object", properties: { ok: { const: true }, result: sessionResult } } } } },
          "400": json("unreadable body"),
          "401": json("unknown key or agent; audited, never the key"),
          "403": json("cross-origin; audited"),
          "429": json("too many attempts from this address; Retry-After"),
        },
      },
    },
    [LOGOUT_PATH]: { post: { operationId: "consoleLogout", summary: "End the session", tags, security: session, parameters: [csrfHeader], responses: { "200": json("logged out; the cookie cleared"), ...writeRefusals } } },
    [SESSION_PATH]: { get: { operationId: "consoleSession", summary: "Who the session is, its entitlements, CSRF token and expiry", tags, security: session, responses: { "200": json("the session"), ...refusals } } },
    "/console/api/tools/{tool}/{action}": {
      post: {
        operationId: "consoleTool",
        summary: "Run a tool action as the session's agent, through the gateway core (RBAC, limits, audit with channel console)",
        tags,
        security: session,
        parameters: [
          { name: "tool", in: "path", required: true, schema: { type: "string" }, description: "a tool, or its name without _tool" },
          { name: "action", in: "path", required: true, schema: { type: "string" } },
          csrfHeader,
        ],
        requestBody: { required: false, content: { "application/json": { schema: { type: "object", description: "the action's params" } } } },
        responses: { "200": json("the tool reply envelope"), ...writeRefusals, "404": json("unknown tool or action") },
      },
    },
    [EVENTS_PATH]: {
      get: {
        operationId: "consoleEvents",
        summary: "Live events (Server-Sent Events): id = OPS_EVENTS sequence, event = type, data = envelope; only the domains the role may read",
        tags,
        security: session,
        parameters: [
          { name: "Last-Event-ID", in: "header", required: false, schema: { type: "string", pattern: "^[0-9]+$" }, description: "resume after this sequence" },
          { name: "last_event_id", in: "query", required: false, schema: { type: "string", pattern: "^[0-9]+$" }, description: "the same, for EventSource polyfills" },
        ],
        responses: { "200": { description: "the event stream", content: { "text/event-stream": { schema: { type: "string" } } } }, "400": json("Last-Event-ID is not a sequence"), ...refusals, "503": json("the feed is not running") },
      },
    },
    [CSP_REPORT_PATH]: {
      post: {
        operationId: "consoleCspReport",
        summary: "Content-Security-Policy violation reports from console pages (counted)",
        tags,
        requestBody: { required: true, content: { "application/csp-report": { schema: { type: "object" } }, "application/reports+json": { schema: { type: "array" } }, "application/json": { schema: {} } } },
        responses: { "204": { description: "counted" } },
      },
      get: { operationId: "consoleCspReports", summary: "How many CSP violation reports this process received, and the last few", tags, security: session, responses: { "200": json("count and recent"), ...refusals } },
    },
  };
}

