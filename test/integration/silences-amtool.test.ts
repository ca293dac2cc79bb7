/**
 * Silences through the Alertmanager API, driven by the real amtool (Debian prometheus-alertmanager)
 * and `opsbus silence`, on a real nats-server with alerts in Postgres:
 * - `amtool silence add … --duration 10m` prints an id, `query` lists it, `expire` ends it, after
 *   which `query` no longer lists it and `query --expired` does; `update` posts over it in place;
 *   created_by is always the key's agent, every request one silence_tool audit record;
 * - replies have a real Alertmanager's shapes, byte for byte but for ids and updatedAt;
 * - a second opsbus process (its own NATS connection) sees a silence made on the first within
 *   1 s and the other way round; kill -9 of that process and of nats-server leave an active
 *   silence active and an expired one expired.
 */
// test-lane: alone (asserts a silence reaches another process within 1 s)
import { test } from "uvu";
import * as assert from "uvu/assert";
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import type { AuditRecord } from "../../src/audit/store.js";
import type { SilenceChange } from "../../src/silences/store.js";
import { runOpsbus } from "../harness/docs.js";
import { freePort } from "../harness/ports.js";
import { createTestDatabase, type TestDatabase } from "../harness/postgres.js";
import { spawnOpsbus, type OpsbusProcess } from "../harness/process.js";
import { startStack, type Stack } from "../harness/stack.js";
import { startRealAlertmanager } from "../harness/real-alertmanager.js";
import { waitFor } from "../harness/wait.js";
import { postgresWorkerEnv } from "../harness/workers.js";

const run = promisify(execFile);
const KEYS = { helion: "k-helion-8Jq2", aistalk: "k-aistalk-3Vw9", monitor: "k-monitor-5Tz1" };
const API_KEYS = Object.entries(KEYS).map(([a, k]) => `${a}=${k}`).join(",");
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
let s: Stack;
let db: TestDatabase;
let base: string;
let httpConfig: string;
let silenceId = "";

test.before(async () => {
  db = await createTestDatabase();
  const port = await freePort();
  s = await startStack({
    roles: ["gateway", "alerts-in"],
    env: { OPS_ENV: "prod", OPSBUS_API_KEYS: API_KEYS, ALERT_BACKEND: "postgres", ALERT_DATABASE_URL: db.url, HTTP_PORT: String(port), HTTP_HOST: "127.0.0.1" },
  });
  base = `http://127.0.0.1:${port}`;
  httpConfig = join(s.dataDir, "amtool-http.yml");
  writeFileSync(httpConfig, `authorization:\n  credentials: ${KEYS.helion}\n`);
});
test.after(async () => {
  await s?.stop();
  await db?.drop();
});

const amtool = (...args: string[]) => run("amtool", [`--alertmanager.url=${base}`, `--http.config.file=${httpConfig}`, ...args], { timeout: 20_000 });
const req = (method: string, path: string, key: string | null = KEYS.helion, body?: unknown, url = base) =>
  fetch(`${url}${path}`, { method, headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body === undefined ? {} : { "content-type": "application/json" }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
const audits = async (action: string): Promise<AuditRecord[]> => s.running.ctx.stores.audit.query({ tool: "silence_tool", action, limit: 1000 });

test("amtool silence add: exit 0, prints the id; stored with created_by the key's agent (not --author), published, audited", async () => {
  const { stdout } = await amtool("silence", "add", "alertname=X", 'service=~"check.*"', "--comment=deploy 4711", "--duration=10m", "--author=mallory");
  silenceId = stdout.trim();
  assert.match(silenceId, UUID);
  const stored = (await s.running.ctx.silences.get(silenceId))!.silence;
  assert.equal(stored.matchers, [{ name: "alertname", value: "X", is_regex: false, is_equal: true }, { name: "service", value: "check.*", is_regex: true, is_equal: true }]);
  assert.equal([stored.created_by, stored.comment], ["helion", "deploy 4711"]);
  const minutes = (Date.parse(stored.ends_at) - Date.parse(stored.starts_at)) / 60_000;
  assert.ok(minutes > 9.9 && minutes <= 10, `${minutes} minutes`);
  await waitFor(async () => s.events("silence.created").find((e) => (e.data as { silence_id: string }).silence_id === silenceId), { message: "silence.created" });
  const created = await waitFor(async () => (await audits("create")).find((r) => r.status === "ok"), { message: "the create audited" });
  assert.equal([created.agent_id, created.channel, created.decision], ["helion", "http", "allow"]);
});

test("amtool silence query lists it (with a matcher filter, and as JSON in Alertmanager's shape)", async () => {
  assert.match((await amtool("silence", "query")).stdout, new RegExp(`${silenceId}\\s+alertname="?X"?`));
  assert.match((await amtool("silence", "query", "alertname=X")).stdout, new RegExp(silenceId));
  assert.not.match((await amtool("silence", "query", "alertname=Y")).stdout, new RegExp(silenceId));
  const json = JSON.parse((await amtool("silence", "query", "-o", "json")).stdout) as Array<Record<string, unknown>>;
  const mine = json.find((x) => x.id === silenceId)!;
  assert.equal(Object.keys(mine), ["id", "status", "updatedAt", "comment", "createdBy", "endsAt", "matchers", "startsAt"]);
  assert.equal([mine.status, mine.createdBy], [{ state: "active" }, "helion"]);
  assert.equal(mine.matchers, [{ isEqual: true, isRegex: false, name: "alertname", value: "X" }, { isEqual: true, isRegex: true, name: "service", value: "check.*" }]);
});

test("amtool silence update --comment --duration: posted over by id, updated in place (same id, no new silence)", async () => {
  const before = s.running.ctx.silences.current().length;
  const { stdout } = await amtool("silence", "update", silenceId, "--comment=deploy 4711, extended", "--duration=20m");
  assert.match(stdout, new RegExp(`${silenceId}\\s.*deploy 4711, extended`));
  const stored = (await s.running.ctx.silences.get(silenceId))!.silence;
  assert.is(stored.comment, "deploy 4711, extended");
  const minutes = (Date.parse(stored.ends_at) - Date.now()) / 60_000;
  assert.ok(minutes > 19 && minutes <= 20, `ends in ${minutes} minutes`);
  assert.is(s.running.ctx.silences.current().length, before);
  await waitFor(async () => s.events("silence.updated").find((e) => (e.data as { silence_id: string }).silence_id === silenceId), { message: "silence.updated" });
});

test("preview: the firing alerts a set of matchers would silence", async () => {
  const post = await req("POST", "/api/v2/alerts", KEYS.monitor, [{ labels: { alertname: "X", service: "checkout" } }, { labels: { alertname: "X", service: "billing" } }]);
  assert.is(post.status, 200);
  const preview = await waitFor(async () => {
    const r = await s.call<{ matched: number; alerts: Array<{ service: string }> }>("silence_tool", "preview", { matchers: ["alertname=X", 'service=~"check.*"'] }, { key: KEYS.aistalk });
    return r.ok && r.result.matched > 0 ? r.result : undefined;
  }, { message: "the alert stored and previewed" });
  assert.equal(preview.alerts.map((a) => a.service), ["checkout"]);
});

test("amtool silence expire ends it: query no longer lists it, query --expired does; expiring again is fine", async () => {
  await amtool("silence", "expire", silenceId);
  const stored = (await s.running.ctx.silences.get(silenceId))!.silence;
  assert.ok(Date.parse(stored.ends_at) <= Date.now());
  assert.not.match((await amtool("silence", "query")).stdout, new RegExp(silenceId));
  assert.match((await amtool("silence", "query", "--expired")).stdout, new RegExp(silenceId));
  await amtool("silence", "expire", silenceId);
  const got = (await (await req("GET", `/api/v2/silence/${silenceId}`)).json()) as { status: { state: string } };
  assert.is(got.status.state, "expired");
  assert.is(s.events("silence.expired").filter((e) => (e.data as { silence_id: string }).silence_id === silenceId).length, 1, "one expiry, one event");
});

test("the state switches of GET /api/v2/silences read as Alertmanager reads booleans: expired=0 or =maybe hides it, =TRUE shows it, never a 400", async () => {
  const ids = async (q: string) => {
    const r = await req("GET", `/api/v2/silences${q}`);
    assert.is(r.status, 200, q);
    return ((await r.json()) as Array<{ id: string }>).map((x) => x.id);
  };
  assert.ok((await ids("")).includes(silenceId));
  assert.ok((await ids("?expired=TRUE&active=off")).includes(silenceId));
  for (const q of ["?expired=0", "?expired=maybe", "?expired=false"]) assert.not.ok((await ids(q)).includes(silenceId), q);
});

test("errors as Alertmanager answers them: 400 JSON string, 404 for an unknown id, 401/403 by key", async () => {
  const bad = await req("POST", "/api/v2/silences", KEYS.helion, { matchers: [], startsAt: new Date().toISOString(), endsAt: new Date(Date.now() + 60_000).toISOString(), createdBy: "x", comment: "" });
  assert.is(bad.status, 400);
  assert.match(JSON.parse(await bad.text()) as string, /at least one matcher/);
  const past = await req("POST", "/api/v2/silences", KEYS.helion, { matchers: [{ name: "a", value: "b", isRegex: false }], startsAt: new Date(Date.now() - 120_000).toISOString(), endsAt: new Date(Date.now() - 60_000).toISOString(), createdBy: "x", comment: "" });
  assert.is(past.status, 400);
  assert.match(JSON.parse(await past.text()) as string, /end time can't be in the past/);
  const nullComment = await req("POST", "/api/v2/silences", KEYS.helion, { matchers: [{ name: "a", value: "b", isRegex: false }], endsAt: new Date(Date.now() + 60_000).toISOString(), createdBy: "x", comment: null });
  assert.is(nullComment.status, 400, "a null comment is not a string (a missing one is empty)");
  assert.match(JSON.parse(await nullComment.text()) as string, /comment/, "the reason names the field");
  const unknown = "00000000-0000-4000-8000-000000000000";
  assert.equal([(await req("GET", `/api/v2/silence/${unknown}`)).status, (await req("DELETE", `/api/v2/silence/${unknown}`)).status], [404, 404]);
  const over = await req("POST", "/api/v2/silences", KEYS.helion, { id: unknown, matchers: [{ name: "a", value: "b", isRegex: false }], startsAt: new Date().toISOString(), endsAt: new Date(Date.now() + 60_000).toISOString(), createdBy: "x", comment: "" });
  assert.equal([over.status, JSON.parse(await over.text())], [404, "silence not found"]);
  assert.is((await req("GET", "/api/v2/silence/not-a-uuid")).status, 400);
  assert.is((await req("GET", "/api/v2/silences?filter=" + encodeURIComponent("0x=1"))).status, 400);
  assert.is((await req("GET", "/api/v2/silences", null)).status, 401);
  assert.is((await req("GET", "/api/v2/silences", KEYS.aistalk)).status, 200);
  const readOnly = await req("POST", "/api/v2/silences", KEYS.aistalk, { matchers: [{ name: "a", value: "b", isRegex: false }], startsAt: new Date().toISOString(), endsAt: new Date(Date.now() + 60_000).toISOString(), createdBy: "aistalk", comment: "" });
  assert.equal([readOnly.status, typeof JSON.parse(await readOnly.text())], [403, "string"]);
  assert.is((await req("DELETE", `/api/v2/silence/${silenceId}`, KEYS.aistalk)).status, 403);
});

test("opsbus silence add|query|expire through the gateway, as the key's agent", async () => {
  const env = { NATS_URL: s.nats.url, OPSBUS_KEY: KEYS.helion };
  const add = await runOpsbus(["silence", "add", "CliAlert", "env=prod", "-c", "from the cli", "-d", "30m", "--author", "someone"], env);
  assert.is(add.code, 0, add.stderr);
  const id = add.stdout.trim();
  assert.match(id, UUID);
  assert.match(add.stderr, /--author is ignored/);
  assert.is((await s.running.ctx.silences.get(id))!.silence.created_by, "helion");
  const query = await runOpsbus(["silence", "query", "alertname=CliAlert"], env);
  assert.match(query.stdout, new RegExp(`${id}\\s+alertname="CliAlert" env="prod"\\s+.*helion\\s+from the cli`));
  assert.equal((await runOpsbus(["silence", "query", "-q", "alertname=CliAlert"], env)).stdout.trim(), id);
  assert.is((await runOpsbus(["silence", "expire", id], env)).code, 0);
  assert.is((await runOpsbus(["silence", "query", "-q", "alertname=CliAlert"], env)).stdout.trim(), "");
  assert.is((await runOpsbus(["silence", "query", "-q", "--expired", "alertname=CliAlert"], env)).stdout.trim(), id);
  const denied = await runOpsbus(["silence", "add", "CliAlert", "-c", "no", "--key", KEYS.aistalk], env);
  assert.is(denied.code, 1);
  assert.match(denied.stderr, /forbidden: .*tools\.silences\.write/);
  assert.is((await runOpsbus(["silence", "add", "CliAlert"], env)).code, 2, "a comment is required, as amtool requires it");
});

test("the same silence posted to a real Alertmanager and to opsbus: same statuses, same replies but for ids and updatedAt", async () => {
  const am = await startRealAlertmanager();
  try {
    const startsAt = new Date(Math.ceil(Date.now() / 1000) * 1000 + 3_600_000).toISOString();
    const endsAt = new Date(Date.parse(startsAt) + 7_200_000).toISOString();
    const body = { matchers: [{ name: "alertname", value: "Compare", isRegex: false, isEqual: true }, { name: "env", value: "dev|staging", isRegex: true, isEqual: false }], startsAt, endsAt, createdBy: "helion", comment: "compare" };
    const both = async (method: string, path: (id: string) => string, ids: [string, string], b?: unknown) => {
      const theirs = await req(method, path(ids[0]), KEYS.helion, b, am.url);
      const ours = await req(method, path(ids[1]), KEYS.helion, b);
      return { theirs: { status: theirs.status, text: await theirs.text() }, ours: { status: ours.status, text: await ours.text() } };
    };
    const posted = await both("POST", () => "/api/v2/silences", ["", ""], body);
    assert.equal([posted.ours.status, posted.theirs.status], [200, 200]);
    const ids: [string, string] = [(JSON.parse(posted.theirs.text) as { silenceID: string }).silenceID, (JSON.parse(posted.ours.text) as { silenceID: string }).silenceID];
    assert.is(posted.ours.text.replace(ids[1], "ID"), posted.theirs.text.replace(ids[0], "ID"));
    const same = (r: Awaited<ReturnType<typeof both>>) => {
      const norm = (text: string, id: string) => text.replaceAll(id, "ID").replace(/"updatedAt":"[^"]*"/g, '"updatedAt":"-"');
      assert.is(r.ours.status, r.theirs.status);
      assert.is(norm(r.ours.text, ids[1]), norm(r.theirs.text, ids[0]));
    };
    same(await both("GET", (id) => `/api/v2/silence/${id}`, ids));
    same(await both("GET", () => `/api/v2/silences?filter=${encodeURIComponent("alertname=Compare")}`, ids));
    same(await both("GET", () => "/api/v2/silence/00000000-0000-4000-8000-00000000abcd", ids));
    // An unknown id to DELETE: 404 with no body, as current Alertmanager answers (0.25 said 500).
    const gone = await req("DELETE", "/api/v2/silence/00000000-0000-4000-8000-00000000abcd");
    assert.equal([gone.status, await gone.text()], [404, ""]);
    same(await both("DELETE", (id) => `/api/v2/silence/${id}`, ids));
    // Expired now: both moved the pending silence's start and end to the moment of the expiry.
    const expired = await both("GET", (id) => `/api/v2/silence/${id}`, ids);
    const shape = (text: string) => text.replace(/"(id|updatedAt|startsAt|endsAt)":"[^"]*"/g, '"$1":"-"');
    assert.is(shape(expired.ours.text), shape(expired.theirs.text));
    assert.match(expired.ours.text, /"status":\{"state":"expired"\}/);
  } finally {
    await am.stop();
  }
});

/** Resolves with the ms from now until `ctx.silences` reports a change `pred` accepts. */
function changeOn(stack: Stack, pred: (c: SilenceChange) => boolean): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => (off(), reject(new Error("no change within 10 s"))), 10_000);
    const off = stack.running.ctx.silences.onChange((c) => {
      if (!pred(c)) return;
      clearTimeout(timer);
      off();
      resolve(performance.now() - t0);
    });
  });
}

test("a second opsbus process: sees each other's silences within 1 s; kill -9 of it and of nats-server keep active active and expired expired", async () => {
  const port = await freePort();
  const other = `http://127.0.0.1:${port}`;
  const env = { ...postgresWorkerEnv(s.nats.url, db.url, {}, "silences-b"), OPS_ENV: "dev", OPSBUS_API_KEYS: API_KEYS, HTTP_PORT: String(port), HTTP_HOST: "127.0.0.1" };
  const listening = (p: OpsbusProcess) =>
    waitFor(async () => {
      if (p.child.exitCode !== null) throw new Error(`process B exited: ${p.output().slice(-2000)}`);
      return (await fetch(`${other}/-/healthy`, { signal: AbortSignal.timeout(1000) }).catch(() => undefined))?.status === 200 ? true : undefined;
    }, { timeoutMs: 60_000, intervalMs: 100, message: "process B's HTTP listener" });
  const silenceBody = (name: string) => ({ matchers: [{ name: "alertname", value: name, isRegex: false }], startsAt: new Date().toISOString(), endsAt: new Date(Date.now() + 3_600_000).toISOString(), createdBy: "x", comment: name });
  const stateOn = async (url: string, id: string) => ((await (await req("GET", `/api/v2/silence/${id}`, KEYS.helion, undefined, url)).json()) as { status: { state: string } }).status.state;
  let b = spawnOpsbus(["worker", "gateway"], env);
  try {
    await listening(b);
    // Made on B, seen by A's live copy.
    const seenOnA = changeOn(s, (c) => c.kind === "put" && c.silence.comment === "FromB");
    const t0 = performance.now();
    const posted = await req("POST", "/api/v2/silences", KEYS.helion, silenceBody("FromB"), other);
    assert.is(posted.status, 200);
    const fromB = ((await posted.json()) as { silenceID: string }).silenceID;
    await seenOnA;
    const elapsed = performance.now() - t0;
    assert.ok(elapsed < 1000, `B's silence in A's live copy after ${elapsed.toFixed(0)} ms`);
    assert.ok(s.running.ctx.silences.current().some((x) => x.id === fromB));
    // Made on A, listed by B (its list is its live copy).
    const t1 = performance.now();
    const fromA = ((await (await req("POST", "/api/v2/silences", KEYS.helion, silenceBody("FromA"))).json()) as { silenceID: string }).silenceID;
    await waitFor(async () => ((await (await req("GET", "/api/v2/silences?filter=alertname%3DFromA", KEYS.helion, undefined, other)).json()) as unknown[]).length === 1 ? true : undefined, { intervalMs: 10, message: "A's silence listed by B" });
    const listed = performance.now() - t1;
    assert.ok(listed < 1000, `A's silence listed by B after ${listed.toFixed(0)} ms`);
    // One expired, one active; then kill -9 B, and kill -9 nats-server.
    assert.is((await req("DELETE", `/api/v2/silence/${fromA}`, KEYS.helion, undefined, other)).status, 200);
    await b.kill9();
    await s.nats.kill9();
    await s.nats.restart();
    b = spawnOpsbus(["worker", "gateway"], env);
    await listening(b);
    for (const url of [base, other]) {
      const states = await waitFor(async () => Promise.all([stateOn(url, fromB), stateOn(url, fromA)]).catch(() => undefined), { timeoutMs: 30_000, message: `${url} answers after the restarts` });
      assert.equal(states, ["active", "expired"], url);
    }
    const listedB = (await (await req("GET", "/api/v2/silences", KEYS.helion, undefined, other)).json()) as Array<{ id: string; status: { state: string } }>;
    assert.equal([fromB, fromA].map((id) => listedB.find((x) => x.id === id)?.status.state), ["active", "expired"]);
  } finally {
    await b.kill9();
  }
});

test.run();
