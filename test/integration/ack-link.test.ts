/**
 * Ack links end to end on a suite-owned nats-server, in prod (so no API key is involved: the token
 * is the credential) with OPSBUS_ACK_SECRET set: the gateway's HTTP listener serves the page
 * without acknowledging; the form's POST acknowledges through oncall_tool as `ack-link` (audited,
 * `incident.acknowledged` published); the used link is claimed in the OPS_ACK_LINKS KV bucket, so a
 * second POST, or two at once, acknowledge once; tampered and expired links are refused; every
 * refusal is audited.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { AuditRecord } from "../../src/audit/store.js";
import type { IncidentRecord } from "../../src/incidents/store.js";
import { ackUrl, ackLinksFrom, signAckLink } from "../../src/notify/ack-link.js";
import { freePort } from "../harness/ports.js";
import { startStack, type Stack } from "../harness/stack.js";
import { waitFor } from "../harness/wait.js";

const SECRET = "integration-ack-secret-7f3a9c2e51b84d06a1e2";
const port = await freePort();
const base = `http://127.0.0.1:${port}`;
let s: Stack;

test.before(async () => {
  s = await startStack({
    env: { OPS_ENV: "prod", OPSBUS_API_KEYS: "sofiia=sk-ack-sofiia-Vb71", HTTP_PORT: String(port), HTTP_HOST: "127.0.0.1", OPSBUS_ACK_SECRET: SECRET, OPSBUS_ACK_LINK_TTL_MINUTES: "120" },
  });
});
test.after(async () => s?.stop());

async function openIncident(title: string): Promise<IncidentRecord> {
  const r = await s.call<{ incident: IncidentRecord }>("oncall_tool", "incident_create", { service: "checkout", severity: "P1", title }, { key: "sk-ack-sofiia-Vb71" });
  assert.ok(r.ok, JSON.stringify(r));
  return r.result.incident;
}

/** A link as the notifier makes it: from the process's own configuration. */
function linkFor(inc: IncidentRecord, receiver = "oncall-webhook"): { url: string; token: string } {
  const links = ackLinksFrom(s.running.ctx.env)!;
  const url = ackUrl(links, inc.id, `${inc.id}.opened.${receiver}`, new Date());
  return { url, token: url.slice(url.lastIndexOf("/") + 1) };
}

const audits = async (q: { tool: string; action?: string }): Promise<AuditRecord[]> => s.running.ctx.stores.audit.query({ ...q, limit: 10_000 });
const form = (url: string, headers: Record<string, string> = {}) =>
  fetch(url, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded", ...headers }, body: "", redirect: "manual" });

test("the links point at this listener; the used-links bucket keeps entries for the link TTL", async () => {
  const inc = await openIncident("bucket");
  assert.ok(linkFor(inc).url.startsWith(`${base}/ack/`));
  const info = await s.running.ctx.jsm.streams.info("KV_OPS_ACK_LINKS");
  assert.is(info.config.max_age, 120 * 60_000 * 1_000_000);
});

test("GET shows the confirmation page and acknowledges nothing (a mail scanner following the link)", async () => {
  const inc = await openIncident("scanner <follows> links");
  const { url } = linkFor(inc);
  for (let i = 0; i < 3; i++) {
    const res = await fetch(url);
    assert.is(res.status, 200);
    const html = await res.text();
    assert.ok(html.includes("scanner &lt;follows&gt; links") && html.includes('<form method="post">'), html);
    assert.is(res.headers.get("referrer-policy"), "no-referrer");
  }
  assert.is((await s.running.ctx.stores.incidents.get(inc.id))?.acknowledged_at, undefined);
  assert.is((await s.running.ctx.stores.incidents.events({ incident_ids: [inc.id], type: "acknowledged" })).length, 0);
});

test("POST acknowledges as ack-link (audited, incident.acknowledged published); a second POST is refused 410 and audited", async () => {
  const inc = await openIncident("post acks");
  const { url, token } = linkFor(inc);
  const res = await form(url, { "x-request-id": "ack-post-1" });
  assert.is(res.status, 200, await res.clone().text());
  assert.ok((await res.text()).includes("<h1>Acknowledged</h1>"));
  const after = await s.running.ctx.stores.incidents.get(inc.id);
  assert.is(after?.acknowledged_by, "ack-link");
  const ev = await waitFor(() => s.events("incident.acknowledged").find((e) => e.data.incident_id === inc.id), { message: "incident.acknowledged" });
  assert.equal([ev.data.by, ev.data.acknowledged_at], ["ack-link", after!.acknowledged_at]);
  const ok = await waitFor(async () => (await audits({ tool: "oncall_tool", action: "incident_ack" })).find((r) => r.request_id === "ack-post-1"), { message: "the acknowledge's audit record" });
  assert.equal([ok.agent_id, ok.role, ok.decision, ok.status, ok.channel, ok.params.incident_id], ["ack-link", "svc_ack_link", "allow", "ok", "http", inc.id]);

  const again = await form(url, { "x-request-id": "ack-post-2", accept: "application/json" });
  assert.is(again.status, 410);
  assert.equal(((await again.json()) as { error: { reason: string } }).error.reason, "used");
  const refusal = await waitFor(async () => (await audits({ tool: "ack_link" })).find((r) => r.request_id === "ack-post-2"), { message: "the reuse's audit record" });
  assert.equal([refusal.decision, refusal.status, refusal.params.reason, refusal.params.incident_id], ["deny", "forbidden", "used", inc.id]);
  const all = JSON.stringify(await audits({ tool: "ack_link" })) + JSON.stringify(await audits({ tool: "oncall_tool" }));
  assert.not.ok(all.includes(token), "the token is never audited");
  assert.is((await s.running.ctx.stores.incidents.events({ incident_ids: [inc.id], type: "acknowledged" })).length, 1);
});

test("two POSTs of one link at once: one acknowledges, the other is told it was used", async () => {
  const inc = await openIncident("double click");
  const { url } = linkFor(inc);
  const statuses = (await Promise.all([form(url), form(url), form(url)])).map((r) => r.status).sort();
  assert.equal(statuses, [200, 410, 410]);
  assert.is((await s.running.ctx.stores.incidents.events({ incident_ids: [inc.id], type: "acknowledged" })).length, 1);
});

test("tampered (403) and expired (410) links are refused, audited, and acknowledge nothing", async () => {
  const inc = await openIncident("refusals");
  const { token } = linkFor(inc);
  const [payload, sig] = token.split(".") as [string, string];
  const claims = JSON.parse(Buffer.from(payload, "base64url").toString()) as { incident_id: string; key: string; exp: number };
  const other = await openIncident("someone else's");
  const forged = `${Buffer.from(JSON.stringify({ ...claims, incident_id: other.id })).toString("base64url")}.${sig}`;
  const expired = signAckLink({ ...claims, exp: Math.floor(Date.now() / 1000) - 1 }, SECRET);
  const cases: Array<[string, string, number, string]> = [
    ["tampered payload", forged, 403, "bad signature"],
    ["tampered signature", `${payload}.${sig.slice(1)}A`, 403, "bad signature"],
    ["signed with another secret", signAckLink(claims, "another-secret-of-enough-bytes-0000000000"), 403, "bad signature"],
    ["expired", expired, 410, "expired"],
    ["malformed", "hello", 403, "malformed"],
  ];
  for (const [i, [what, t, status, reason]] of cases.entries()) {
    for (const method of ["GET", "POST"]) {
      const res = await fetch(`${base}/ack/${t}`, { method, headers: { "x-request-id": `refuse-${i}-${method}` } });
      assert.is(res.status, status, `${what} ${method}`);
      assert.match(res.headers.get("content-type") ?? "", /text\/html/);
      const record = await waitFor(async () => (await audits({ tool: "ack_link" })).find((r) => r.request_id === `refuse-${i}-${method}`), { message: `${what} ${method} audited` });
      assert.equal([record.decision, record.params.reason], ["deny", reason], what);
    }
  }
  for (const id of [inc.id, other.id]) assert.is((await s.running.ctx.stores.incidents.get(id))?.acknowledged_at, undefined, id);
  assert.is((await audits({ tool: "oncall_tool", action: "incident_ack" })).filter((r) => [inc.id, other.id].includes(r.params.incident_id as string)).length, 0);
});

test.run();
