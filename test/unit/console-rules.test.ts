/** The console's pure rules: session ids and expiry, the cookie's flags, CSRF and same-origin checks, the CSP, event access. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { clearedSessionCookie, parseCookies, SESSION_COOKIE, sessionCookie } from "../../src/console/cookies.js";
import { contentSecurityPolicy, CONSOLE_HEADERS, newNonce } from "../../src/console/csp.js";
import { csrfTokenRefusal, originOf, sameOriginRefusal } from "../../src/console/csrf.js";
import { eventEntitlement, mayReadEvent } from "../../src/console/event-access.js";
import { isSessionId, needsTouch, newSessionId, newSessionRecord, sessionHash, sessionPolicy, sessionRecordOf, sessionState } from "../../src/console/session.js";

const T0 = new Date("2026-03-02T10:00:00.000Z");
const at = (minutes: number) => new Date(T0.getTime() + minutes * 60_000);

test("session ids are 256 random bits in base64url; the store key is their SHA-256", () => {
  const ids = new Set(Array.from({ length: 200 }, newSessionId));
  assert.is(ids.size, 200);
  for (const id of ids) {
    assert.ok(isSessionId(id), id);
    assert.is(Buffer.from(id, "base64url").length, 32);
  }
  const id = [...ids][0]!;
  assert.match(sessionHash(id), /^[0-9a-f]{64}$/);
  assert.is.not(sessionHash(id), id);
  assert.not.ok(isSessionId("short"));
  assert.not.ok(isSessionId(`${id}x`));
  assert.not.ok(isSessionId(id.slice(0, 42) + "!"));
});

test("a session is live until the earlier of idle and absolute expiry", () => {
  const p = sessionPolicy(30, 12);
  const r = newSessionRecord("helion", true, T0);
  assert.equal(sessionState(r, at(0), p), { live: true, expiresAt: at(30) });
  assert.equal(sessionState(r, at(29.99), p), { live: true, expiresAt: at(30) });
  assert.equal(sessionState(r, at(30), p), { live: false, reason: "idle" });
  // Busy all day: idle never passes, the absolute expiry still does.
  const busy = { ...r, last_seen_at: at(12 * 60 - 1).toISOString() };
  assert.equal(sessionState(busy, at(12 * 60 - 0.5), p), { live: true, expiresAt: at(12 * 60) });
  assert.equal(sessionState(busy, at(12 * 60), p), { live: false, reason: "absolute" });
  // The reported expiry is the sooner one.
  const late = { ...r, last_seen_at: at(12 * 60 - 10).toISOString() };
  assert.equal(sessionState(late, at(12 * 60 - 10), p), { live: true, expiresAt: at(12 * 60) });
});

test("the idle clock is written back at most every tenth of the idle time", () => {
  const p = sessionPolicy(30, 12);
  const r = newSessionRecord("helion", true, T0);
  assert.not.ok(needsTouch(r, at(2.9), p));
  assert.ok(needsTouch(r, at(3), p));
});

test("records read back from a store are checked; each has its own CSRF token", () => {
  const a = newSessionRecord("a", false, T0);
  const b = newSessionRecord("a", false, T0);
  assert.is.not(a.csrf, b.csrf);
  assert.ok(a.csrf.length >= 43);
  assert.equal(sessionRecordOf(JSON.parse(JSON.stringify(a))), a);
  assert.is(sessionRecordOf({ ...a, created_at: "yesterday" }), undefined);
  assert.is(sessionRecordOf({ ...a, authenticated: "yes" }), undefined);
  assert.is(sessionRecordOf(null), undefined);
});

test("the cookie: HttpOnly, SameSite=Strict, Path=/, Secure only when asked, cleared with Max-Age=0", () => {
  const plain = sessionCookie("abc", { secure: false, maxAgeSeconds: 43_200 });
  assert.is(plain, `${SESSION_COOKIE}=abc; Path=/; HttpOnly; SameSite=Strict; Max-Age=43200`);
  const secure = sessionCookie("abc", { secure: true, maxAgeSeconds: 60 });
  assert.ok(secure.endsWith("; Secure"), secure);
  assert.is(clearedSessionCookie(true), `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0; Secure`);
  assert.equal([...parseCookies(`a=1; ${SESSION_COOKIE}=xyz; ${SESSION_COOKIE}=second; b="q"`)], [["a", "1"], [SESSION_COOKIE, "xyz"], ["b", "q"]]);
  assert.is(parseCookies(undefined).size, 0);
  assert.is(parseCookies("garbage;=x;").size, 0);
});

test("same-origin: Sec-Fetch-Site must say same-origin, Origin must be this server's; a client sending neither is not a browser", () => {
  const allowed = ["http://127.0.0.1:9300", "https://ops.example.com"];
  assert.is(sameOriginRefusal({ origin: "http://127.0.0.1:9300", secFetchSite: "same-origin", allowed }), undefined);
  assert.is(sameOriginRefusal({ origin: "https://ops.example.com", secFetchSite: undefined, allowed }), undefined);
  assert.is(sameOriginRefusal({ origin: undefined, secFetchSite: undefined, allowed }), undefined);
  assert.is(sameOriginRefusal({ origin: "https://evil.example", secFetchSite: undefined, allowed }), "origin mismatch");
  assert.is(sameOriginRefusal({ origin: "null", secFetchSite: undefined, allowed }), "origin mismatch");
  assert.is(sameOriginRefusal({ origin: "http://127.0.0.1:9300", secFetchSite: "cross-site", allowed }), "cross-site");
  assert.is(sameOriginRefusal({ origin: undefined, secFetchSite: "same-site", allowed }), "cross-site");
  assert.is(originOf("https://ops.example.com/console/x?y"), "https://ops.example.com");
  assert.is(originOf("not a url"), undefined);
});

test("the CSRF token must be the session's, compared whole", () => {
  const token = newSessionRecord("a", true, T0).csrf;
  assert.is(csrfTokenRefusal(token, token), undefined);
  assert.is(csrfTokenRefusal(token, undefined), "missing csrf token");
  assert.is(csrfTokenRefusal(token, ""), "missing csrf token");
  assert.is(csrfTokenRefusal(token, token.slice(0, -1)), "bad csrf token");
  assert.is(csrfTokenRefusal(token, `${token.slice(0, -1)}${token.endsWith("A") ? "B" : "A"}`), "bad csrf token");
});

test("the CSP: scripts and styles by nonce only, nothing inline or eval, no framing, reports to /console/csp-report", () => {
  const nonce = newNonce();
  assert.is.not(nonce, newNonce());
  assert.is(Buffer.from(nonce, "base64").length, 16);
  const csp = contentSecurityPolicy(nonce);
  const directives = new Map(csp.split("; ").map((d) => [d.split(" ")[0]!, d.split(" ").slice(1).join(" ")]));
  assert.is(directives.get("default-src"), "'self'");
  assert.is(directives.get("script-src"), `'self' 'nonce-${nonce}'`);
  assert.is(directives.get("style-src"), `'self' 'nonce-${nonce}'`);
  assert.is(directives.get("img-src"), "'self' data:");
  assert.is(directives.get("connect-src"), "'self'");
  assert.is(directives.get("frame-ancestors"), "'none'");
  assert.is(directives.get("base-uri"), "'none'");
  assert.is(directives.get("form-action"), "'self'");
  assert.is(directives.get("object-src"), "'none'");
  assert.is(directives.get("report-uri"), "/console/csp-report");
  assert.not.ok(/unsafe-(inline|eval)/.test(csp));
  assert.is(CONSOLE_HEADERS["x-content-type-options"], "nosniff");
  assert.is(CONSOLE_HEADERS["referrer-policy"], "no-referrer");
});

test("live events need their domain's read entitlement; other domains need monitor read", () => {
  assert.is(eventEntitlement("alert.accepted"), "tools.alerts.read");
  assert.is(eventEntitlement("incident.opened"), "tools.incidents.read");
  assert.is(eventEntitlement("silence.created"), "tools.silences.read");
  assert.is(eventEntitlement("notification.sent"), "tools.notifications.read");
  assert.is(eventEntitlement("job.succeeded"), "tools.jobs.read");
  assert.is(eventEntitlement("backlog.item_created"), "tools.backlog.read");
  assert.is(eventEntitlement("nodes.status"), "tools.monitor.read");
  assert.is(eventEntitlement("triage.done"), "tools.monitor.read");
  assert.is(eventEntitlement("constructor.x"), "tools.monitor.read");
  const monitor = new Set(["tools.alerts.read", "tools.incidents.read", "tools.monitor.read"]);
  assert.ok(mayReadEvent(monitor, "alert.accepted"));
  assert.not.ok(mayReadEvent(monitor, "job.started"));
  assert.not.ok(mayReadEvent(new Set(), "graph.run"));
});

test.run();
