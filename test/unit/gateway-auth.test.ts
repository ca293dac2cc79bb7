import { test } from "uvu";
import * as assert from "uvu/assert";
import { bearer, errorOf, harness, resultOf } from "./gateway-fixtures.js";

const say = (agent_id?: string) => ({ action: "say", params: { text: "hi" }, ...(agent_id ? { agent_id } : {}) });

for (const env of ["staging", "prod"] as const) {
  test(`${env}: a missing bearer key is unauthenticated`, async () => {
    const h = harness({ opsEnv: env });
    const err = errorOf(await h.call(say("alice")));
    assert.is(err.code, "unauthenticated");
    assert.match(err.message, "Authorization");
    const [rec] = await h.audited();
    assert.equal([rec?.agent_id, rec?.role, rec?.decision, rec?.status], ["alice", "unknown", "deny", "unauthenticated"]);
  });

  test(`${env}: an unknown key is unauthenticated and never echoed`, async () => {
    const h = harness({ opsEnv: env });
    const err = errorOf(await h.call(say(), { headers: bearer("key-mallory") }));
    assert.equal([err.code, err.message], ["unauthenticated", "unknown API key"]);
    assert.not.match(JSON.stringify(await h.audited()), "key-mallory");
  });

  test(`${env}: a body agent_id other than the key's agent is forbidden, audited as the key's agent`, async () => {
    const h = harness({ opsEnv: env });
    const err = errorOf(await h.call(say("alice"), { headers: bearer("key-bob") }));
    assert.is(err.code, "forbidden");
    assert.match(err.message, "does not match");
    const [rec] = await h.audited();
    assert.equal([rec?.agent_id, rec?.role, rec?.status], ["bob", "reader", "forbidden"]);
  });

  test(`${env}: a valid key identifies the agent (with or without a matching agent_id)`, async () => {
    const h = harness({ opsEnv: env });
    const a = resultOf(await h.call(say(), { headers: bearer("key-alice") }));
    assert.equal(a, { text: "hi", agent: "alice", role: "writer", authenticated: true });
    const b = resultOf(await h.call(say("bob"), { headers: { authorization: "bearer key-bob" } }));
    assert.equal([b.agent, b.role, b.authenticated], ["bob", "reader", true]);
  });
}

const basic = (user: string, key: string) => ({ Authorization: `Basic ${Buffer.from(`${user}:${key}`).toString("base64")}` });

for (const env of ["dev", "prod"] as const) {
  test(`${env}: Basic auth with the agent id as user name and its key as password is that agent`, async () => {
    const h = harness({ opsEnv: env });
    const r = resultOf(await h.call(say(), { headers: basic("alice", "key-alice") }));
    assert.equal([r.agent, r.role, r.authenticated], ["alice", "writer", true]);
    // Another agent's name beside the key is refused: a user name is a claim, like a body's agent_id.
    const other = errorOf(await h.call(say(), { headers: basic("bob", "key-alice") }));
    assert.equal([other.code, other.message], ["unauthenticated", "Basic auth: the user name is not the agent of this key"]);
    const [, rec] = await h.audited();
    assert.equal([rec?.decision, rec?.status], ["deny", "unauthenticated"]);
    assert.not.match(JSON.stringify(await h.audited()), "key-alice");
  });
}

test("prod: Basic auth with an unknown key, or without a colon, is unauthenticated", async () => {
  const h = harness({ opsEnv: "prod" });
  assert.equal(errorOf(await h.call(say(), { headers: basic("alice", "key-mallory") })).message, "unknown API key");
  const noColon = { Authorization: `Basic ${Buffer.from("alice").toString("base64")}` };
  assert.match(errorOf(await h.call(say(), { headers: noColon })).message, "missing Authorization header");
  assert.is(errorOf(await h.call(say(), { headers: { Authorization: "Basic not*base64" } })).code, "unauthenticated");
});

test("dev: the body's agent_id is trusted without a key", async () => {
  const h = harness({ opsEnv: "dev" });
  const r = resultOf(await h.call(say("carol")));
  assert.equal(r, { text: "hi", agent: "carol", role: "writer", authenticated: false });
});

test("dev: no key and no agent_id is anonymous with default_role", async () => {
  const h = harness({ opsEnv: "dev" });
  const r = resultOf(await h.call(say()));
  assert.equal([r.agent, r.role], ["anonymous", "reader"]);
  const [rec] = await h.audited();
  assert.equal([rec?.agent_id, rec?.role], ["anonymous", "reader"]);
});

test("dev: an unlisted agent gets default_role and its entitlements only", async () => {
  const h = harness({ opsEnv: "dev" });
  assert.is(resultOf(await h.call(say("zed"))).role, "reader");
  assert.is(errorOf(await h.call({ action: "act", params: { mode: "ok" }, agent_id: "zed" })).code, "forbidden");
});

test("dev: a valid key wins, a mismatched agent_id is still forbidden, an unknown key falls back to agent_id", async () => {
  const h = harness({ opsEnv: "dev" });
  const keyed = resultOf(await h.call(say(), { headers: bearer("key-bob") }));
  assert.equal([keyed.agent, keyed.authenticated], ["bob", true]);
  assert.is(errorOf(await h.call(say("alice"), { headers: bearer("key-bob") })).code, "forbidden");
  const fallback = resultOf(await h.call(say("carol"), { headers: bearer("key-unknown") }));
  assert.equal([fallback.agent, fallback.authenticated], ["carol", false]);
});

test("rate limit: a burst from one agent is refused with retry_after_ms while another agent is served", async () => {
  const h = harness({
    limits: { defaults: { rate_per_minute: 60, burst: 3 }, agents: { carol: { burst: 10 } } },
  });
  for (let i = 0; i < 3; i++) resultOf(await h.call(say("alice")));
  const err = errorOf(await h.call(say("alice")));
  assert.is(err.code, "rate_limited");
  const retry = (err.details as { retry_after_ms: number }).retry_after_ms;
  assert.ok(retry > 0 && retry <= 1000, `retry_after_ms=${retry}`);
  resultOf(await h.call(say("bob")));
  for (let i = 0; i < 10; i++) resultOf(await h.call(say("carol")));
  assert.is(errorOf(await h.call(say("carol"))).code, "rate_limited");

  h.clock.ms += retry;
  resultOf(await h.call(say("alice")));
  assert.is(errorOf(await h.call(say("alice"))).code, "rate_limited");

  const recs = await h.audited();
  const limited = recs.filter((r) => r.status === "rate_limited");
  assert.equal(limited.map((r) => [r.agent_id, r.decision]), [["alice", "deny"], ["carol", "deny"], ["alice", "deny"]]);
});

test("rate limit: buckets are per tool, so another tool is still served", async () => {
  const { echoTool } = await import("./gateway-fixtures.js");
  const other = { ...echoTool, name: "other_tool" };
  const h = harness({ tools: [echoTool, other], limits: { defaults: { burst: 1 } } });
  resultOf(await h.call(say("alice")));
  assert.is(errorOf(await h.call(say("alice"))).code, "rate_limited");
  resultOf(await h.call(say("alice"), { tool: "other_tool" }));
});

test.run();
