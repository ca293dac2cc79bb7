/**
 * Malformed input on the two HTTP intakes, against opsbus as child processes (gateway with its
 * HTTP listener, ingest worker; alerts and audit in Postgres): seeded mutations of an Alertmanager
 * POST body (wrong types, missing fields, huge strings, deep nesting, unicode edges, NUL, lone
 * surrogates, not an array, oversize) and of a PagerDuty enqueue event. Nothing may crash; every
 * reply is a documented status with its body; each request is audited once; exactly the valid
 * alerts of accepted requests are stored, once each, and nothing else.
 * FAULT_SCALE=full sends 3,000 messages, ci (default) 240; FUZZ_SEED replays a run.
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
import { subjects as makeSubjects } from "../../src/subjects/index.js";
import { configDirWith } from "../harness/config.js";
import { seededRng, type Mutant } from "../harness/fuzz.js";
import { httpPost, notJson, twoAuthorizations } from "../harness/fuzz-http.js";
import { amMutant, expectedAm, expectedPd, makePdIngestCheck, pdMutant } from "../harness/fuzz-intake.js";
import { startNatsServer, type NatsServerHandle } from "../harness/nats.js";
import { freePort } from "../harness/ports.js";
import { createTestDatabase, type TestDatabase } from "../harness/postgres.js";
import { spawnOpsbus, type OpsbusProcess } from "../harness/process.js";
import { waitFor } from "../harness/wait.js";
import { FULL_SCALE } from "./support.js";

const TOTAL = FULL_SCALE ? 3_000 : 240;
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

interface Sent { target: "am" | "pd"; i: number; m: Mutant; status?: number; text?: string; failure?: string }
const sent: Sent[] = [];

test.before(async () => {
  console.log(`fuzz-intake: seed ${SEED}, ${TOTAL} messages`);
  nats = await startNatsServer();
  // A rate no fuzz run reaches, so valid events get through to be stored (429 stays allowed).
  configDir = configDirWith({ "intake.yml": { pagerduty: { rate_per_minute: 10_000_000 } } });
  amMaxBytes = loadPolicies(configDir).intake.alertmanager.max_body_bytes;
  dataDir = mkdtempSync(join(tmpdir(), "opsbus-fuzz-intake-"));
  const port = await freePort();
  db = await createTestDatabase();
  sql = new pg.Pool({ connectionString: db.url, max: 2 });
  const backends = Object.fromEntries(["INCIDENT", "RISK", "JOB", "BACKLOG"].map((p) => [`${p}_BACKEND`, "jsonl"]));
  const env = {
    NATS_URL: nats.url, OPSBUS_START_NATS: "0", OPS_ENV: "dev", CONFIG_DIR: configDir, ...backends,
    ALERT_BACKEND: "postgres", AUDIT_BACKEND: "postgres", DATABASE_URL: db.url, PD_KEY_CHECKOUT: PD_KEY,
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
  const want = { alertmanager_api: answered("am"), pagerduty_events: sent.filter((s) => s.target === "pd" && s.status !== undefined).length };
  const count = async () => Object.fromEntries((await sql.query<{ tool: string; n: number }>("SELECT tool, count(*)::int AS n FROM audit_log GROUP BY 1")).rows.map((r) => [r.tool, r.n]));
  const got = await waitFor(async () => {
    const c = await count();
    return (c.alertmanager_api ?? 0) >= want.alertmanager_api && (c.pagerduty_events ?? 0) >= want.pagerduty_events ? c : null;
  }, { timeoutMs: 30_000, message: `audit records ${JSON.stringify(want)}` });
  // A client that saw a reset may still have been audited: those are counted at most once each.
  const unanswered = { am: sent.filter((s) => s.target === "am" && s.failure).length, pd: sent.filter((s) => s.target === "pd" && s.failure).length };
  assert.ok(got.alertmanager_api! - want.alertmanager_api <= unanswered.am, `${JSON.stringify(got)} vs ${JSON.stringify(want)}`);
  assert.ok(got.pagerduty_events! - want.pagerduty_events <= unanswered.pd, `${JSON.stringify(got)} vs ${JSON.stringify(want)}`);
});

test.run();
