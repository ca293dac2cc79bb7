/** The opsbus CLI as a user runs it: child processes of bin/opsbus against a suite-owned stack. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildStorm, MIN_STORM } from "../../src/cli/demo-storm.js";
import { ROLES } from "../../src/app/roles.js";
import { runOpsbus } from "../harness/docs.js";
import { freePort } from "../harness/ports.js";
import { createTestDatabase, type TestDatabase } from "../harness/postgres.js";
import { startStack, type Stack } from "../harness/stack.js";
import { waitFor } from "../harness/wait.js";

let stack: Stack;
let env: Record<string, string>;
test.before(async () => {
  stack = await startStack({ roles: [...ROLES] });
  env = { NATS_URL: stack.nats.url };
});
test.after(async () => stack.stop());

const EXPECTED = ["start", "worker", "migrate", "tool", "alert", "health", "crontab", "tail", "job", "demo"];

test("--help: every command the top-level help lists explains itself and exits 0 without doing anything", async () => {
  // A dead NATS_URL: a help flag that fell through to the command would fail or hang.
  const dead = { NATS_URL: `nats://127.0.0.1:${await freePort()}` };
  const top = await runOpsbus(["--help"], dead);
  assert.is(top.code, 0);
  const listed = [...top.stdout.matchAll(/^  ([a-z][a-z-]*)\b/gm)].map((m) => m[1]!);
  for (const c of EXPECTED) assert.ok(listed.includes(c), `top-level help lists ${c}`);
  const results = await Promise.all(listed.map(async (c) => [c, await runOpsbus([c, "--help"], dead, { timeoutMs: 20_000 })] as const));
  for (const [c, r] of results) {
    assert.is(r.code, 0, `${c} --help: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`^opsbus ${c}`), `${c} --help starts with its usage`);
  }
  const worker = results.find(([c]) => c === "worker")![1].stdout;
  for (const role of ROLES) assert.match(worker, new RegExp(`\\n  ${role}\\s`), `worker --help describes ${role}`);
  assert.match((await runOpsbus(["help", "job"], dead)).stdout, /^opsbus job /, "opsbus help <command> = <command> --help");
  const unknown = await runOpsbus(["frobnicate"], dead);
  assert.is(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command "frobnicate"/);
});

test("tool and alert publish: the alert becomes an incident the tool lists", async () => {
  const pub = await runOpsbus(["alert", "publish", "--service", "cli-svc", "--title", "p95 over SLO", "--kind", "latency", "--severity", "high"], env);
  assert.is(pub.code, 0, pub.stderr);
  assert.equal(Object.keys(JSON.parse(pub.stdout)), ["stream", "seq", "duplicate"]);
  await waitFor(() => stack.events("triage.completed").length > 0, { message: "triage of the CLI's alert", timeoutMs: 15_000 });
  const list = await runOpsbus(["tool", "oncall_tool", "incident_list", "--params", '{"service":"cli-svc"}', "--agent", "helion"], env);
  assert.is(list.code, 0, list.stderr);
  const reply = JSON.parse(list.stdout) as { ok: boolean; result: { incidents: Array<{ service: string; severity: string }> } };
  assert.equal(reply.result.incidents.map((i) => [i.service, i.severity]), [["cli-svc", "P1"]]);
  const denied = await runOpsbus(["tool", "backlog_tool", "cleanup", "--agent", "aistalk"], env);
  assert.is(denied.code, 1, "an error reply exits 1");
  assert.match(denied.stdout, /"forbidden"/);
  const unknown = await runOpsbus(["tool", "nope_tool", "list"], env);
  assert.is(unknown.code, 1);
  assert.match(unknown.stderr, /no tool "nope_tool" \(tools: alert_ingest_tool, /);
  const badParams = await runOpsbus(["tool", "oncall_tool", "incident_list", "--params", "{status:open}"], env);
  assert.is(badParams.code, 2);
  assert.match(badParams.stderr, /--params is not valid JSON/);
});

test("tail --count prints each event on one line, --json raw, and exits after N", async () => {
  let ready = false;
  const tail = runOpsbus(["tail", "--count", "2"], env, { timeoutMs: 20_000, onStderr: (s) => (ready ||= s.includes("listening on ops.events.>")) });
  let rawReady = false;
  const raw = runOpsbus(["tail", "ops.events.alert.accepted", "--json", "--count", "1"], env, { timeoutMs: 20_000, onStderr: (s) => (rawReady ||= s.includes("listening on")) });
  // Both subscribed ("listening on" comes after the server confirmed the subscription).
  await waitFor(() => ready && rawReady, { message: "both tails subscribed" });
  const pub = await runOpsbus(["alert", "publish", "--service", "cli-tail", "--title", "tail check", "--severity", "warning"], env);
  assert.is(pub.code, 0, pub.stderr);
  const [t, j] = await Promise.all([tail, raw]);
  assert.is(t.code, 0, t.stderr);
  const lines = t.stdout.trim().split("\n");
  assert.is(lines.length, 2);
  assert.match(lines[0]!, /^\d\d:\d\d:\d\d\.\d{3}  alert\.accepted\s+service=cli-tail severity=P2 alert_ref=alrt_\S+ title="tail check"/);
  assert.match(lines[1]!, /incident\.created\s+service=cli-tail incident_id=inc_\S+ severity=P2 action=created .*title="tail check" .*env=prod/, lines[1]);
  assert.is(j.code, 0, j.stderr);
  assert.is((JSON.parse(j.stdout) as { data: { service: string } }).data.service, "cli-tail");
  // --since replays from the events stream: the alert above is there to read again.
  const replay = await runOpsbus(["tail", "ops.events.alert.accepted", "--since", "1h", "--timeout", "2"], env, { timeoutMs: 20_000 });
  assert.is(replay.code, 0, replay.stderr);
  assert.match(replay.stdout, /alert\.accepted\s+service=cli-tail /);
  const notEvents = await runOpsbus(["tail", "ops.alerts.in.>", "--since", "1h"], env);
  assert.is(notEvents.code, 2);
  assert.match(notEvents.stderr, /--since replays the events stream/);
});

test("job run --wait, runs, get, cancel and export through jobs_tool", async () => {
  const run = await runOpsbus(["job", "run", "hourly_risk_snapshot", "--inputs", '{"env":"prod"}', "--wait"], env, { timeoutMs: 30_000 });
  assert.is(run.code, 0, run.stderr);
  const id = /^(job_\S+)\s+hourly_risk_snapshot\s+succeeded\s+manual/m.exec(run.stdout)?.[1];
  assert.ok(id, run.stdout);
  assert.match(run.stderr, new RegExp(`queued: ${id}[\\s\\S]*${id}: succeeded`), "progress on stderr");
  const dry = await runOpsbus(["job", "run", "weekly_incident_digest", "--dry-run", "--wait"], env, { timeoutMs: 30_000 });
  assert.is(dry.code, 3, "skipped exits 3");
  assert.match(dry.stdout, /skipped .*dry_run_unsupported/);
  const runs = await runOpsbus(["job", "runs", "--task", "hourly_risk_snapshot", "--status", "succeeded", "--limit", "5"], env);
  assert.is(runs.code, 0, runs.stderr);
  assert.ok(runs.stdout.includes(id!), runs.stdout);
  const cancel = await runOpsbus(["job", "cancel", id!], env);
  assert.is(cancel.code, 0, cancel.stderr);
  assert.match(cancel.stdout, /succeeded/, "a finished run is returned unchanged");
  const badStatus = await runOpsbus(["job", "runs", "--status", "done"], env);
  assert.is(badStatus.code, 2);
  assert.match(badStatus.stderr, /--status done: use queued, running/);
  const unknown = await runOpsbus(["job", "run", "no_such_task"], env);
  assert.is(unknown.code, 1);
  assert.match(unknown.stderr, /not_found: unknown task no_such_task/);

  const out = mkdtempSync(join(tmpdir(), "opsbus-export-"));
  const from = new Date(Date.now() - 3600_000).toISOString();
  const to = new Date(Date.now() + 60_000).toISOString();
  const exp = await runOpsbus(["job", "export", "--from", from, "--to", to, "--out", out, "--page", "1"], env);
  assert.is(exp.code, 0, exp.stderr);
  assert.match(exp.stderr, /export: page 2:/, "pages reported on stderr");
  const files = readdirSync(out).sort();
  const ndjson = readFileSync(join(out, files.find((f) => f.endsWith(".ndjson"))!), "utf8");
  const manifest = JSON.parse(readFileSync(join(out, files.find((f) => f.endsWith(".manifest.json"))!), "utf8")) as { sha256: string; runs: number; lines: number };
  assert.is(createHash("sha256").update(ndjson).digest("hex"), manifest.sha256);
  assert.is(ndjson.trim().split("\n").length, manifest.lines);
  assert.ok(manifest.runs >= 2 && ndjson.includes(id!));
});

test("crontab prints the registry as system cron lines", async () => {
  const r = await runOpsbus(["crontab"], env);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /^0 \* \* \* \* .*crontab trigger hourly_risk_snapshot/m);
});

test("migrate --dry-run prints the DDL; migrate applies it to a database and reports on stderr", async () => {
  const dry = await runOpsbus(["migrate", "--dry-run"], { ...env, DATABASE_URL: "" });
  assert.is(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /CREATE TABLE IF NOT EXISTS/);
  const db: TestDatabase = await createTestDatabase();
  try {
    const applied = await runOpsbus(["migrate", "--dsn", db.url], env);
    assert.is(applied.code, 0, applied.stderr);
    assert.match(applied.stderr, /applied: 001/);
    const again = await runOpsbus(["migrate", "--dsn", db.url], env);
    assert.match(again.stderr, /up to date/);
  } finally {
    await db.drop();
  }
});

test("demo storm: exactly N alerts, every pattern present, the summary counts what it sends", () => {
  for (const n of [MIN_STORM, 50, 301]) {
    const storm = buildStorm(n, "prod", "t1");
    assert.is(storm.alerts.length, n);
    const fingerprints = new Set(storm.alerts.map((a) => a.fingerprint));
    assert.is(storm.summary.duplicates, n - fingerprints.size, `${n}: duplicates = alerts beyond the first of each fingerprint`);
    assert.is(storm.summary.services, 6, `${n}: every service`);
    assert.ok(storm.alerts.some((a) => a.labels.pattern === "flapping") && storm.alerts.some((a) => a.kind === "slo_breach"), `${n}: flapping and SLO breach`);
    assert.ok(storm.alerts.every((a) => a.fingerprint.startsWith("demo-t1-") && a.source === "demo@t1"));
  }
});

test("demo: a reduced storm ends in incidents, triage runs and backlog items", async () => {
  const r = await runOpsbus(["demo", "--alerts", "50", "--timeout", "60"], env, { timeoutMs: 90_000 });
  assert.is(r.code, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /50 alerts .* on 6 services/);
  assert.match(r.stdout, /processed in [\d.]+ s: \d+ accepted, \d+ deduped, 0 rejected/);
  const incidents = /incidents \((\d+)\):/.exec(r.stdout);
  assert.ok(incidents && Number(incidents[1]) >= 6, r.stdout);
  assert.match(r.stdout, /inc_\S+\s+payments\s+P[01]\s+\d+ alerts/);
  assert.match(r.stdout, /triage runs: [1-9]\d* completed, 0 failed/);
  assert.match(r.stdout, /backlog \d{4}-\d{2}: [1-9]\d* created/);
  assert.match(r.stdout, /P2\s+open\s+payments\s+followups_overdue/);
  assert.match(r.stderr, /published 50\/50/);
});

test("demo and job say what to do when no stack answers", async () => {
  const dead = { NATS_URL: `nats://127.0.0.1:${await freePort()}` };
  const demo = await runOpsbus(["demo", "--alerts", "20"], dead);
  assert.is(demo.code, 1);
  assert.match(demo.stderr, /npm start/);
  const job = await runOpsbus(["job", "runs"], dead);
  assert.is(job.code, 1);
  assert.match(job.stderr, /cannot connect to NATS at nats:\/\/127\.0\.0\.1:\d+ .*npm start/);
});

test.run();
