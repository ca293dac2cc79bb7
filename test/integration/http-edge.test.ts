/**
 * The HTTP edge (issue 11, finding 6), on the gateway's listener against a real NATS stack: silent
 * sockets closed within the idle timeout, header and body timeouts at their configured values, an
 * early 413 from Content-Length, JSON required on writes, no dot-segment resolution, and one
 * Authorization header only, on HTTP and on NATS alike.
 */
// test-lane: alone (asserts 408s inside a window of tens of ms; a neighbour file would widen it)
import { test } from "uvu";
import * as assert from "uvu/assert";
import { headers as natsHeaders } from "@nats-io/nats-core";
import type { ToolReply } from "../../src/subjects/index.js";
import { freePort } from "../harness/ports.js";
import { holdSocket, openFileLimit, rawGet, rawRequest, within } from "../harness/raw-http.js";
import { startStack, type Stack } from "../harness/stack.js";
import { waitFor } from "../harness/wait.js";

const IDLE_MS = 1000;
const HEADERS_MS = 1500;
const REQUEST_MS = 3000;
/** Node checks the timeouts every tenth of the shorter one (edge.ts); the rest is room for a loaded CI machine. */
const LATE_MS = HEADERS_MS / 10 + 1000;
/** 2,000 silent sockets, or as many as this process's descriptors allow (each costs two here). */
const SILENT = Math.min(2000, Math.floor((openFileLimit() - 300) / 2));

let s: Stack;
let port: number;

test.before(async () => {
  port = await freePort();
  s = await startStack({
    roles: ["gateway"],
    env: {
      OPS_ENV: "prod",
      OPSBUS_API_KEYS: "sofiia=k-sofiia,helion=k-helion",
      HTTP_PORT: String(port),
      HTTP_IDLE_TIMEOUT_MS: String(IDLE_MS),
      HTTP_HEADERS_TIMEOUT_MS: String(HEADERS_MS),
      HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_MS),
      HTTP_MAX_CONNECTIONS: String(SILENT + 100),
    },
  });
});
test.after(async () => s.stop());

const LIST = JSON.stringify({ tool: "alert_ingest_tool", action: "list", params: {} });

async function post(body: string, headers: Record<string, string>): Promise<{ status: number; reply: ToolReply }> {
  const res = await fetch(`http://127.0.0.1:${port}/v1/tools/execute`, { method: "POST", headers, body });
  return { status: res.status, reply: (await res.json()) as ToolReply };
}

const auditOf = (requestId: string) =>
  waitFor(async () => (await s.running.ctx.stores.audit.query({ limit: 10_000 })).find((r) => r.request_id === requestId), { message: `audit record ${requestId}` });

test(`${SILENT} silent sockets are closed within the idle timeout, and a tool call answers meanwhile`, async () => {
  const held = [];
  // In batches: a burst of thousands of SYNs overflows the listen backlog and the kernel retries them a second later.
  for (let i = 0; i < SILENT; i += 200) {
    const batch = Array.from({ length: Math.min(200, SILENT - i) }, () => holdSocket(port));
    await Promise.all(batch.map((h) => h.connected));
    held.push(...batch);
  }
  let closedAfter: number[];
  try {
    const call = await post(LIST, { "content-type": "application/json", authorization: "Bearer k-helion" });
    assert.is(call.status, 200, JSON.stringify(call.reply));
    closedAfter = await within(Promise.all(held.map((h) => h.closed)), IDLE_MS + 10_000, "the server closing every silent socket");
  } finally {
    for (const h of held) h.socket.destroy();
  }
  const [first, last] = [Math.min(...closedAfter), Math.max(...closedAfter)];
  console.log(`http-edge: ${SILENT} silent sockets closed by the server after ${first}-${last} ms (idle timeout ${IDLE_MS} ms)`);
  assert.ok(first >= IDLE_MS - 100, `closed by the idle timer, not at once: first after ${first} ms`);
  assert.ok(last <= IDLE_MS + 4000, `every silent socket closed soon after the idle timeout: last after ${last} ms`);
});

test("a request whose headers trickle in is cut at the headers timeout (408), not 20 s later", async () => {
  const held = holdSocket(port);
  await held.connected;
  const started = Date.now();
  let reply = "";
  held.socket.on("data", (c: Buffer) => void (reply += c.toString()));
  held.socket.write("GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ");
  // A byte every 100 ms: never idle, never done.
  const trickle = setInterval(() => held.socket.writable && held.socket.write("a"), 100);
  await within(held.closed, HEADERS_MS + 10_000, "the headers timeout").finally(() => held.socket.destroy());
  clearInterval(trickle);
  const ms = Date.now() - started;
  console.log(`http-edge: headers timeout ${HEADERS_MS} ms fired after ${ms} ms`);
  assert.match(reply, /^HTTP\/1\.1 408 /);
  const envelope = JSON.parse(reply.slice(reply.indexOf("\r\n\r\n") + 4)) as ToolReply;
  assert.ok(!envelope.ok && envelope.error.code === "invalid_request" && envelope.error.message.includes(`${HEADERS_MS} ms`), reply);
  assert.ok(ms >= HEADERS_MS - 50 && ms <= HEADERS_MS + LATE_MS, `408 after ${ms} ms; configured ${HEADERS_MS} ms`);
});

test("a body that trickles in is cut at the request timeout (408)", async () => {
  const held = holdSocket(port);
  await held.connected;
  const started = Date.now();
  let reply = "";
  held.socket.on("data", (c: Buffer) => void (reply += c.toString()));
  held.socket.write("POST /v1/tools/execute HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{");
  const trickle = setInterval(() => held.socket.writable && held.socket.write(" "), 100);
  await within(held.closed, REQUEST_MS + 10_000, "the request timeout").finally(() => held.socket.destroy());
  clearInterval(trickle);
  const ms = Date.now() - started;
  console.log(`http-edge: request timeout ${REQUEST_MS} ms fired after ${ms} ms`);
  assert.match(reply, /^HTTP\/1\.1 408 /);
  assert.ok(ms >= REQUEST_MS - 50 && ms <= REQUEST_MS + LATE_MS, `408 after ${ms} ms; configured ${REQUEST_MS} ms`);
});

test("a declared 50 MB body is refused with 413 before any of it is sent, audited, and the connection closed", async () => {
  const head = [
    "POST /v1/tools/execute HTTP/1.1",
    "Host: localhost",
    "Content-Type: application/json",
    `Content-Length: ${50 * 1024 * 1024}`,
    "Authorization: Bearer k-helion",
    "X-Request-Id: req-early-413",
  ].join("\r\n");
  // Not one byte of the body is written: the answer and the close come from the headers alone.
  const res = await rawRequest(port, `${head}\r\n\r\n`, { timeoutMs: 5000 });
  assert.is(res.status, 413, JSON.stringify(res));
  assert.is(res.headers.connection, "close");
  const reply = JSON.parse(res.body) as ToolReply;
  assert.ok(!reply.ok && reply.error.code === "payload_too_large", res.body);
  console.log(`http-edge: declared 50 MB answered 413 and closed after ${res.ms} ms, no body sent`);
  assert.ok(res.ms < 2000, `closed after ${res.ms} ms`);
  const rec = await auditOf("req-early-413");
  assert.equal([rec.channel, rec.status, rec.decision], ["http", "payload_too_large", "deny"]);
});

test("a chunked body is refused with 413 once it passes the limit, not read to its end", async () => {
  const held = holdSocket(port);
  await held.connected;
  let reply = "";
  held.socket.on("data", (c: Buffer) => void (reply += c.toString()));
  held.socket.write("POST /v1/tools/execute HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
  const chunk = Buffer.from(`10000\r\n${"x".repeat(0x10000)}\r\n`);
  let sent = 0;
  const total = 50 * 1024 * 1024;
  while (sent < total && !reply && !held.socket.destroyed) {
    if (!held.socket.write(chunk)) await Promise.race([new Promise((r) => held.socket.once("drain", r)), held.closed]);
    sent += 0x10000;
  }
  await waitFor(() => reply.includes("\r\n\r\n"), { message: "a reply to the chunked body" });
  console.log(`http-edge: chunked 413 after ${sent} bytes sent of 50 MB`);
  assert.match(reply, /^HTTP\/1\.1 413 /);
  assert.ok(sent < 10 * 1024 * 1024, `the server answered after ${sent} bytes of 50 MB`);
  await within(held.closed, 5000, "the server closing the connection after its 413");
});

test("writes must be JSON: text/plain, a browser's form and an untyped body are 415; curl's form-labelled JSON and JSON with a charset are fine", async () => {
  // A browser marks every form post with Origin; curl -d labels its JSON as a form and sends none.
  for (const type of ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"]) {
    const r = await post(LIST, { "content-type": type, authorization: "Bearer k-helion", origin: "https://evil.example" });
    assert.is(r.status, 415, type);
    assert.ok(!r.reply.ok && r.reply.error.code === "invalid_request" && /application\/json/.test(r.reply.error.message), JSON.stringify(r.reply));
  }
  const untyped = await rawRequest(port, `POST /v1/tools/execute HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer k-helion\r\nContent-Length: ${LIST.length}\r\n\r\n${LIST}`);
  assert.is(untyped.status, 415, untyped.body);
  assert.is((await post(LIST, { "content-type": "application/json; charset=utf-8", authorization: "Bearer k-helion" })).status, 200);
  assert.is((await post(LIST, { "content-type": "application/x-www-form-urlencoded", authorization: "Bearer k-helion" })).status, 200);
});

test("dot segments are not resolved: /healthz/../metrics and /%2e%2e/metrics are 404, not metrics", async () => {
  const metrics = await rawGet(port, "/metrics");
  assert.is(metrics.status, 200);
  for (const path of ["/healthz/../metrics", "/%2e%2e/metrics", "/healthz/%2E%2E/metrics", "/./metrics", "/monitor/.%2e/metrics", "/metrics/."]) {
    const res = await rawGet(port, path);
    assert.is(res.status, 404, `${path}: ${res.body.slice(0, 200)}`);
    assert.not.ok(res.body === metrics.body, `${path} served the metrics`);
    assert.is((JSON.parse(res.body) as { error: { code: string } }).error.code, "not_found");
  }
});

test("two Authorization headers are refused over HTTP (400 invalid_request) and audited", async () => {
  for (const [second, id] of [["k-sofiia", "req-dup-two"], ["k-helion", "req-dup-same"]] as const) {
    const res = await rawRequest(
      port,
      `POST /v1/tools/execute HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nAuthorization: Bearer k-helion\r\nauthorization: Bearer ${second}\r\nX-Request-Id: ${id}\r\nContent-Length: ${LIST.length}\r\nConnection: close\r\n\r\n${LIST}`,
    );
    assert.is(res.status, 400, res.body);
    const reply = JSON.parse(res.body) as ToolReply;
    assert.ok(!reply.ok && reply.error.code === "invalid_request" && /Authorization/.test(reply.error.message), res.body);
    const rec = await auditOf(id);
    assert.equal([rec.channel, rec.decision, rec.status], ["http", "deny", "invalid_request"]);
  }
});

test("two Authorization headers are refused over NATS too, whichever case they are spelt in", async () => {
  const subject = s.running.ctx.subjects.tools.of("alert_ingest_tool");
  const body = JSON.stringify({ action: "list", params: {} });
  const twice = natsHeaders();
  twice.append("Authorization", "Bearer k-helion");
  twice.append("Authorization", "Bearer k-sofiia");
  const cased = natsHeaders();
  cased.set("Authorization", "Bearer k-helion");
  cased.set("authorization", "Bearer k-helion");
  for (const h of [twice, cased]) {
    const reply = (await s.client.request(subject, body, { timeout: 10_000, headers: h })).json<ToolReply>();
    assert.ok(!reply.ok && reply.error.code === "invalid_request" && /Authorization/.test(reply.error.message), JSON.stringify(reply));
  }
  const once = natsHeaders();
  once.set("Authorization", "Bearer k-helion");
  assert.ok((await s.client.request(subject, body, { timeout: 10_000, headers: once })).json<ToolReply>().ok);
});

test.run();
