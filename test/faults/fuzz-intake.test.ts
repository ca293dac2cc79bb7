/**
 * Malformed input on the two HTTP intakes, against opsbus as child processes (gateway with its
 * HTTP listener, ingest worker; alerts and audit in Postgres): seeded mutations of an Alertmanager
 * POST body (wrong types, missing fields, huge strings, deep nesting, unicode edges, NUL, lone
 * surrogates, not an array, oversize) and of a PagerDuty enqueue event. Nothing may crash; every
 * reply is a documented status with its body; each request is audited once; exactly the valid
 * alerts of accepted requests are stored, once each, and nothing else.
 * Then the silence routes: mutated and hostile silence bodies (bad matchers, `(a+)+$`, 250 KB
 * regexes, NUL, wrong types, deep nesting, missing fields, 10 MB), bad ids on GET and DELETE, bad
 * filters. Never a 5xx but 503, every reply in Alertmanager's shape (a JSON string on a refusal),
 * each request audited once, and the silences stored are exactly the ones a 200 answered.
 * Last, the console's routes (test/harness/fuzz-console.ts): login, logout, the tool route, pages
 * with hostile queries, the live feed with bad Last-Event-IDs, CSP reports; never a 5xx, each
 * answered in time, and audit records exactly where the console's design puts them.
 * FAULT_SCALE=full sends 3,000 + 1,500 + 3,000 messages, ci (default) 240 + 200 + 400; FUZZ_SEED replays a run.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/nats-core";
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import pg from "pg";
import { loadPolicies } from "../../src/config/load.js";
import { makeAlertChecker } from "../../src/http/alertmanager/post.js";
import { PD_BODY_LIMIT_BYTES } from "../../src/http/pagerduty.js";
import { bodyBound } from "../../src/http/tools.js";
import { subjects as makeSubjects } from "../../src/subjects/index.js";
import { configDirWith } from "../harness/config.js";
import { seededRng, type Mutant } from "../harness/fuzz.js";
import { httpPost, httpSend, notJson, twoAuthorizations } from "../harness/fuzz-http.js";
import { consoleAuditFaults, runConsoleFuzz } from "../harness/fuzz-console.js";
import { amMutant, expectedAm, expectedPd, makePdIngestCheck, pdMutant, silenceReplyFaults, silenceRequest, type SilenceRequest } from "../harness/fuzz-intake.js";
import { startNatsServer, type NatsServerHandle } from "../harness/nats.js";
import { freePort } from "../harness/ports.js";
import { createTestDatabase, type TestDatabase, testPool } from "../harness/postgres.js";
import { spawnOpsbus, type OpsbusProcess } from "../harness/process.js";
import { waitFor } from "../harness/wait.js";
import { FULL_SCALE } from "./support.js";

const TOTAL = FULL_SCALE ? 3_000 : 240;
const SILENCE_TOTAL = FULL_SCALE ? 1_500 : 200;
const CONSOLE_TOTAL = FULL_SCALE ? 3_000 : 400;
/** helion's key: creating a silence needs tools.silences.write, which dev's anonymous caller lacks. */
const SILENCE_KEY = "fuzzsilence0000000000000000000key";
const SILENCE_AGENT = "helion";
const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
const IN_FLIGHT = 4;
const PD_KEY = "fuzzpd00000000000000000000000key";
const AM_STATUSES = [200, 400, 413, 503];
const PD_STATUSES = [202, 400, 413, 429];

const subjects = makeSubjects();
let nats: NatsServerHandle;
let procs: OpsbusProcess[] = [];
let nc: NatsConnection;
let jsm: JetStreamManager;
let configDir: string;
let dataDir: string;
let base: string;
let db: TestDatabase;
let sql: pg.Pool;
let amMaxBytes: number;
let silenceMaxBytes: number;

interface Sent { target: "am" | "pd"; i: number; m: Mutant; status?: number; text?: string; failure?: string }
const sent: Sent[] = [];

test.before(async () => {
  console.log(`fuzz-intake: seed ${SEED}, ${TOTAL} messages`);
  nats = await startNatsServer();
  // Rates no fuzz run reaches, so valid events and silences get through to be stored (429 stays allowed).
  const unlimited = { rate_per_minute: 10_000_000, burst: 1_000_000 };
  configDir = configDirWith({
    "intake.yml": { pagerduty: { rate_per_minute: 10_000_000 } },
    "tool_limits.yml": { tools: { silence_tool: unlimited }, agents: { helion: unlimited, anonymous: unlimited } },
  });
  amMaxBytes = loadPolicies(configDir).intake.alertmanager.max_body_bytes;
  silenceMaxBytes = bodyBound({ policies: loadPolicies(configDir) });
  dataDir = mkdtempSync(join(tmpdir(), "opsbus-fuzz-intake-"));
  const port = await freePort();
  db = await createTestDatabase();
  sql = testPool(db.url);
  // An idle client ended under it (the database dropped at teardown) is no test failure; a query's error still is.
  sql.on("error", () => {});
  const backends = Object.fromEntries(["INCIDENT", "RISK", "JOB", "BACKLOG"].map((p) => [`${p}_BACKEND`, "jsonl"]));
  const env = {
    NATS_URL: nats.url, OPSBUS_START_NATS: "0", OPS_ENV: "dev", CONFIG_DIR: configDir, ...backends,
    ALERT_BACKEND: "postgres", AUDIT_BACKEND: "postgres", DATABASE_URL: db.url, PD_KEY_CHECKOUT: PD_KEY,
    OPSBUS_API_KEYS: `${SILENCE_AGENT}=${SILENCE_KEY}`,
  };
  procs = [
    spawnOpsbus(["worker", "gateway"], { ...env, DATA_DIR: join(dataDir, "gateway"), HTTP_PORT: String(port), HTTP_HOST: "127.0.0.1" }),
    spawnOpsbus(["worker", "alerts-in"], { ...env, DATA_DIR: join(dataDir, "alerts-in") }),
  ];
  base = `http://127.0.0.1:${port}`;
  nc = await connect({ servers: nats.url });
  jsm = await jetstreamManager(nc);
  await waitFor(async () => (await fetch(`${base}/-/ready`)).status === 200, { timeoutMs: 60_000, message: `opsbus to be ready\n${procs.map((p) => p.output()).join("\n")}` });
});

test.after(async () => {
  await nc?.close();
  for (const p of procs) await p.stop();
  await nats?.cleanup();
  await sql?.end();
  await db?.drop();
  for (const d of [configDir, dataDir]) if (d) rmSync(d, { recursive: true, force: true });
});

const preview = (s: Sent) => `${s.target} #${s.i} (${s.m.kind}): ${s.status} ${s.text?.slice(0, 200)} ← ${Buffer.from(s.m.body).toString("utf8").slice(0, 200)}`;

test("fuzz: mutated Alertmanager and PagerDuty bodies, every one answered", async () => {
  const now = new Date();
  const mutants = Array.from({ length: TOTAL }, (_, i) => {
    const r = seededRng(SEED + i);
    const target = i % 2 === 0 ? ("am" as const) : ("pd" as const);
    return { target, i, m: target === "am" ? amMutant(r, i, now, amMaxBytes) : pdMutant(r, i, PD_KEY, PD_BODY_LIMIT_BYTES) };
  });
  let next = 0;
  const started = Date.now();
  await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
    while (next < mutants.length) {
      const s: Sent = { ...mutants[next++]! };
      try {
        Object.assign(s, await httpPost(`${base}${s.target === "am" ? "/api/v2/alerts" : "/v2/enqueue"}`, s.m.body, s.m.headers));
      } catch (err) {
        s.failure = (err as Error).message;
      }
      sent.push(s);
    }
  }));
  const kinds = new Map<string, number>();
  for (const s of sent) kinds.set(`${s.target}:${s.status ?? s.failure}`, (kinds.get(`${s.target}:${s.status ?? s.failure}`) ?? 0) + 1);
  console.log(`fuzz-intake: ${sent.length} sent in ${Date.now() - started} ms; ${JSON.stringify(Object.fromEntries(kinds))}`);
  // A body refused unread (413) closes the connection: a client still writing may see the reset first.
  const failures = sent.filter((s) => s.failure && !(s.m.body.length > (s.target === "am" ? amMaxBytes : PD_BODY_LIMIT_BYTES)));
  assert.equal(failures.map((s) => `${s.target} #${s.i} ${s.m.kind}: ${s.failure}`).slice(0, 5), []);
});

interface SilenceSent { q: SilenceRequest; i: number; ms?: number; status?: number; text?: string; failure?: string }
const silenceSent: SilenceSent[] = [];
const silencePreview = (s: SilenceSent) => `silence #${s.i} ${s.q.method} ${s.q.path.slice(0, 80)} (${s.q.m.kind}): ${s.status} ${s.text?.slice(0, 160)} ← ${Buffer.from(s.q.m.body).toString("utf8").slice(0, 160)}`;

async function sendSilence(s: SilenceSent): Promise<void> {
  const t0 = performance.now();
  try {
    Object.assign(s, await httpSend(s.q.method, `${base}${s.q.path}`, s.q.method === "POST" ? s.q.m.body : undefined, s.q.m.headers));
  } catch (err) {
    s.failure = (err as Error).message;
  }
  s.ms = performance.now() - t0;
  silenceSent.push(s);
}

test("fuzz: the silence routes answer every request as Alertmanager does, never a 5xx but 503", async () => {
  const now = new Date();
  const queue = Array.from({ length: SILENCE_TOTAL }, (_, i) => ({ q: silenceRequest(seededRng(SEED + 7_919 * (i + 1)), i, now, { agent: SILENCE_AGENT, key: SILENCE_KEY }, silenceMaxBytes), i }));
  await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
    for (let s = queue.shift(); s; s = queue.shift()) await sendSilence(s);
  }));
  // The silences created, each read and then expired (twice: idempotent) by its id.
  const created = silenceSent.filter((s) => s.q.target === "post" && s.status === 200).map((s) => (JSON.parse(s.text!) as { silenceID: string }).silenceID);
  const byId = (target: "get" | "delete", id: string, i: number): SilenceSent => ({ i, q: { target, method: target === "get" ? "GET" : "DELETE", path: `/api/v2/silence/${id}`, m: { kind: "created", body: new Uint8Array(0), headers: { Authorization: `Bearer ${SILENCE_KEY}` } }, expect: "accept", why: "a created silence" } });
  for (const [k, id] of created.slice(0, 20).entries()) for (const target of ["get", "delete", "delete"] as const) await sendSilence(byId(target, id, SILENCE_TOTAL + k));
  const tally = new Map<string, number>();
  for (const s of silenceSent) tally.set(`${s.q.target}:${s.status ?? "reset"}`, (tally.get(`${s.q.target}:${s.status ?? "reset"}`) ?? 0) + 1);
  console.log(`fuzz-intake: ${silenceSent.length} silence requests, ${created.length} silences created; ${JSON.stringify(Object.fromEntries(tally))}`);

  assert.ok(created.length > 0 && silenceSent.some((s) => s.q.expect === "refuse" && s.status === 400), "the run both created silences and refused bodies");
  const faults = silenceSent.flatMap((s) => (s.status === undefined ? [] : silenceReplyFaults(s.q, s.status, s.text!).map((f) => `${silencePreview(s)}\n  → ${f}`)));
  assert.equal(faults.slice(0, 5), [], `${faults.length} replies not as Alertmanager's`);
  // Only a body refused unread (413, the connection closed) may meet a reset while still being written.
  const failures = silenceSent.filter((s) => s.failure && s.q.m.body.length <= silenceMaxBytes);
  assert.equal(failures.map((s) => `${silencePreview(s)}: ${s.failure}`).slice(0, 5), []);
  // A hostile regex is compiled by a linear-time engine or refused for its length: no request stalls.
  const slow = silenceSent.filter((s) => s.status !== undefined && s.ms! > 5_000);
  assert.equal(slow.map((s) => `${silencePreview(s)}: ${Math.round(s.ms!)} ms`).slice(0, 3), []);
});

test("the processes are still running and the API is ready", async () => {
  for (const p of procs) assert.ok(p.child.exitCode === null && p.child.signalCode === null, p.output());
  assert.is((await fetch(`${base}/-/ready`)).status, 200);
  assert.not.match(procs.map((p) => p.output()).join("\n"), /"level":(50|60)|http request failed/, "no error logged");
});

test("Alertmanager: 200 (empty), 400, 413 or 503 (a JSON string), as the body and headers call for", () => {
  const check = makeAlertChecker({ policies: loadPolicies(configDir) });
  for (const s of sent.filter((x) => x.target === "am" && x.status !== undefined)) {
    // A Content-Type other than JSON is 415 before the body is read, answered as Alertmanager does.
    if (s.status === 415) {
      assert.ok(notJson(s.m.headers), preview(s));
      assert.type(JSON.parse(s.text!), "string", preview(s));
      continue;
    }
    assert.ok(AM_STATUSES.includes(s.status!), preview(s));
    if (s.status === 200) assert.is(s.text, "", preview(s));
    else assert.type(JSON.parse(s.text!), "string", preview(s));
    const e = expectedAm(s.m.body, check, new Date());
    const clean = e.parsed && e.reasons.length === 0 && !twoAuthorizations(s.m.headers);
    if (s.status === 200 || s.status === 400) assert.is(s.status === 200, clean, `${preview(s)}\nexpected ${JSON.stringify(e.reasons).slice(0, 300)}`);
    if (s.status === 413) assert.ok(s.m.body.length > amMaxBytes || e.valid.length > 0, preview(s));
  }
});

test("PagerDuty: 202, 400, 413 or 429 with PagerDuty's body, as the event calls for", () => {
  const pdIngest = makePdIngestCheck(loadPolicies(configDir), { PD_KEY_CHECKOUT: PD_KEY });
  for (const s of sent.filter((x) => x.target === "pd" && x.status !== undefined)) {
    const body = JSON.parse(s.text!) as { status?: unknown; message?: unknown; dedup_key?: unknown };
    assert.ok(typeof body.status === "string" && typeof body.message === "string", preview(s));
    if (s.status === 415) {
      assert.ok(notJson(s.m.headers), preview(s));
      continue;
    }
    assert.ok(PD_STATUSES.includes(s.status!), preview(s));
    if (s.status === 413) assert.ok(s.m.body.length > PD_BODY_LIMIT_BYTES, preview(s));
    else if (s.status !== 429) {
      // 202 exactly when the event is valid AND the ingest worker will store its alert.
      const event = expectedPd(s.m.body, PD_KEY);
      const refused = event ? pdIngest(event, event.dedup_key?.trim() || "fz-generated") : ["invalid event"];
      assert.is(s.status === 202, refused.length === 0, `${preview(s)}
expected ${JSON.stringify(refused).slice(0, 300)}`);
    }
    if (s.status === 202) assert.type(body.dedup_key, "string", preview(s));
  }
});

/** The ingest consumer has taken every batch the intakes published. */
const ingestSettled = () =>
  waitFor(async () => {
    const c = await jsm.consumers.info(subjects.alerts.stream, subjects.alerts.ingestConsumer);
    return c.num_pending === 0 && c.num_ack_pending === 0 ? c : null;
  }, { timeoutMs: 120_000, message: "the ingest consumer to settle every batch" });

test("stored: each valid alert of an accepted request once, nothing from a refused one, nothing invalid", async () => {
  const policies = loadPolicies(configDir);
  const check = makeAlertChecker({ policies });
  const pdIngest = makePdIngestCheck(policies, { PD_KEY_CHECKOUT: PD_KEY });
  const expected = new Map<string, string>(); // fingerprint → which request
  /** Events answered 202 whose alert the ingest worker refuses: accepted, never stored. */
  const acceptedNotStored: string[] = [];
  const accepted = new Set<string>();
  for (const s of sent) {
    if (s.target === "am" && (s.status === 200 || s.status === 400) && !twoAuthorizations(s.m.headers)) {
      for (const a of expectedAm(s.m.body, check, new Date()).valid) if (a.status === "firing") expected.set(`am:${a.fingerprint}`, preview(s));
    }
    const event = s.target === "pd" && s.status === 202 ? expectedPd(s.m.body, PD_KEY) : undefined;
    if (event?.event_action === "trigger") {
      const key = `pd:${(JSON.parse(s.text!) as { dedup_key: string }).dedup_key}`;
      accepted.add(key);
      const refused = pdIngest(event, key.slice(3));
      if (refused.length) acceptedNotStored.push(`pd #${s.i} (${s.m.kind}): ${refused.join("; ").slice(0, 160)}`);
      else expected.set(key, preview(s));
    }
  }
  assert.equal(acceptedNotStored.slice(0, 3), [], `${acceptedNotStored.length} PagerDuty events answered 202 that the ingest worker refuses`);
  await ingestSettled();
  const rows = (await sql.query<{ source: string; fingerprint: string; n: number }>(
    "SELECT source, fingerprint, count(*)::int AS n FROM alerts WHERE source IN ('alertmanager', 'datadog') GROUP BY 1, 2",
  )).rows;
  const stored = new Map(rows.map((r) => [`${r.source === "datadog" ? "pd" : "am"}:${r.fingerprint}`, r.n]));
  console.log(`fuzz-intake: ${expected.size} valid alerts expected, ${stored.size} stored`);
  const missing = [...expected].filter(([k]) => !stored.has(k)).map(([k, why]) => `${k} from ${why}`);
  assert.equal(missing.slice(0, 3), [], `${missing.length} valid alerts not stored`);
  const extra = [...stored.keys()].filter((k) => !expected.has(k) && !accepted.has(k));
  assert.equal(extra.slice(0, 5), [], `${extra.length} stored alerts no accepted request carried`);
  assert.equal(rows.filter((r) => r.n !== 1).slice(0, 5), [], "each stored once");
});

test("every answered request has one audit record (a 415 too)", async () => {
  const answered = (target: Sent["target"]) => sent.filter((s) => s.target === target && s.status !== undefined).length;
  const want = { alertmanager_api: answered("am"), pagerduty_events: sent.filter((s) => s.target === "pd" && s.status !== undefined).length, silence_tool: silenceSent.filter((s) => s.status !== undefined).length };
  const count = async () => Object.fromEntries((await sql.query<{ tool: string; n: number }>("SELECT tool, count(*)::int AS n FROM audit_log GROUP BY 1")).rows.map((r) => [r.tool, r.n]));
  const all = (c: Record<string, number>) => Object.entries(want).every(([tool, n]) => (c[tool] ?? 0) >= n);
  // On a timeout the counts still reached say which tool's requests went unaudited.
  const got = await waitFor(async () => {
    const c = await count();
    return all(c) ? c : null;
  }, { timeoutMs: 30_000 }).catch(count);
  assert.ok(all(got), `audit records ${JSON.stringify(got)}, want at least ${JSON.stringify(want)}`);
  // A client that saw a reset may still have been audited: those are counted at most once each.
  const unanswered = { am: sent.filter((s) => s.target === "am" && s.failure).length, pd: sent.filter((s) => s.target === "pd" && s.failure).length, silence: silenceSent.filter((s) => s.failure).length };
  assert.ok(got.alertmanager_api! - want.alertmanager_api <= unanswered.am, `${JSON.stringify(got)} vs ${JSON.stringify(want)}`);
  assert.ok(got.pagerduty_events! - want.pagerduty_events <= unanswered.pd, `${JSON.stringify(got)} vs ${JSON.stringify(want)}`);
  assert.ok(got.silence_tool! - want.silence_tool <= unanswered.silence, `${JSON.stringify(got)} vs ${JSON.stringify(want)}`);
});

test("silences stored: exactly the ones a 200 answered, as their bodies said, created by the key's agent", async () => {
  const res = await fetch(`${base}/api/v2/silences`, { headers: { authorization: `Bearer ${SILENCE_KEY}` } });
  assert.is(res.status, 200);
  const stored = new Map(((await res.json()) as Array<{ id: string; createdBy: string; comment: string; matchers: unknown[] }>).map((x) => [x.id, x]));
  const accepted = silenceSent.filter((s) => s.q.target === "post" && s.status === 200);
  const ids = accepted.map((s) => (JSON.parse(s.text!) as { silenceID: string }).silenceID);
  assert.equal([...stored.keys()].filter((id) => !ids.includes(id)).slice(0, 5), [], "a silence no 200 answered");
  for (const [k, s] of accepted.entries()) {
    const got = stored.get(ids[k]!);
    assert.ok(got, `${silencePreview(s)}: answered 200 but not stored`);
    const body = JSON.parse(Buffer.from(s.q.m.body).toString("utf8")) as { comment?: string; matchers: Array<Record<string, unknown> | string> };
    assert.equal([got!.createdBy, got!.comment], ["helion", body.comment ?? ""], silencePreview(s));
    if (body.matchers.every((m) => typeof m === "object")) {
      const want = (body.matchers as Array<Record<string, unknown>>).map((m) => ({ isEqual: m.isEqual ?? true, isRegex: m.isRegex ?? false, name: m.name, value: m.value }));
      assert.equal(got!.matchers, want, silencePreview(s));
    }
  }
});

// Last: its tool calls (silence_tool among them) must not count in the intake's audit test above.
test("fuzz: the console routes (login, logout, tool route, pages, live feed, CSP reports) answer as designed, in time, never a 5xx, audited only where the design says", async () => {
  const run = await runConsoleFuzz({ base, apiKey: SILENCE_KEY, seed: SEED, total: CONSOLE_TOTAL });
  console.log(`fuzz-intake: console ${run.summary}`);
  assert.equal(run.faults.slice(0, 5), [], `${run.faults.length} console answers not as designed`);
  const audit = await consoleAuditFaults(run, sql, SILENCE_KEY);
  assert.equal(audit.slice(0, 5), [], `${audit.length} console requests audited against the design`);
  for (const p of procs) assert.ok(p.child.exitCode === null && p.child.signalCode === null, p.output());
  assert.not.match(procs.map((p) => p.output()).join("\n"), /"level":(50|60)|http request failed/, "no error logged");
});

test.run();
