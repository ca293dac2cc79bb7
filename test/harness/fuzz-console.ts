/**
 * Fuzz targets of the operator console's routes: login (mutated JSON and form bodies, odd
 * Content-Types, other origins, each from an address of its own so the failure limit does not
 * swallow them, a few from one address so it does), logout, the tool route
 * `/console/api/tools/<tool>/<action>` (hostile path segments, mutated params) with and without a
 * session, the CSRF token and a same-origin request, the pages with hostile query strings and ids,
 * `/console/events` with bad `Last-Event-ID`s, and CSP report bodies. What each answer may be, and
 * how many audit records it may leave, follows the console's design (src/http/console/routes.ts):
 * a refusal past the session check is audited once, a page without a session (a redirect) and a
 * CSP report never, and nothing is a 5xx.
 */
import { request as httpRequest } from "node:http";
import { mutate, seededRng, UNICODE_EDGES, type MutantHeaders, type Rng } from "./fuzz.js";
import { waitFor } from "./wait.js";

export type ConsoleTarget = "login" | "logout" | "tool" | "page" | "events" | "csp-report" | "session" | "method";

export interface ConsoleSession {
  cookie: string;
  csrf: string;
}

export interface ConsoleRequest {
  i: number;
  target: ConsoleTarget;
  kind: string;
  method: string;
  path: string;
  headers: MutantHeaders;
  body?: Uint8Array;
  /** The cookie names a session alive when the request is sent. */
  live: boolean;
  /** A write with a live session that the same-origin or CSRF check must refuse (403). */
  csrfRefused: boolean;
  /** events: what the Last-Event-ID check must make of it. */
  badEventId?: boolean;
  /** The path holds a dot segment: 404 at the edge, before any route. */
  dotSegment: boolean;
  localAddress?: string;
  requestId: string;
}

export interface ConsoleAnswer {
  status?: number;
  contentType?: string;
  location?: string;
  csp?: string;
  text?: string;
  ms: number;
  failure?: string;
}

export interface ConsoleFuzzContext {
  /** `127.0.0.1:<port>`: the Host a same-origin Origin names. */
  host: string;
  apiKey: string;
  /** Live sessions nothing logs out. */
  sessions: ConsoleSession[];
  /** One session per logout that may end it. */
  spare: ConsoleSession[];
  /** Prefix of every request id of this run. */
  runId: string;
}

const LOGIN_BODY_LIMIT = 4096;
const CSP_BODY_LIMIT = 16 * 1024;
/** A page must never show this raw: the query carried it, the page escapes it. */
export const XSS_MARK = "<img src=x onerror=fz>";
const SEQUENCE = /^\d{1,15}$/;
const DOT_SEGMENT = /(?:^|\/)(?:\.|%2e){1,2}(?:\/|$)/i;
const KNOWN_ACTIONS = [
  ["oncall_tool", "incident_list", { limit: 5 }], ["oncall", "incident_get", { incident_id: "inc_20250101_0000_abc" }], ["oncall_tool", "incident_append_event", { incident_id: "inc_20250101_0000_abc", type: "note", message: "m" }],
  ["alert_ingest_tool", "list", { limit: 5 }], ["silence_tool", "list", {}], ["notification_tool", "list", { limit: 5 }], ["jobs_tool", "list_runs", { limit: 1 }], ["audit_tool", "query", { limit: 1 }], ["monitor_tool", "status", {}],
] as const;
const HOSTILE_SEGMENTS = ["__proto__", "constructor", "toString", "%00", "%2e%2e", "..", "%E0%A4%A", "%F0%9F%98%80", "a%2Fb", "x".repeat(3000), "oncall_tool%20", "%252e", "hasOwnProperty"];
const PAGES = ["/console/", "/console/alerts", "/console/incidents", "/console/silences", "/console/notifications"];
const QUERY_KEYS = ["until", "status", "severity", "service", "next", "state", "page", "limit", "since", "q", "__proto__", "constructor"];
const EVENT_IDS = { good: ["0", "1", "42", "999999999999999", " 7 "], bad: ["-1", "1e3", "0x10", "12abc", "9".repeat(16), "1.5", "NaN", "Infinity", "1, 2", "%31", "٣"] };

const enc = new TextEncoder();
const hostile = (r: Rng): string =>
  r.pick([
    ...UNICODE_EDGES, XSS_MARK, `"><script>alert(1)</script>`, "9999-99-99T99:99:99Z", "2024-02-30T00:00:00Z", "2024-01-01T00:00:00.000000000000001+14:00",
    "0001-01-01T00:00:00Z", "open", "P1", "-1", "1e309", "x".repeat(4000), "%", "%zz", "&&&", "a=b=c", "[]", "{}", "null", "javascript:alert(1)", "//evil.example/",
  ]);
/** Percent-encoded as a browser does it: a lone surrogate becomes U+FFFD (encodeURIComponent would throw). */
const uriEncode = (v: string) => encodeURIComponent(v.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, "\ufffd"));
/** A query value as a browser would send it, or raw (printable ASCII only: a client refuses the rest). */
const queryValue = (r: Rng, v: string) => (r.chance(0.8) ? uriEncode(v) : v.replace(/[^\x21-\x7e]|#/g, ""));

function cookieFor(r: Rng, ctx: ConsoleFuzzContext): { header?: string | string[]; live: boolean; session?: ConsoleSession } {
  const s = r.pick(ctx.sessions);
  switch (r.int(8)) {
    case 0:
      return { live: false };
    case 1:
      return { header: r.pick(["opsbus_session=", "opsbus_session=x", `opsbus_session=${"a".repeat(64)}`, `opsbus_session=${"z".repeat(5000)}`, "opsbus_session", "=; ;;", `opsbus_session="${UNICODE_EDGES[4]!.replace(/\0/g, "")}"`]), live: false };
    case 2:
      // A second session cookie after the live one: the first wins.
      return { header: `${s.cookie}; opsbus_session=deadbeef`, live: true, session: s };
    case 3:
      return { header: `opsbus_session=deadbeef; ${s.cookie}`, live: false };
    default:
      return { header: s.cookie, live: true, session: s };
  }
}

/**
 * Origin/Sec-Fetch-Site/CSRF of a write: `refused` when the console must answer 403. With
 * `refuse`, always one that must be refused (a live session it carries must not end).
 */
function writeHeaders(r: Rng, ctx: ConsoleFuzzContext, s: ConsoleSession | undefined, refuse = false): { headers: MutantHeaders; refused: boolean } {
  const h: MutantHeaders = {};
  let refused = false;
  switch (r.int(6)) {
    case 0:
      h.origin = r.pick(["http://evil.example", "null", "http://127.0.0.1:1", `https://${ctx.host}`]);
      refused = true;
      break;
    case 1:
      // Any value but same-origin, the empty one too.
      h["sec-fetch-site"] = r.pick(["cross-site", "same-site", "none", ""]);
      refused = true;
      break;
    case 2:
      h.origin = `http://${ctx.host}`;
      h["sec-fetch-site"] = "same-origin";
      break;
  }
  switch (refuse && !refused ? 1 : r.int(5)) {
    case 0:
      refused = true;
      break;
    case 1:
      // Not the token: the server trims a header's outer whitespace, so no variant differs only in that.
      h["x-csrf-token"] = r.pick(["", "x", s ? s.csrf.slice(1) : "y", s ? `${s.csrf}x` : "z", s ? `"${s.csrf}"` : "w", "a".repeat(3000)]);
      refused = true;
      break;
    default:
      if (s) h["x-csrf-token"] = s.csrf;
      else refused = true;
  }
  return { headers: h, refused };
}

/** The bytes of a tool-route or logout body: none, `{}`, or a mutated JSON object. */
function jsonBody(r: Rng, template: Record<string, unknown>, maxBytes: number): { body?: Uint8Array; headers: MutantHeaders; kind: string } {
  if (r.chance(0.2)) return { headers: {}, kind: "no body" };
  // The mutator needs a field to work on (deep nesting replaces one).
  const m = mutate(r, Object.keys(template).length ? template : { fuzz: true }, { maxBytes, hardMaxBytes: maxBytes + 4096 });
  return { body: m.body, headers: m.headers, kind: m.kind };
}

/** Request `i` of the run, from its own seeded generator. */
export function consoleRequest(r: Rng, i: number, ctx: ConsoleFuzzContext, spareAt: { next: number }): ConsoleRequest {
  const requestId = `${ctx.runId}-${i}`;
  const base = { i, requestId, live: false, csrfRefused: false, dotSegment: false };
  const roll = r.next();
  if (roll < 0.2) {
    // Login: each from an address of its own (127.x.y.z reaches the loopback listener), one in ten from a shared one.
    const localAddress = r.chance(0.1) ? "127.0.0.9" : `127.${1 + (i >> 16)}.${(i >> 8) & 255}.${1 + (i & 127)}`;
    const template = r.chance(0.5) ? { api_key: r.chance(0.5) ? ctx.apiKey : "sk-fuzz-unknown" } : { agent: r.pick(["helion", "sofiia", "nobody", "__proto__", "constructor", "toString", ctx.apiKey]) };
    const headers: MutantHeaders = {};
    if (r.chance(0.15)) headers.origin = r.pick(["http://evil.example", `http://${ctx.host}`, "null"]);
    if (r.chance(0.15)) {
      // The key in any field (a key typed into the agent field must not be echoed or audited either).
      const field = r.pick(["api_key", "agent", "api_key[]", "__proto__"]);
      const form = `${field}=${uriEncode(r.chance(0.5) ? ctx.apiKey : hostile(r))}${r.chance(0.3) ? "&api_key=second" : ""}`;
      return { ...base, target: "login", kind: "form", method: "POST", path: "/console/login", headers: { ...headers, "content-type": "application/x-www-form-urlencoded" }, body: enc.encode(form), localAddress };
    }
    const m = mutate(r, template, { maxBytes: LOGIN_BODY_LIMIT, hardMaxBytes: LOGIN_BODY_LIMIT + 4096 });
    return { ...base, target: "login", kind: m.kind, method: "POST", path: "/console/login", headers: { ...m.headers, ...headers }, body: m.body, localAddress };
  }
  if (roll < 0.28) {
    // Logout: a live cookie here is a spare session's (this request may end it), while spares last.
    // Otherwise one of the shared sessions, with a write that must be refused: those never end.
    const spare = spareAt.next < ctx.spare.length && r.chance(0.6) ? ctx.spare[spareAt.next++] : undefined;
    const c = spare ? { header: spare.cookie, live: true, session: spare } : cookieFor(r, ctx);
    const w = writeHeaders(r, ctx, c.session, !spare);
    const b = jsonBody(r, { reason: "done" }, 1024);
    return { ...base, target: "logout", kind: `${b.kind}${w.refused ? " refused" : ""}`, method: "POST", path: "/console/logout", headers: { ...b.headers, ...(c.header ? { cookie: c.header } : {}), ...w.headers }, ...(b.body ? { body: b.body } : {}), live: c.live, csrfRefused: c.live && w.refused };
  }
  if (roll < 0.5) {
    const known = r.pick(KNOWN_ACTIONS);
    const [tool, action] = r.chance(0.6) ? [known[0], known[1]] : [r.chance(0.5) ? known[0] : r.pick(HOSTILE_SEGMENTS), r.pick([...HOSTILE_SEGMENTS, known[1], "incident_close"])];
    const path = `/console/api/tools/${tool}/${action}${r.chance(0.1) ? `?${QUERY_KEYS[r.int(QUERY_KEYS.length)]}=${queryValue(r, hostile(r))}` : ""}`;
    const c = cookieFor(r, ctx);
    const w = writeHeaders(r, ctx, c.session);
    const b = jsonBody(r, { ...known[2] }, 64 * 1024);
    return {
      ...base, target: "tool", kind: `${b.kind}${w.refused ? " refused" : ""}`, method: "POST", path,
      headers: { ...b.headers, ...(c.header ? { cookie: c.header } : {}), ...w.headers }, ...(b.body ? { body: b.body } : {}),
      live: c.live, csrfRefused: c.live && w.refused, dotSegment: DOT_SEGMENT.test(path.split("?")[0]!),
    };
  }
  if (roll < 0.75) {
    const id = r.pick(["inc_20250101_0000_abc", "../etc/passwd", "%2e%2e", "x".repeat(70), "%00", "<script>", "__proto__", "inc_%F0%9F%98%80", "a%2Fb", "%E0%A4%A"]);
    const page = r.chance(0.2) ? `/console/incidents/${id}` : r.pick(PAGES);
    const n = r.int(4);
    const query = Array.from({ length: n }, () => `${r.pick(QUERY_KEYS)}=${queryValue(r, hostile(r))}`).join("&");
    const path = `${page}${n ? `?${query}` : ""}`;
    const c = cookieFor(r, ctx);
    return { ...base, target: "page", kind: `page${n ? " query" : ""}`, method: r.chance(0.1) ? "HEAD" : "GET", path, headers: c.header ? { cookie: c.header } : {}, live: c.live, dotSegment: DOT_SEGMENT.test(path.split("?")[0]!) };
  }
  if (roll < 0.85) {
    const c = cookieFor(r, ctx);
    const good = r.chance(0.4);
    const id = r.pick(good ? EVENT_IDS.good : EVENT_IDS.bad);
    const headers: MutantHeaders = c.header ? { cookie: c.header } : {};
    let path = "/console/events";
    let sent: string | undefined;
    if (r.chance(0.7)) {
      headers["last-event-id"] = id;
      sent = id;
    } else if (r.chance(0.8)) {
      path += `?last_event_id=${encodeURIComponent(id)}`;
      sent = id;
    } else path += `?last_event_id=1&last_event_id=${encodeURIComponent(id)}`; // a repeated key: not a string, so ignored
    const badEventId = sent !== undefined && sent.trim() !== "" && !SEQUENCE.test(sent.trim());
    return { ...base, target: "events", kind: `events ${JSON.stringify(id)}`, method: "GET", path, headers, live: c.live, badEventId };
  }
  if (roll < 0.95) {
    const report = { "csp-report": { "document-uri": "http://127.0.0.1/console/", "violated-directive": "script-src", "blocked-uri": "inline" } };
    const m = mutate(r, r.chance(0.3) ? ({ list: [report, report] } as Record<string, unknown>) : report, { maxBytes: CSP_BODY_LIMIT, hardMaxBytes: CSP_BODY_LIMIT + 4096 });
    const type = r.pick(["application/csp-report", "application/reports+json", "application/json", "text/plain", "application/csp-report; charset=utf-8"]);
    return { ...base, target: "csp-report", kind: `${m.kind} ${type}`, method: "POST", path: "/console/csp-report", headers: { ...m.headers, "content-type": type }, body: m.body };
  }
  if (roll < 0.98) {
    const c = cookieFor(r, ctx);
    return { ...base, target: "session", kind: "read", method: "GET", path: r.pick(["/console/session", "/console/csp-report"]), headers: c.header ? { cookie: c.header } : {}, live: c.live };
  }
  return { ...base, target: "method", kind: "method", method: r.pick(["PUT", "DELETE", "PATCH", "OPTIONS"]), path: r.pick(["/console/login", "/console/csp-report", "/console/logout", "/console/events", "/console/api/tools/oncall_tool/incident_list"]), headers: {} };
}

/** Sends one request; an event stream is answered once its headers come (then closed). */
export function sendConsole(base: string, q: ConsoleRequest, timeoutMs: number): Promise<ConsoleAnswer> {
  const lines: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(q.headers)) {
    if (k.toLowerCase() === "x-request-id") continue;
    (lines[k.toLowerCase()] ??= []).push(...(typeof v === "string" ? [v] : v).map((x) => x.replace(/[^\x20-\x7e\t]/g, "?")));
  }
  if (q.body) lines["content-type"] ??= ["application/json"];
  lines["x-request-id"] = [q.requestId];
  const t0 = performance.now();
  return new Promise((resolve) => {
    const done = (a: Omit<ConsoleAnswer, "ms">) => resolve({ ...a, ms: performance.now() - t0 });
    // Host and port apart from the path: a URL string would resolve `%2e%2e` before it is sent.
    const { hostname, port } = new URL(base);
    const req = httpRequest({ hostname, port, path: q.path, method: q.method, headers: lines, agent: false, timeout: timeoutMs, ...(q.localAddress ? { localAddress: q.localAddress } : {}) }, (res) => {
      const head = { status: res.statusCode ?? 0, contentType: String(res.headers["content-type"] ?? ""), location: String(res.headers.location ?? ""), csp: String(res.headers["content-security-policy"] ?? "") };
      if (head.contentType.startsWith("text/event-stream")) {
        done({ ...head, text: "" });
        return void req.destroy();
      }
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => done({ ...head, text: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", (err) => done({ ...head, failure: err.message }));
    });
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", (err) => done({ failure: err.message }));
    req.end(q.body ? Buffer.from(q.body) : undefined);
  });
}

/** Statuses the edge itself may answer before a route: a dot segment, an oversize header. */
const EDGE = [404, 431];

/** What is wrong with an answer, by the console's rules; empty when it is as designed. */
export function consoleReplyFaults(q: ConsoleRequest, a: ConsoleAnswer): string[] {
  const s = a.status!;
  const out: string[] = [];
  if (s >= 500) return [`${s}: a 5xx`];
  // 400 when the path's escapes do not decode either (the edge refuses such a path outright).
  if (q.dotSegment && s !== 404 && s !== 400) out.push(`a dot-segment path must be 404 (400 with a bad escape), got ${s}`);
  if (q.dotSegment) return out;
  const allowed = ((): number[] => {
    switch (q.target) {
      case "login":
        return [200, 400, 401, 403, 413, 415, 429];
      case "logout":
      case "tool":
        if (!q.live) return [401, 413, 415, ...EDGE];
        if (q.csrfRefused) return [403, 413, 415, ...EDGE];
        return q.target === "logout" ? [200, 413, 415] : [200, 400, 403, 404, 409, 413, 415, 422, 429, ...EDGE];
      case "page":
        return q.live ? [200, ...EDGE] : [303, ...EDGE];
      case "events":
        return !q.live ? [401] : q.badEventId ? [400] : [200];
      case "csp-report":
        return [204, 413, 415];
      case "session":
        return q.live ? [200] : [401];
      case "method":
        return [405];
    }
  })();
  if (!allowed.includes(s)) out.push(`status ${s}, expected one of ${allowed.join(", ")}`);
  if (q.target === "page" && s === 303 && !a.location?.startsWith("/console/login?next=")) out.push(`redirect to ${a.location}`);
  if (q.target === "page" && s === 200 && q.method === "GET") {
    if (!a.contentType?.startsWith("text/html") || !/script-src [^;]*'nonce-/.test(a.csp ?? "")) out.push(`page without HTML or its CSP: ${a.contentType} / ${a.csp}`);
    if (a.text?.includes(XSS_MARK)) out.push("the page shows the query's markup unescaped");
  }
  if (q.target === "login" && s === 200 && !/"agent":/.test(a.text ?? "")) out.push("a 200 login without its session");
  const json = a.contentType?.startsWith("application/json") && q.method !== "HEAD" && a.text;
  if (json && s >= 400) {
    try {
      const e = (JSON.parse(a.text!) as { ok?: boolean; error?: { code?: unknown; message?: unknown } }).error;
      if (typeof e?.code !== "string" || typeof e.message !== "string") out.push(`error body without code and message: ${a.text!.slice(0, 120)}`);
    } catch {
      out.push(`unparseable JSON error body: ${a.text!.slice(0, 120)}`);
    }
  }
  return out;
}

/**
 * Audit records the request must leave (request id), by design: a refusal at the session, origin or
 * CSRF check is audited once, as is every login the handler reads and every tool call; a page
 * without a session (the redirect), a CSP report, a bad Last-Event-ID of a live session, a read
 * that is allowed, and anything refused before a route (405, 413, 415, a dot segment) leave none.
 * `undefined`: not pinned (a page with a session makes its own tool calls).
 */
export function expectedConsoleAudit(q: ConsoleRequest, status: number): number | undefined {
  if (q.dotSegment || [405, 413, 415, 431].includes(status)) return 0;
  switch (q.target) {
    case "login":
      return 1;
    case "logout":
    case "tool":
      return 1;
    case "page":
      return q.live ? undefined : 0;
    case "events":
    case "session":
      return q.live ? 0 : 1;
    case "csp-report":
    case "method":
      return 0;
  }
}

export async function loginConsole(base: string, apiKey: string): Promise<ConsoleSession> {
  const res = await fetch(`${base}/console/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ api_key: apiKey }) });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`console login: ${res.status} ${text.slice(0, 200)}`);
  return { cookie: res.headers.get("set-cookie")!.split(";")[0]!, csrf: (JSON.parse(text) as { result: { csrf: string } }).result.csrf };
}

export interface ConsoleFuzzRun {
  sent: Array<{ q: ConsoleRequest; a: ConsoleAnswer }>;
  /** Answers not as designed, unanswered requests, answers past the bound. */
  faults: string[];
  summary: string;
  runId: string;
}

const previewOf = (q: ConsoleRequest, a: ConsoleAnswer) =>
  `console #${q.i} ${q.method} ${q.path.slice(0, 100)} (${q.target}, ${q.kind}, ${q.live ? "live session" : "no session"}${q.csrfRefused ? ", csrf refused" : ""}): ${a.status ?? a.failure} ${a.text?.slice(0, 160) ?? ""}`;

/**
 * `total` seeded requests, `inFlight` at a time, each answered within `boundMs`. Sessions are
 * logged in first (a few spare ones for the logouts that may end theirs).
 */
export async function runConsoleFuzz(o: { base: string; apiKey: string; seed: number; total: number; inFlight?: number; boundMs?: number }): Promise<ConsoleFuzzRun> {
  const boundMs = o.boundMs ?? 5_000;
  const sessions = await Promise.all(Array.from({ length: 3 }, () => loginConsole(o.base, o.apiKey)));
  const spare = await Promise.all(Array.from({ length: Math.ceil(o.total / 40) }, () => loginConsole(o.base, o.apiKey)));
  const ctx: ConsoleFuzzContext = { host: new URL(o.base).host, apiKey: o.apiKey, sessions, spare, runId: `fc-${o.seed}` };
  const spareAt = { next: 0 };
  const queue = Array.from({ length: o.total }, (_, i) => consoleRequest(seededRng(o.seed + 104_729 * (i + 1)), i, ctx, spareAt));
  const sent: ConsoleFuzzRun["sent"] = [];
  const started = Date.now();
  await Promise.all(Array.from({ length: o.inFlight ?? 4 }, async () => {
    for (let q = queue.shift(); q; q = queue.shift()) sent.push({ q, a: await sendConsole(o.base, q, boundMs * 2) });
  }));
  const faults: string[] = [];
  const tally = new Map<string, number>();
  for (const { q, a } of sent) {
    const key = `${q.target}:${a.status ?? "reset"}`;
    tally.set(key, (tally.get(key) ?? 0) + 1);
    if (a.status === undefined) {
      // Only a body refused unread (413, the connection closed) may meet a reset while still being written.
      const oversize = (q.body?.length ?? 0) > (q.target === "login" ? LOGIN_BODY_LIMIT : q.target === "csp-report" ? CSP_BODY_LIMIT : 64 * 1024);
      if (!oversize) faults.push(`${previewOf(q, a)}: no answer`);
      continue;
    }
    for (const f of consoleReplyFaults(q, a)) faults.push(`${previewOf(q, a)}\n  → ${f}`);
    if (a.ms > boundMs) faults.push(`${previewOf(q, a)}\n  → answered in ${Math.round(a.ms)} ms, over ${boundMs} ms`);
  }
  const slowest = Math.max(...sent.map((s) => s.a.ms));
  const summary = `${sent.length} requests in ${Date.now() - started} ms (slowest ${Math.round(slowest)} ms); ${JSON.stringify(Object.fromEntries([...tally].sort()))}`;
  return { sent, faults, summary, runId: ctx.runId };
}

/** The audit records of the run, by request id, against what each request must leave. */
export async function consoleAuditFaults(run: ConsoleFuzzRun, sql: { query(text: string, params: unknown[]): Promise<{ rows: Array<{ request_id: string; n: number; internal: number; secret: number }> }> }, apiKey: string, waitMs = 30_000): Promise<string[]> {
  const pinned = run.sent.flatMap(({ q, a }) => (a.status === undefined ? [] : [{ q, a, n: expectedConsoleAudit(q, a.status) }]));
  const read = async () =>
    new Map(
      (await sql.query("SELECT request_id, count(*)::int AS n, count(*) FILTER (WHERE status = 'internal')::int AS internal, count(*) FILTER (WHERE params::text LIKE $2 OR coalesce(error_message, '') LIKE $2)::int AS secret FROM audit_log WHERE request_id LIKE $1 GROUP BY 1", [`${run.runId}-%`, `%${apiKey}%`])).rows.map((r) => [r.request_id, r]),
    );
  // The audit writer is asynchronous and keeps its order: once every record the design asks for is
  // in, one that should not exist would be in too. On a timeout, judge what came.
  const complete = (m: Awaited<ReturnType<typeof read>>) => pinned.every((p) => !p.n || (m.get(p.q.requestId)?.n ?? 0) >= p.n);
  const got = await waitFor(async () => {
    const m = await read();
    return complete(m) ? m : null;
  }, { timeoutMs: waitMs, intervalMs: 200 }).catch(read);
  const faults: string[] = [];
  for (const { q, a, n } of pinned) {
    const r = got.get(q.requestId);
    if (n !== undefined && (r?.n ?? 0) !== n) faults.push(`${previewOf(q, a)}\n  → ${r?.n ?? 0} audit records, the design says ${n}`);
    if (r?.internal) faults.push(`${previewOf(q, a)}\n  → audited as an internal error`);
    if (r?.secret) faults.push(`${previewOf(q, a)}\n  → the API key is in its audit record`);
  }
  return faults;
}
