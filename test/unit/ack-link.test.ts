/**
 * Ack links without a server: signing and checking (tampered payload, tampered signature, expired,
 * malformed, another secret), the configuration (dev secret, off in staging and prod without one,
 * a short secret refused without echoing it), and the routes through `app.inject` with the real
 * oncall_tool and RBAC matrix: the page changes nothing, the POST acknowledges once, refusals are
 * audited and escaped.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createHmac } from "node:crypto";
import type { JetStreamClient } from "@nats-io/jetstream";
import { loadEnv } from "../../src/config/env.js";
import { ToolLimits } from "../../src/config/policies.js";
import { AuditWriter, type GatewayDeps } from "../../src/gateway/index.js";
import { ACK_AUDIT_TOOL, ACK_LINK_AGENT } from "../../src/http/ack-link.js";
import { buildHttpApp } from "../../src/http/server.js";
import { EventPublisher } from "../../src/nats/events.js";
import {
  ackLinksFrom, ackTokenHash, ackUrl, DEFAULT_ACK_LINK_TTL_MS, DEV_ACK_SECRET, signAckLink, verifyAckLink, type UsedAckLinks,
} from "../../src/notify/ack-link.js";
import { subjects } from "../../src/subjects/index.js";
import { createOncallTool } from "../../src/tools/oncall-tool.js";
import { toolRegistry } from "../../src/tools/types.js";
import { capturedLogger, FakeAuditStore, loadShippedPolicies } from "./gateway-fixtures.js";
import { MemoryIncidentStore, tmpDir } from "./incident-fixtures.js";

const SECRET = "s3cret-for-tests-0123456789abcdef0123456789";
const NOW = new Date("2026-03-10T12:00:00.000Z");
const EXP = Math.floor(NOW.getTime() / 1000) + 3600;
const link = { incident_id: "inc_20260310_1200_ab12cd", key: "inc_20260310_1200_ab12cd.opened.oncall-webhook", exp: EXP };

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");

test("sign → verify: the payload back; a token is base64url JSON . base64url HMAC-SHA256", () => {
  const token = signAckLink(link, SECRET);
  assert.match(token, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
  assert.equal(JSON.parse(Buffer.from(token.split(".")[0]!, "base64url").toString()), link);
  assert.equal(verifyAckLink(token, SECRET, NOW), { ok: true, payload: link });
  assert.equal(verifyAckLink(token, SECRET, new Date(EXP * 1000 - 1)), { ok: true, payload: link });
});

test("tampered payload, tampered signature, another secret: bad signature", () => {
  const token = signAckLink(link, SECRET);
  const [payload, sig] = token.split(".") as [string, string];
  const other = b64({ ...link, incident_id: "inc_20260310_1200_ffffff" });
  assert.equal(verifyAckLink(`${other}.${sig}`, SECRET, NOW), { ok: false, reason: "bad signature" });
  const longer = b64({ ...link, exp: EXP + 86_400 * 365 });
  assert.equal(verifyAckLink(`${longer}.${sig}`, SECRET, NOW), { ok: false, reason: "bad signature" });
  const flipped = (sig[0] === "A" ? "B" : "A") + sig.slice(1);
  assert.equal(verifyAckLink(`${payload}.${flipped}`, SECRET, NOW), { ok: false, reason: "bad signature" });
  assert.equal(verifyAckLink(`${payload}.${sig.slice(0, -2)}`, SECRET, NOW), { ok: false, reason: "bad signature" }, "a shorter signature");
  assert.equal(verifyAckLink(`${payload}.${sig}AA`, SECRET, NOW), { ok: false, reason: "bad signature" }, "a longer signature");
  assert.equal(verifyAckLink(token, `${SECRET}x`, NOW), { ok: false, reason: "bad signature" });
});

test("expired: at exp and after (the signature is checked first, so only a real link is 'expired')", () => {
  const token = signAckLink(link, SECRET);
  assert.equal(verifyAckLink(token, SECRET, new Date(EXP * 1000)), { ok: false, reason: "expired", payload: link });
  assert.equal(verifyAckLink(token, SECRET, new Date(EXP * 1000 + 86_400_000)), { ok: false, reason: "expired", payload: link });
});

test("malformed: not two base64url parts, too long, or a signed payload that is not a link", () => {
  const token = signAckLink(link, SECRET);
  const [payload, sig] = token.split(".") as [string, string];
  for (const bad of ["", ".", "abc", `${payload}.`, `.${sig}`, `${payload}.${sig}.x`, `${payload}.${sig}=`, `${payload}+.${sig}`, "a".repeat(3000) + `.${sig}`, "<script>.x"]) {
    assert.equal(verifyAckLink(bad, SECRET, NOW), { ok: false, reason: "malformed" }, JSON.stringify(bad.slice(0, 40)));
  }
  for (const p of [{ ...link, exp: "soon" }, { ...link, incident_id: "../x" }, { ...link, key: "" }, [link], "text", { incident_id: link.incident_id }]) {
    // Signed with the secret, as only a bug on our side could.
    const body = Buffer.from(JSON.stringify(p)).toString("base64url");
    const signed = `${body}.${createHmac("sha256", SECRET).update(body).digest("base64url")}`;
    assert.equal(verifyAckLink(signed, SECRET, NOW), { ok: false, reason: "malformed" }, JSON.stringify(p));
  }
});

test("ackLinksFrom: dev falls back to the dev secret; staging/prod off without a secret; base URL and TTL", () => {
  const base = { HTTP_HOST: "127.0.0.1", HTTP_PORT: 9300 };
  assert.equal(ackLinksFrom({ OPS_ENV: "dev", ...base }), { secret: DEV_ACK_SECRET, baseUrl: "http://127.0.0.1:9300", ttlMs: DEFAULT_ACK_LINK_TTL_MS });
  assert.is(DEFAULT_ACK_LINK_TTL_MS, 24 * 3600_000);
  for (const env of ["staging", "prod"] as const) assert.is(ackLinksFrom({ OPS_ENV: env, ...base }), undefined, env);
  const prod = ackLinksFrom({ OPS_ENV: "prod", ...base, OPSBUS_ACK_SECRET: SECRET, OPSBUS_PUBLIC_URL: "https://ops.example.com/", OPSBUS_ACK_LINK_TTL_MINUTES: 90 });
  assert.equal(prod, { secret: SECRET, baseUrl: "https://ops.example.com", ttlMs: 90 * 60_000 });
  assert.is(ackLinksFrom({ OPS_ENV: "dev", HTTP_HOST: "127.0.0.1" }), undefined, "no URL to put in a link");
  const url = ackUrl(prod!, link.incident_id, link.key, NOW);
  assert.match(url, /^https:\/\/ops\.example\.com\/ack\/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
  const check = verifyAckLink(url.slice(url.lastIndexOf("/") + 1), SECRET, NOW);
  assert.equal(check, { ok: true, payload: { ...link, exp: Math.ceil((NOW.getTime() + 90 * 60_000) / 1000) } });
});

test("loadEnv: a short OPSBUS_ACK_SECRET stops start-up naming its length, never its value", () => {
  const err = (() => {
    try {
      loadEnv({ OPSBUS_ACK_SECRET: "tooshort-hunter2" });
    } catch (e) {
      return e as Error;
    }
    return undefined;
  })();
  assert.ok(err && /OPSBUS_ACK_SECRET: 16 bytes; at least 32/.test(err.message), err?.message);
  assert.not.ok(err!.message.includes("hunter2"));
  assert.is(loadEnv({ OPSBUS_ACK_SECRET: SECRET }).OPSBUS_ACK_SECRET, SECRET);
  assert.is(loadEnv({ OPSBUS_PUBLIC_URL: "https://ops.example.com" }).OPSBUS_PUBLIC_URL, "https://ops.example.com");
});

// --- the routes ----------------------------------------------------------------------------------

class MemoryUsedLinks implements UsedAckLinks {
  readonly hashes = new Set<string>();
  async claim(h: string) {
    if (this.hashes.has(h)) return false;
    this.hashes.add(h);
    return true;
  }
  async used(h: string) {
    return this.hashes.has(h);
  }
  async release(h: string) {
    this.hashes.delete(h);
  }
}

async function routes(opts: { off?: boolean } = {}) {
  const clock = { ms: NOW.getTime() };
  const now = () => new Date(clock.ms);
  const store = new MemoryIncidentStore();
  const js = { publish: async () => ({ seq: 1, duplicate: false, stream: "OPS_EVENTS" }) } as unknown as JetStreamClient;
  const tool = createOncallTool({ incidents: store, artifactsDir: tmpDir("ack-link"), events: new EventPublisher(js, subjects(), "n1", now), alertToIncident: async () => Promise.reject(new Error("unused")) });
  const { logger } = capturedLogger();
  const audits = new FakeAuditStore();
  const writer = new AuditWriter(audits, logger);
  const gateway: GatewayDeps = {
    registry: toolRegistry([tool]),
    policies: { ...loadShippedPolicies(), toolLimits: ToolLimits.parse({ defaults: { rate_per_minute: 1_000_000, burst: 1_000_000 } }) },
    opsEnv: "prod",
    apiKeys: new Map(),
    audit: writer,
    logger,
    nodeId: "n1",
    now,
  };
  const used = new MemoryUsedLinks();
  const app = buildHttpApp({
    gateway, logger, health: async () => ({ ok: true }), status: async () => ({}),
    ...(opts.off ? {} : { ackLinks: { secret: SECRET, used, incidents: store, now } }),
  }).app;
  const inc = await store.create({ service: "checkout", env: "prod", severity: "P1", title: "<b>checkout</b> 5xx", created_by: "sofiia" }, now());
  const token = (over: Partial<typeof link> = {}) => signAckLink({ ...link, incident_id: inc.id, ...over }, SECRET);
  const audited = async () => {
    await writer.flush();
    return audits.records;
  };
  return { app, store, inc, token, used, audited, clock };
}

test("GET: a confirmation page (escaped, no-store, no referrer), nothing acknowledged, nothing used", async () => {
  const { app, store, inc, token, used, audited } = await routes();
  const res = await app.inject({ method: "GET", url: `/ack/${token()}` });
  assert.is(res.statusCode, 200, res.body);
  assert.match(String(res.headers["content-type"]), /^text\/html/);
  assert.ok(res.body.includes("&lt;b&gt;checkout&lt;/b&gt; 5xx") && !res.body.includes("<b>checkout"), "the title is escaped");
  assert.ok(res.body.includes('<form method="post">'));
  assert.equal([res.headers["cache-control"], res.headers["referrer-policy"]], ["no-store", "no-referrer"]);
  assert.match(String(res.headers["content-security-policy"]), /default-src 'none'/);
  assert.is((await store.get(inc.id))?.acknowledged_at, undefined);
  assert.is(used.hashes.size, 0);
  assert.equal(await audited(), [], "a page view is no refusal");
});

test("POST: acknowledged as ack-link through oncall_tool (audited); again 410 used and audited; JSON on request", async () => {
  const { app, store, inc, token, audited } = await routes();
  const t = token();
  const res = await app.inject({ method: "POST", url: `/ack/${t}`, headers: { "content-type": "application/x-www-form-urlencoded", "x-request-id": "ack-1" }, payload: "" });
  assert.is(res.statusCode, 200, res.body);
  assert.ok(res.body.includes("<h1>Acknowledged</h1>"));
  const after = await store.get(inc.id);
  assert.equal([after?.acknowledged_by, after?.acknowledged_at], [ACK_LINK_AGENT, NOW.toISOString()]);
  const [ev] = await store.events({ incident_ids: [inc.id], type: "acknowledged" });
  assert.is(ev?.meta.note, `acknowledged by link (notification ${link.key})`);
  const again = await app.inject({ method: "POST", url: `/ack/${t}`, headers: { accept: "application/json" } });
  assert.is(again.statusCode, 410);
  assert.equal(again.json(), { ok: false, error: { code: "forbidden", reason: "used", message: "This acknowledgement link has already been used." } });
  assert.is((await app.inject({ method: "GET", url: `/ack/${t}` })).statusCode, 410, "the page says so too");
  const records = await audited();
  const ok = records.find((r) => r.tool === "oncall_tool");
  assert.equal([ok?.agent_id, ok?.role, ok?.action, ok?.status, ok?.channel, ok?.request_id], [ACK_LINK_AGENT, "svc_ack_link", "incident_ack", "ok", "http", "ack-1"]);
  const refusals = records.filter((r) => r.tool === ACK_AUDIT_TOOL);
  assert.equal(refusals.map((r) => [r.action, r.decision, r.params.reason, r.params.incident_id]), [["acknowledge", "deny", "used", inc.id], ["confirm_page", "deny", "used", inc.id]]);
  assert.not.ok(JSON.stringify(records).includes(t), "the token is never audited");
});

test("refusals: tampered 403, expired 410, malformed 403, links off 404; each audited once; nothing acknowledged", async () => {
  const { app, store, inc, token, audited, clock } = await routes();
  const [, sig] = token().split(".");
  const tampered = `${b64({ ...link, incident_id: inc.id, exp: EXP + 999_999 })}.${sig}`;
  const cases: Array<[string, string, number, string]> = [
    ["tampered", tampered, 403, "bad signature"],
    ["malformed", "not-a-token", 403, "malformed"],
    ["html in the path", encodeURIComponent("<script>alert(1)</script>"), 403, "malformed"],
  ];
  for (const [what, t, status, reason] of cases) {
    const res = await app.inject({ method: "POST", url: `/ack/${t}` });
    assert.is(res.statusCode, status, `${what}: ${res.body}`);
    assert.not.ok(res.body.includes("<script>"), what);
  }
  const soon = token({ exp: Math.floor(clock.ms / 1000) + 60 });
  clock.ms += 61_000;
  const expired = await app.inject({ method: "POST", url: `/ack/${soon}`, headers: { accept: "application/json" } });
  assert.equal([expired.statusCode, expired.json<{ error: { reason: string } }>().error.reason], [410, "expired"]);
  assert.is((await store.get(inc.id))?.acknowledged_at, undefined);
  const refusals = (await audited()).filter((r) => r.tool === ACK_AUDIT_TOOL);
  assert.equal(refusals.map((r) => [r.params.reason, r.status, r.decision]), [
    ["bad signature", "forbidden", "deny"], ["malformed", "forbidden", "deny"], ["malformed", "forbidden", "deny"], ["expired", "forbidden", "deny"],
  ]);
  assert.ok(refusals.every((r) => typeof r.params.token_sha256 === "string" && r.params.token_sha256.length === 16));
  assert.is(refusals[3]!.params.incident_id, inc.id, "an expired link is ours: what it was for is known");

  const off = await routes({ off: true });
  const res = await off.app.inject({ method: "GET", url: `/ack/${off.token()}` });
  assert.is(res.statusCode, 404);
  assert.equal((await off.audited()).map((r) => [r.tool, r.params.reason, r.status]), [[ACK_AUDIT_TOOL, "off", "not_found"]]);
});

test("a closed incident: the page says so; the POST is refused (400) and the link spent; other methods 405", async () => {
  const { app, store, inc, token, used } = await routes();
  await store.setStatus(inc.id, "closed", { by: "sofiia", resolution: "fixed" }, NOW);
  const page = await app.inject({ method: "GET", url: `/ack/${token()}` });
  assert.equal([page.statusCode, page.body.includes("<form")], [200, false]);
  const res = await app.inject({ method: "POST", url: `/ack/${token()}`, headers: { accept: "application/json" } });
  assert.is(res.statusCode, 400);
  assert.match(res.json<{ error: { message: string } }>().error.message, /closed/);
  assert.ok(used.hashes.has(ackTokenHash(token())));
  const put = await app.inject({ method: "PUT", url: `/ack/${token()}` });
  assert.equal([put.statusCode, put.headers.allow], [405, "GET, HEAD, POST"]);
});

test.run();
