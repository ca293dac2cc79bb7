/**
 * The console's server on a real gateway and nats-server: sessions in the CONSOLE_SESSIONS KV
 * bucket (login, logout, idle expiry on a test clock), refused writes audited with channel
 * console, tool calls on channel console; the live feed: resume with Last-Event-ID after 100
 * events missed (each exactly once, in order), 50 clients on one OPS_EVENTS consumer, events
 * filtered by the session's entitlements.
 */
import { request as httpRequest, type ClientRequest, type IncomingMessage } from "node:http";
import { Kvm } from "@nats-io/kv";
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { AuditRecord } from "../../src/audit/store.js";
import { consoleSessionBucketName } from "../../src/http/console/session-kv.js";
import { freePort } from "../harness/ports.js";
import { startStack, testClock, type Stack } from "../harness/stack.js";
import { waitFor } from "../harness/wait.js";

let s: Stack;
let port: number;
let base: string;
const clock = testClock();
let consumersBefore = 0;

test.before(async () => {
  port = await freePort();
  base = `http://127.0.0.1:${port}`;
  s = await startStack({ env: { HTTP_PORT: String(port), HTTP_HOST: "127.0.0.1" }, now: clock.now });
  consumersBefore = await eventConsumers();
});
test.after(async () => s?.stop());

interface Session { cookie: string; csrf: string }

async function login(agent: string): Promise<Session> {
  const res = await fetch(`${base}/console/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ agent }) });
  assert.is(res.status, 200, await res.clone().text());
  const cookie = res.headers.get("set-cookie")!.split(";")[0]!;
  const body = (await res.json()) as { result: { csrf: string } };
  return { cookie, csrf: body.result.csrf };
}

const post = (path: string, se: Session, headers: Record<string, string>, body: unknown = {}) =>
  fetch(`${base}${path}`, { method: "POST", headers: { "content-type": "application/json", cookie: se.cookie, ...headers }, body: JSON.stringify(body) });

async function auditOf(requestId: string): Promise<AuditRecord> {
  return waitFor(async () => (await s.running.ctx.stores.audit.query({ limit: 10_000 })).find((r) => r.request_id === requestId) ?? null, { message: `audit ${requestId}` });
}

test("login keeps the session in the KV bucket under its hash; logout deletes it and the cookie stops working", async () => {
  const se = await login("helion");
  const id = se.cookie.split("=")[1]!;
  const kv = await new Kvm(s.js).open(consoleSessionBucketName(s.running.ctx.subjects.naming.streamPrefix));
  const keys: string[] = [];
  for await (const k of await kv.keys()) keys.push(k);
  assert.ok(keys.length >= 1 && !keys.includes(id) && keys.every((k) => /^[0-9a-f]{64}$/.test(k)), keys.join(","));
  assert.is((await fetch(`${base}/console/session`, { headers: { cookie: se.cookie } })).status, 200);
  const out = await post("/console/logout", se, { "x-csrf-token": se.csrf });
  assert.is(out.status, 200);
  assert.is((await fetch(`${base}/console/session`, { headers: { cookie: se.cookie } })).status, 401);
});

test("a session idle past CONSOLE_IDLE_MINUTES (30) ends; one used within it lives on", async () => {
  const a = await login("helion");
  const b = await login("helion");
  clock.advance(20);
  assert.is((await fetch(`${base}/console/session`, { headers: { cookie: a.cookie } })).status, 200);
  clock.advance(15);
  assert.is((await fetch(`${base}/console/session`, { headers: { cookie: a.cookie } })).status, 200, "used 15 minutes ago");
  assert.is((await fetch(`${base}/console/session`, { headers: { cookie: b.cookie } })).status, 401, "idle 35 minutes");
});

test("writes: no CSRF token or another origin is 403, a monitor's write 403, an on-call write 200; each audited with channel console", async () => {
  const oncall = await login("helion");
  const monitor = await login("monitor");
  const silence = { matchers: ["alertname=ConsoleProbe"], duration_minutes: 30, comment: "console test" };
  const path = "/console/api/tools/silence_tool/create";
  assert.is((await post(path, oncall, { "x-request-id": "cs-forged" }, silence)).status, 403);
  assert.is((await post(path, oncall, { "x-request-id": "cs-cross", "x-csrf-token": oncall.csrf, origin: "https://evil.example" }, silence)).status, 403);
  assert.is((await post(path, monitor, { "x-request-id": "cs-monitor", "x-csrf-token": monitor.csrf }, silence)).status, 403);
  const ok = await post(path, oncall, { "x-request-id": "cs-oncall", "x-csrf-token": oncall.csrf, origin: base }, silence);
  assert.is(ok.status, 200, await ok.text());
  const expect: Array<[string, string, string, string]> = [
    ["cs-forged", "helion", "deny", "forbidden"],
    ["cs-cross", "helion", "deny", "forbidden"],
    ["cs-monitor", "monitor", "deny", "forbidden"],
    ["cs-oncall", "helion", "allow", "ok"],
  ];
  for (const [id, agent, decision, status] of expect) {
    const r = await auditOf(id);
    assert.equal([r.channel, r.agent_id, r.tool, r.action, r.decision, r.status], ["console", agent, "silence_tool", "create", decision, status], id);
  }
  assert.match(String((await auditOf("cs-monitor")).error_message), /lacks entitlement tools\.silences\.write/);
});

interface SseEvent { id: number; event: string; data: { type: string; data: Record<string, unknown> } }

/** A raw SSE client: parses frames into events as they arrive. */
function sse(se: Session, opts: { lastEventId?: number; query?: boolean } = {}) {
  const events: SseEvent[] = [];
  const waiters = new Set<() => void>();
  let req: ClientRequest | undefined;
  const path = opts.query && opts.lastEventId !== undefined ? `/console/events?last_event_id=${opts.lastEventId}` : "/console/events";
  const headers: Record<string, string> = { cookie: se.cookie, accept: "text/event-stream", ...(!opts.query && opts.lastEventId !== undefined ? { "last-event-id": String(opts.lastEventId) } : {}) };
  const ready = new Promise<IncomingMessage>((resolve, reject) => {
    req = httpRequest({ host: "127.0.0.1", port, path, headers }, (res) => {
      let buf = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        buf += chunk;
        let end: number;
        while ((end = buf.indexOf("\n\n")) !== -1) {
          const frame = buf.slice(0, end);
          buf = buf.slice(end + 2);
          const fields = new Map<string, string>();
          for (const line of frame.split("\n")) if (!line.startsWith(":") && line.includes(": ")) fields.set(line.slice(0, line.indexOf(": ")), line.slice(line.indexOf(": ") + 2));
          if (fields.has("data") && fields.has("id")) events.push({ id: Number(fields.get("id")), event: fields.get("event")!, data: JSON.parse(fields.get("data")!) as SseEvent["data"] });
          else if (frame.includes(": joined at")) joined = true;
        }
        for (const w of waiters) w();
      });
      resolve(res);
    });
    req.on("error", reject);
    req.end();
  });
  let joined = false;
  return {
    events,
    ready,
    pings: () => events.filter((e) => e.event === "test.ping"),
    async joined() {
      await waitFor(() => joined || null, { message: "joined the feed" });
    },
    close: () => req?.destroy(),
  };
}

let pingCount = 0;
async function ping(type = "test.ping"): Promise<number> {
  const n = ++pingCount;
  const subject = `${s.running.ctx.subjects.events.prefix}${type}`;
  const env = { id: `evt_ping_${n}`, type, ts: new Date().toISOString(), node_id: "test", data: { n } };
  return (await s.js.publish(subject, JSON.stringify(env))).seq;
}

const eventConsumers = async () => {
  const list: string[] = [];
  for await (const c of s.running.ctx.jsm.consumers.list(s.running.ctx.subjects.events.stream)) list.push(c.name);
  return list.length;
};

test("resume: drop the connection, 100 events are published, a reconnect with Last-Event-ID gets all 100 once, in order", async () => {
  const se = await login("helion");
  const first = sse(se);
  assert.is((await first.ready).headers["content-type"], "text/event-stream; charset=utf-8");
  await first.joined();
  for (let i = 0; i < 3; i++) await ping();
  await waitFor(() => first.pings().length === 3 || null, { message: "3 live events" });
  const lastId = first.events.at(-1)!.id;
  assert.is(first.pings()[2]!.data.type, "test.ping");
  first.close();
  const sent: number[] = [];
  for (let i = 0; i < 100; i++) sent.push(await ping());
  const again = sse(se, { lastEventId: lastId });
  await waitFor(() => again.pings().length >= 100 || null, { message: "100 missed events", timeoutMs: 10_000 });
  // And live ones after the catch-up, still once each.
  const more = [await ping(), await ping()];
  await waitFor(() => again.pings().length >= 102 || null, { message: "2 live events after the catch-up" });
  const ids = again.pings().map((e) => e.id);
  assert.equal(ids, [...sent, ...more]);
  const all = again.events.map((e) => e.id);
  assert.equal(all, [...all].sort((x, y) => x - y));
  assert.is(new Set(all).size, all.length, "no duplicates");
  assert.ok(all[0]! > lastId);
  again.close();
  // The polyfill form: ?last_event_id=
  const viaQuery = sse(se, { lastEventId: sent[97]!, query: true });
  await waitFor(() => viaQuery.pings().length >= 4 || null, { message: "resume by query" });
  assert.equal(viaQuery.pings().map((e) => e.id), [sent[98], sent[99], ...more]);
  viaQuery.close();
});

test("50 clients share the process's one consumer on OPS_EVENTS; each gets every event", async () => {
  const se = await login("helion");
  const one = sse(se);
  await one.joined();
  const clients = Array.from({ length: 50 }, () => sse(se));
  await Promise.all(clients.map((c) => c.joined()));
  // The feed's one consumer besides those there before any client; the resume test's catch-up consumers are deleted.
  await waitFor(async () => (await eventConsumers()) === consumersBefore + 1 || null, { message: `${consumersBefore + 1} consumers on OPS_EVENTS with 51 clients` });
  const seq = await ping();
  await waitFor(() => clients.every((c) => c.pings().some((e) => e.id === seq)) || null, { message: "all 50 got the event" });
  for (const c of [one, ...clients]) c.close();
});

test("events are filtered by the session's entitlements: a monitor sees alerts, not jobs", async () => {
  const monitor = sse(await login("monitor"));
  const oncall = sse(await login("helion"));
  await Promise.all([monitor.joined(), oncall.joined()]);
  const job = await ping("job.console_probe");
  const alert = await ping("alert.console_probe");
  await waitFor(() => (oncall.events.some((e) => e.id === alert) && monitor.events.some((e) => e.id === alert)) || null, { message: "the alert event" });
  assert.ok(oncall.events.some((e) => e.id === job && e.event === "job.console_probe"));
  assert.not.ok(monitor.events.some((e) => e.id === job));
  monitor.close();
  oncall.close();
});

test.run();
