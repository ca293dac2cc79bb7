/**
 * The console's one script and one stylesheet, served from /console/static/ (kept in a module so
 * the build carries them). The script: login and logout, tool forms posted as JSON with the
 * session's CSRF token, relative times kept current, and the live feed (EventSource on
 * /console/events) that refreshes the page's `[data-live]` regions in place from the server's
 * own rendering. It never builds markup from data: text goes in with textContent.
 */
import { createHash } from "node:crypto";
import { EVENT_DATA } from "../../../subjects/event-map.js";

const EVENT_TYPES = Object.keys(EVENT_DATA);

const APP_JS = String.raw`(function () {
  "use strict";
  var EVENT_TYPES = __EVENT_TYPES__;
  var meta = document.querySelector('meta[name="csrf-token"]');
  var csrf = meta ? meta.getAttribute("content") : "";

  function rel(iso) {
    var t = Date.parse(iso);
    if (isNaN(t)) return iso;
    var s = Math.round((t - Date.now()) / 1000), a = Math.abs(s);
    if (a < 5) return "just now";
    var span = a < 45 ? a + " s" : a < 3600 ? Math.round(a / 60) + " min" : a < 86400 ? Math.round(a / 3600) + " h" : Math.round(a / 86400) + " d";
    return s < 0 ? span + " ago" : "in " + span;
  }
  function refreshTimes(root) {
    root.querySelectorAll("time[datetime]").forEach(function (t) { t.textContent = rel(t.getAttribute("datetime")); });
  }
  setInterval(function () { refreshTimes(document); }, 15000);

  function say(form, text, bad) {
    var out = form.querySelector("output.result");
    if (!out) return;
    out.textContent = text;
    out.className = "result " + (bad ? "error" : "ok");
  }

  function answerOf(res) {
    return res.json().catch(function () { return { ok: false, error: { message: "HTTP " + res.status } }; }).then(function (body) {
      if (res.status === 401) { location.assign("/console/login?next=" + encodeURIComponent(location.pathname + location.search)); }
      return body;
    });
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json", "x-csrf-token": csrf || "" },
      body: JSON.stringify(body)
    }).then(answerOf);
  }

  function fieldsOf(form, only) {
    var out = {};
    Array.prototype.forEach.call(form.elements, function (el) {
      if (!el.name || el.disabled || el.type === "submit" || el.type === "button") return;
      if (only && only.indexOf(el.name) < 0) return;
      var v = el.value, type = el.getAttribute("data-type");
      if (type === "lines") v = v.split("\n").map(function (s) { return s.trim(); }).filter(Boolean);
      else if (type === "number") { if (v.trim() === "") return; v = Number(v); }
      else if (v.trim() === "") return;
      // data-in="meta": the field goes into params.meta (a follow-up's title, owner, due date).
      var into = el.getAttribute("data-in");
      if (into) { out[into] = out[into] || {}; out[into][el.name] = v; } else out[el.name] = v;
    });
    return out;
  }

  function message(result, action) {
    if (result && Array.isArray(result.alerts)) return "Would silence " + result.alerts.length + " firing alert" + (result.alerts.length === 1 ? "" : "s") + ".";
    if (result && result.silence_id) return "Silence " + result.silence_id + " " + (result.action || "created") + ".";
    if (result && result.changed === false) return "Nothing to change.";
    if (result && result.run_id) return "Run " + result.run_id + " " + (result.status || "queued") + "; its report appears under Artifacts when done.";
    return "Done: " + action.replace(/_/g, " ") + ".";
  }

  function busy(form, on) {
    form.querySelectorAll("button").forEach(function (b) { b.disabled = on; });
  }

  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!(form instanceof HTMLFormElement)) return;
    if (form.hasAttribute("data-login")) {
      e.preventDefault();
      var f = fieldsOf(form);
      busy(form, true);
      fetch("/console/login", { method: "POST", credentials: "same-origin", headers: { "content-type": "application/json" }, body: JSON.stringify(f) })
        .then(function (res) { return res.json().catch(function () { return {}; }).then(function (b) { return { res: res, b: b }; }); })
        .then(function (r) {
          busy(form, false);
          if (r.res.ok) {
            var next = new URLSearchParams(location.search).get("next") || "";
            location.assign(/^\/console\/[^\/]*/.test(next) && next.indexOf("//") < 0 ? next : "/console/");
          } else say(form, (r.b.error && r.b.error.message) || ("login failed (HTTP " + r.res.status + ")"), true);
        }, function () { busy(form, false); say(form, "network error", true); });
      return;
    }
    if (form.hasAttribute("data-logout")) {
      e.preventDefault();
      post("/console/logout", {}).then(function () { location.assign("/console/login"); }, function () { location.assign("/console/login"); });
      return;
    }
    var tool = form.getAttribute("data-tool");
    if (!tool) return;
    e.preventDefault();
    var sub = e.submitter;
    var action = (sub && sub.getAttribute("data-action")) || form.getAttribute("data-action");
    var only = sub && sub.getAttribute("data-fields") ? sub.getAttribute("data-fields").split(",") : undefined;
    var after = (sub && sub.getAttribute("data-after")) || form.getAttribute("data-after");
    busy(form, true);
    say(form, "Working…", false);
    post("/console/api/tools/" + encodeURIComponent(tool) + "/" + encodeURIComponent(action), fieldsOf(form, only)).then(function (b) {
      busy(form, false);
      if (!b || !b.ok) { say(form, (b && b.error && (b.error.message || b.error.code)) || "failed", true); return; }
      say(form, message(b.result, action), false);
      if (after === "reset-reload") form.reset();
      if (after === "reload" || after === "reset-reload") { if (document.activeElement && form.contains(document.activeElement)) document.activeElement.blur(); refreshLive(); }
    }, function () { busy(form, false); say(form, "network error", true); });
  });

  // Live regions: refetch this page and swap each [data-live] element for its fresh rendering.
  var live = (document.body.getAttribute("data-live") || "").split(",").filter(Boolean);
  var timer = 0, running = false, again = false;
  // At most one refresh per 120 ms, from the first event on: resetting the timer on every event would
  // never refresh during a storm, when the page matters most.
  function schedule() { if (!timer) timer = setTimeout(function () { timer = 0; refreshLive(); }, 120); }
  // A press inside a region holds its swap until the click is done: swapped between press and
  // release, the click would land on the fresh copy of the form, its typed fields empty.
  var pressed = null;
  document.addEventListener("pointerdown", function (e) { pressed = e.target; }, true);
  var released = function () { setTimeout(function () { pressed = null; }, 0); };
  document.addEventListener("pointerup", released, true);
  document.addEventListener("pointercancel", released, true);
  function editing(el) {
    if (pressed && el.contains(pressed)) return true;
    var a = document.activeElement;
    return a && el.contains(a) && (a.tagName === "INPUT" || a.tagName === "TEXTAREA" || a.tagName === "SELECT") && a.value !== "";
  }
  function refreshLive() {
    if (running) { again = true; return; }
    running = true;
    fetch(location.href, { credentials: "same-origin", headers: { accept: "text/html" } }).then(function (res) {
      if (!res.ok || res.redirected) return;
      return res.text().then(function (text) {
        var doc = new DOMParser().parseFromString(text, "text/html");
        document.querySelectorAll("[data-live][id]").forEach(function (el) {
          var fresh = doc.getElementById(el.id);
          if (!fresh) return;
          if (editing(el)) { again = true; return; }
          el.querySelectorAll("details[open][id]").forEach(function (d) { var f = fresh.querySelector("#" + CSS.escape(d.id)); if (f) f.setAttribute("open", ""); });
          el.replaceWith(document.adoptNode(fresh));
        });
        refreshTimes(document);
      });
    }).catch(function () {}).then(function () {
      running = false;
      if (again) { again = false; schedule(); }
    });
  }

  var feed = document.getElementById("feed");
  function summary(env) {
    var d = env.data || {};
    var parts = [d.service, d.title || d.incident_id || d.alert_ref || d.key || d.silence_id || d.name, d.by ? "by " + d.by : ""];
    return parts.filter(Boolean).join(" · ");
  }
  function addToFeed(env) {
    if (!feed) return;
    var empty = document.getElementById("feed-empty");
    if (empty) empty.remove();
    var li = document.createElement("li");
    var t = document.createElement("time");
    t.setAttribute("datetime", String(env.ts || new Date().toISOString()));
    t.title = new Date(Date.parse(env.ts) || Date.now()).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
    t.textContent = rel(t.getAttribute("datetime"));
    var type = document.createElement("strong");
    type.textContent = " " + String(env.type) + " ";
    var rest = document.createElement("span");
    rest.textContent = summary(env);
    li.append(t, type, rest);
    feed.prepend(li);
    while (feed.children.length > 50) feed.lastElementChild.remove();
  }

  if (document.body.getAttribute("data-page") !== "login" && typeof EventSource === "function") {
    var state = document.getElementById("live-state");
    var es = new EventSource("/console/events");
    es.addEventListener("open", function () { if (state) { state.textContent = "●"; state.className = "live"; state.title = "live updates on"; } });
    es.addEventListener("error", function () { if (state) { state.textContent = "○"; state.className = "muted"; state.title = "live updates reconnecting"; } });
    es.addEventListener("reset", function () { location.reload(); });
    var onEvent = function (e) {
      var env;
      try { env = JSON.parse(e.data); } catch (err) { return; }
      if (!env || typeof env.type !== "string") return;
      addToFeed(env);
      if (live.some(function (p) { return env.type.indexOf(p) === 0; })) schedule();
    };
    EVENT_TYPES.forEach(function (t) { es.addEventListener(t, onEvent); });
    window.addEventListener("pagehide", function () { es.close(); });
  }
})();
`.replace("__EVENT_TYPES__", JSON.stringify(EVENT_TYPES));

const APP_CSS = `:root { --fg: #1b1f24; --muted: #5b6570; --bg: #fff; --line: #d8dde3; --accent: #0b5fff; --bad: #b42318; --ok: #067647; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
a { color: var(--accent); }
a:focus-visible, button:focus-visible, input:focus-visible, select:focus-visible, textarea:focus-visible, summary:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
.skip { position: absolute; left: -999px; } .skip:focus { left: 8px; top: 8px; background: #fff; padding: 4px 8px; z-index: 2; }
.top { display: flex; flex-wrap: wrap; gap: 8px 16px; align-items: center; padding: 8px 16px; border-bottom: 1px solid var(--line); background: #f6f8fa; }
.top nav { display: flex; flex-wrap: wrap; gap: 4px 12px; flex: 1; }
.top nav a[aria-current] { font-weight: 700; text-decoration: none; color: var(--fg); }
.top form { margin: 0; }
main { padding: 12px 16px 48px; max-width: 1100px; }
main.narrow { max-width: 420px; margin: 8vh auto; }
h1 { font-size: 1.4rem; margin: 8px 0 12px; word-break: break-word; } h2 { font-size: 1.1rem; margin: 16px 0 8px; }
.muted { color: var(--muted); } .small { font-size: 0.85em; } .live { color: var(--ok); }
.error { color: var(--bad); } .ok { color: var(--ok); }
.empty { padding: 12px; border: 1px dashed var(--line); border-radius: 6px; color: var(--muted); }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(300px, 1fr)); gap: 0 24px; }
table { border-collapse: collapse; width: 100%; } th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
.num { text-align: right; }
.cards { list-style: none; padding: 0; margin: 0; } .card { border: 1px solid var(--line); border-radius: 6px; padding: 8px 10px; margin: 0 0 8px; }
.row { display: flex; flex-wrap: wrap; gap: 4px 8px; align-items: baseline; }
.title { word-break: break-word; } .msg { white-space: pre-wrap; word-break: break-word; margin-top: 2px; }
.labels { list-style: none; display: flex; flex-wrap: wrap; gap: 4px; padding: 0; margin: 4px 0; } code { background: #f1f3f5; padding: 0 4px; border-radius: 3px; word-break: break-all; }
.sev, .state { display: inline-block; padding: 0 6px; border-radius: 10px; font-size: 0.8rem; border: 1px solid var(--line); }
.sev-P0 { background: #b42318; color: #fff; } .sev-P1 { background: #f79009; color: #000; } .sev-P2 { background: #fef0c7; } .sev-P3 { background: #eef4ff; }
.state-firing, .state-failed, .state-open, .state-offline { border-color: var(--bad); color: var(--bad); } .state-suppressed, .state-expired, .state-closed, .state-resolved { color: var(--muted); }
.state-acked, .state-delivered, .state-active, .state-online { border-color: var(--ok); color: var(--ok); }
.sev-counts { list-style: none; padding: 0; display: flex; gap: 16px; }
.feed { list-style: none; padding: 0; font-size: 0.9rem; } .feed li { border-bottom: 1px solid var(--line); padding: 3px 0; word-break: break-word; }
.timeline { list-style: none; padding: 0 0 0 12px; border-left: 2px solid var(--line); } .timeline li { margin: 0 0 10px; }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; } .facts dt { color: var(--muted); } .facts dd { margin: 0; word-break: break-word; }
form.tool, form[data-login] { display: flex; flex-wrap: wrap; gap: 6px 8px; align-items: center; margin: 6px 0; }
form[data-login] { flex-direction: column; align-items: stretch; }
.actions form.tool label { flex-basis: 100%; font-weight: 600; }
input, select, textarea, button { font: inherit; padding: 6px 8px; border: 1px solid #aab3bd; border-radius: 4px; max-width: 100%; }
textarea { width: 100%; } input { min-width: 0; flex: 1 1 12rem; } input.short { flex: 0 0 6rem; width: 6rem; }
button { background: #f6f8fa; cursor: pointer; min-height: 36px; } button[type=submit] { background: var(--accent); color: #fff; border-color: var(--accent); }
.top button[type=submit] { background: #fff; color: var(--fg); border-color: #aab3bd; }
.filters { display: flex; flex-wrap: wrap; gap: 6px 10px; align-items: center; margin-bottom: 8px; }
.filters input { flex: 0 0 6rem; }
.paging { display: flex; gap: 16px; margin: 12px 0; }
output.result { flex-basis: 100%; font-size: 0.9rem; }
details.silence summary { cursor: pointer; color: var(--accent); margin-top: 4px; }
.filters input.filter { flex: 0 1 11rem; }
details.artifact { border: 1px solid var(--line); border-radius: 6px; padding: 6px 10px; margin: 0 0 8px; } details.artifact summary { cursor: pointer; }
.markdown { word-break: break-word; } .markdown pre, pre.artifact-text { background: #f6f8fa; padding: 8px; border-radius: 4px; overflow: auto; max-height: 60vh; white-space: pre-wrap; word-break: break-word; }
.markdown table { width: auto; } .markdown blockquote { margin: 0; padding-left: 10px; border-left: 3px solid var(--line); color: var(--muted); }
.verdict-pass { border-color: var(--ok); color: var(--ok); } .verdict-fail { border-color: var(--bad); color: var(--bad); } .verdict-warn { border-color: #f79009; color: #7a4a00; } .verdict-skipped, .verdict-bypassed { color: var(--muted); }
.audit code.call { word-break: normal; white-space: nowrap; }
.reasons { margin: 0; padding-left: 18px; } .warnings { color: #7a4a00; }
@media (max-width: 600px) { .incidents th:nth-child(3), .incidents td:nth-child(3), .incidents th:nth-child(6), .incidents td:nth-child(6) { display: none; } main { padding: 8px; } }
`;

export interface StaticFile {
  body: string;
  type: string;
  etag: string;
}

const file = (body: string, type: string): StaticFile => ({ body, type, etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"` });

export const STATIC_FILES: Readonly<Record<string, StaticFile>> = {
  "app.js": file(APP_JS, "text/javascript; charset=utf-8"),
  "app.css": file(APP_CSS, "text/css; charset=utf-8"),
};
