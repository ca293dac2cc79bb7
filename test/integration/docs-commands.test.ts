/**
 * Every shell command in README.md and ops/runbooks/*.md (```bash / ```sh blocks) works: it runs
 * against this suite's stack (every role, HTTP_PORT set, memory stores, a test Postgres database)
 * and exits 0, or it is on SKIP below with the reason it cannot run here.
 *
 * How a command is run (so a doc can show real, copy-pasteable commands):
 * - cwd is a scratch workspace: the repo's files symlinked, `data/` = the stack's DATA_DIR.
 * - env: NATS_URL (the stack's server), HTTP_PORT (the gateway's HTTP listener), TEST_DSN.
 * - `opsbus`, `npx opsbus`, `./bin/opsbus`, `bin/opsbus` run the repo's bin/opsbus.
 * - `a && b` steps are classified one by one: skipped steps are dropped, the rest run together
 *   (so `npm install && npm start` runs `npm start`).
 * - `export X=…` lines apply to the following commands of the same document, as in one terminal.
 * - `npm start`, `opsbus start`, `opsbus worker <role>` run until the log says "opsbus running",
 *   then get SIGTERM and must drain ("stopped"); `start` gets a fresh NATS URL and DATA_DIR, so
 *   it launches its own nats-server as documented.
 * - Placeholders (see `substitute`): ids like `inc_…` or a literal `inc_20261122_0726_69eff4`
 *   become the stack's seeded incident (in a close command another one, as documents run side by side) (`alrt_…` a freshly claimed alert, `run_…` the seeded
 *   graph run, `job_…` a finished job run, `bl_…` an open backlog item); any `postgres://…` DSN or `DATABASE_URL=…` the test
 *   database; `nats://127.0.0.1:4222` the stack's NATS; `http://127.0.0.1:<port>` (or
 *   localhost) the gateway's HTTP listener.
 * - The stack knows helion's key from the README's silence example (`hk-demo-helion`), which amtool
 *   presents to create silences; `--agent` calls are unaffected (dev trusts the claimed agent).
 * - A read that follows an asynchronous write (an alert is stored by the ingest worker after the
 *   POST is answered) is `eventually` in EXPECT: re-run until it shows the output, for a while.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtempSync, readdirSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { ROLES, startRole } from "../../src/app/roles.js";
import { extractCommands, runCommand, splitSteps, stripComment, type CommandResult, type DocCommand } from "../harness/docs.js";
import { startNatsServer } from "../harness/nats.js";
import { startHttpReceiver, type HttpReceiver } from "../harness/receivers.js";
import { freePort, freePortOutsideEphemeral } from "../harness/ports.js";
import { createTestDatabase, type TestDatabase } from "../harness/postgres.js";
import { startStack, type Stack } from "../harness/stack.js";
import { waitFor } from "../harness/wait.js";

const REPO = resolve(".");
// DOCS_ONLY=ops/runbooks/x.md checks one document while writing it.
const DOCS = process.env.DOCS_ONLY ? process.env.DOCS_ONLY.split(",") : ["README.md", ...readdirSync("ops/runbooks").filter((f) => f.endsWith(".md")).sort().map((f) => `ops/runbooks/${f}`)];

/** Steps that cannot run here, each with the reason. Keep it short: prefer making the command work. */
const SKIP: Array<{ match: RegExp; reason: string }> = [
  { match: /^npm (install|ci)\b/, reason: "rewrites node_modules; CI installs with npm ci before the tests" },
  { match: /^npm (test|run check)\b/, reason: "the whole test suite, this file included" },
  { match: /^npm run bench\b/, reason: "minutes of load on a throwaway server; run by hand" },
  { match: /^docker(-compose| compose)? /, reason: "needs a Docker engine; test/unit/deploy-files runs docker-compose config on the file" },
  { match: /^nats /, reason: "the nats CLI is not installed here (opsbus tail covers the read side)" },
];

/** Output some commands must show, beyond exit 0. */
const EXPECT: Array<{ match: RegExp; output: RegExp; eventually?: boolean }> = [
  { match: /opsbus alert publish\b/, output: /"stream":"OPS_ALERTS"/ },
  { match: /opsbus health\b/, output: /"ok": true/ },
  { match: /opsbus crontab$/, output: /crontab trigger hourly_risk_snapshot/ },
  { match: /opsbus migrate --dry-run\b/, output: /CREATE TABLE|nothing pending/ },
  { match: /opsbus job run .*--wait/, output: /succeeded|skipped/ },
  { match: /opsbus demo\b/, output: /backlog \d{4}-\d{2}:/ },
  // A tool call over HTTP must succeed, not just reach the server (curl exits 0 on a 4xx).
  { match: /^curl\b.*\/v1\//, output: /"ok":\s*true|^true$/m },
  { match: /^curl\b.*\/v2\/enqueue/, output: /"status":"success"/ },
  // Silences: an id on creation; the README's silenced alert is listed suppressed; expired ones are kept.
  { match: /^(amtool|\S*opsbus) silence add\b/, output: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/m },
  { match: /^amtool alert query\b.*--silenced/, output: /\bDiskFull\b.*\bsuppressed\b/, eventually: true },
  { match: /^curl\b.*\/api\/v2\/alerts\?filter=alertname=DiskFull/, output: /"state": "suppressed"/, eventually: true },
  { match: /opsbus silence query\b.*--expired/, output: /^[0-9a-f]{8}-[0-9a-f-]{27}\s/m },
  // Notifications: the shipped tree routes everything to `default`; the seeded incident's notification is on record.
  { match: /opsbus routes test\b.*--labels service=checkout,severity=P1$/, output: /^default$/m },
  { match: /opsbus tool notification_tool (get|retry)\b/, output: /"ok": true/ },
  // The console: no session → the login page; an API key's login → its agent; a page with the cookie.
  { match: /^curl\b.*\/console\/ *$/, output: /^303 http:\/\/127\.0\.0\.1:\d+\/console\/login\?next=/m },
  { match: /^curl\b.*\/console\/login\b/, output: /"agent":"helion"/ },
  { match: /^curl\b.*\/console\/incidents\b/, output: /<h1>Incidents<\/h1>/ },
];
/** How long an `eventually` command is re-run for its output. */
const EVENTUALLY_MS = 15_000;

const LONG_RUNNING = /^(\S+=\S*\s+)*(npm start|\S*opsbus (start|worker \S+))$/;
const OPSBUS = /^((?:[A-Z_][A-Z0-9_]*=\S*\s+)*)(?:npx opsbus|\.\/bin\/opsbus|bin\/opsbus|opsbus)(?=\s|$)/;

/** Documents run in this many lanes at once; each has its own database and `export`s. */
const LANES = 2;

interface DocRun {
  db: TestDatabase;
  exports: string[];
}

let stack: Stack;
let hook: HttpReceiver;
let workspace: string;
let httpPort: number;
/** `closable`: the incident a close command gets, so a document closing it never races another acknowledging the seeded one. */
const seeded = { incident: "", closable: "", graphRun: "", jobRun: "", backlogItem: "" };

test.before(async () => {
  // The README's PagerDuty example sends with this key (config/intake.yml reads it from the env).
  process.env.PD_KEY_CHECKOUT = "pd-demo-key";
  // The shipped default receiver, refusing: the seeded incident's notification fails, for the runbook to read and replay.
  hook = await startHttpReceiver({ mode: { kind: "status", status: 400, body: "refused by the docs check" } });
  process.env.OPSBUS_WEBHOOK_URL = hook.url;
  httpPort = await freePort();
  stack = await startStack({ roles: [...ROLES], env: { HTTP_PORT: String(httpPort), OPSBUS_API_KEYS: "helion=hk-demo-helion" } });
  workspace = mkdtempSync(join(tmpdir(), "opsbus-docs-"));
  for (const entry of readdirSync(REPO)) if (![".git", "data"].includes(entry)) symlinkSync(join(REPO, entry), join(workspace, entry));
  symlinkSync(stack.dataDir, join(workspace, "data"));
  await stack.publishAlert({ service: "checkout", title: "p95 latency over SLO", kind: "latency", severity: "high" });
  const triaged = await waitFor(() => stack.events("triage.completed")[0], { message: "the seeded incident's triage", timeoutMs: 15_000 });
  seeded.incident = String(triaged.data.incident_id);
  seeded.graphRun = String(triaged.data.run_id);
  await waitFor(() => stack.events("notification.failed").find((e) => e.data.incident_id === seeded.incident), { message: "the seeded incident's failed notification" });
  const started = await stack.call<{ run: { id: string } }>("jobs_tool", "start_task", { task_id: "hourly_risk_snapshot" }, { agent: "sofiia" });
  if (!started.ok) throw new Error(JSON.stringify(started.error));
  seeded.jobRun = started.result.run.id;
  const item = await stack.call<{ item: { id: string } }>("backlog_tool", "upsert", { env: "prod", service: "checkout", category: "incidents", title: "Reduce checkout p95" }, { agent: "sofiia" });
  if (!item.ok) throw new Error(JSON.stringify(item.error));
  seeded.backlogItem = item.result.item.id;
  const closable = await stack.call<{ incident: { id: string } }>("oncall_tool", "incident_create", { service: "checkout", severity: "P3", title: "docs: the incident a runbook closes" }, { agent: "sofiia" });
  if (!closable.ok) throw new Error(JSON.stringify(closable.error));
  seeded.closable = closable.result.incident.id;
  await waitFor(() => stack.events("job.succeeded").some((e) => e.data.run_id === seeded.jobRun), { message: "the seeded job run" });
});
test.after(async () => {
  await stack.stop();
  await hook.close();
  rmSync(workspace, { recursive: true, force: true });
});

/** An alert held by a claim (for `ack`/`fail` examples): triage pauses so the claim gets it. */
async function heldAlert(): Promise<string> {
  const workers = stack.running.workers;
  const at = workers.findIndex((w) => w.name === "incident-bridge");
  await workers[at]!.stop();
  try {
    const title = `docs held ${Date.now()}`;
    await stack.publishAlert({ service: "docs-held", title, kind: "custom" });
    await waitFor(() => stack.events("alert.accepted").some((e) => e.data.title === title), { message: "held alert accepted" });
    const r = await stack.call<{ alerts: Array<{ alert_ref: string }> }>("alert_ingest_tool", "claim", { limit: 1, owner: "oncall-loop" }, { agent: "helion" });
    if (!r.ok || !r.result.alerts[0]) throw new Error(`claim for a held alert: ${JSON.stringify(r)}`);
    return r.result.alerts[0].alert_ref;
  } finally {
    workers[at] = await startRole(stack.running.ctx, "incident-bridge", ROLES);
  }
}

async function substitute(step: string, db: TestDatabase): Promise<string> {
  let s = step
    .replace(/inc_(?:…|\.\.\.|\d{8}_\d{4}_[0-9a-f]{6})/g, /\bincident_close\b/.test(step) ? seeded.closable : seeded.incident)
    .replace(/run_…|<run_id>/g, seeded.graphRun)
    .replace(/job_…/g, seeded.jobRun)
    .replace(/bl_…/g, seeded.backlogItem)
    .replace(/postgres:\/\/[^\s'"]+/g, db.url)
    .replace(/DATABASE_URL=…/g, `DATABASE_URL=${db.url}`)
    .replace(/nats:\/\/(127\.0\.0\.1|localhost):4222/g, stack.nats.url)
    .replace(/http:\/\/(127\.0\.0\.1|localhost):\d+/g, `http://127.0.0.1:${httpPort}`)
    // The reference runbooks' hosts (router, gateway, supervisor) are this gateway too.
    .replace(/https?:\/\/(?:router|gateway|supervisor)(?::\d+)?(?=\/)/g, `http://127.0.0.1:${httpPort}`);
  while (/alrt_…/.test(s)) s = s.replace(/alrt_…/, await heldAlert());
  return s.replace(OPSBUS, `$1${REPO}/bin/opsbus`);
}

/** Runs until "opsbus running", then one SIGTERM to the process (exec'd by bash), which must drain. */
async function runLong(prefix: string, documented: string, where: string): Promise<void> {
  // A documented port (HTTP_PORT=9093, Alertmanager's) may be taken on this machine: any free one
  // shows the same. The command binds its ports seconds later, so they come from outside the range
  // other tests' free ports come from.
  const step = documented.replace(/\bHTTP_PORT=\d+/, `HTTP_PORT=${await freePortOutsideEphemeral()}`);
  // Its own NATS: a worker on the stack's server would take work meant for the stack. `start`
  // gets a URL where nothing answers, so it launches nats-server itself as documented.
  const isStart = /(npm|opsbus) start$/.test(step);
  const own = isStart ? undefined : await startNatsServer();
  const dataDir = mkdtempSync(join(tmpdir(), "opsbus-docs-run-"));
  try {
    await runLongOn(own?.url ?? `nats://127.0.0.1:${await freePortOutsideEphemeral()}`, dataDir, prefix, step, where);
  } finally {
    await own?.cleanup();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function runLongOn(natsUrl: string, dataDir: string, prefix: string, step: string, where: string): Promise<void> {
  const env = { NATS_URL: natsUrl, DATA_DIR: dataDir, LOG_LEVEL: "info", OPSBUS_START_NATS: "1" };
  let up = false;
  const execd = step.replace(/^((?:[A-Z_][A-Z0-9_]*=\S*\s+)*)/, "$1exec ");
  const proc = runCommand(["bash", "-c", prefix + execd], { cwd: workspace, env, timeoutMs: 60_000, onStdout: (out: string) => (up ||= out.includes("opsbus running")) });
  await waitFor(() => up, { message: `${where}: "${step}" to log "opsbus running"`, timeoutMs: 45_000 }).catch(async (err: Error) => {
    proc.kill();
    const r = await proc;
    throw new Error(`${err.message}\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-2000)}`);
  });
  // npm and tsx relay signals in ways that differ by version: stop the whole group, as Ctrl-C in a
  // terminal does, and ask only that it ends. opsbus itself (exec'd by bash) gets one SIGTERM and
  // must drain.
  const viaNpm = step.startsWith("npm ");
  if (viaNpm) proc.kill();
  else proc.terminate();
  const r = await proc;
  assert.not.match(r.stderr, /\[killed after/, `${where}: "${step}" ends on SIGTERM`);
  if (!viaNpm) assert.match(r.stdout, /"msg":"stopped"/, `${where}: "${step}" drains and stops on SIGTERM\n${r.stdout.slice(-1500)}\n${r.stderr.slice(-1000)}`);
}

async function runLine(cmd: DocCommand, run: DocRun): Promise<void> {
  const { db, exports } = run;
  const steps = splitSteps(stripComment(cmd.command)).filter((step) => !SKIP.some((k) => k.match.test(step)));
  if (steps.length === 0) return;
  const prefix = exports.map((e) => `${e}; `).join("");
  if (steps.length === 1 && LONG_RUNNING.test(steps[0]!)) return runLong(prefix, await substitute(steps[0]!, db), cmd.where);
  const line = (await Promise.all(steps.map((st) => substitute(st, db)))).join(" && ");
  const env = { NATS_URL: stack.nats.url, HTTP_PORT: String(httpPort), TEST_DSN: db.url, LOG_LEVEL: "warn", OPSBUS_START_NATS: "0" };
  const once = () => runCommand(["bash", "-o", "pipefail", "-c", prefix + line], { cwd: workspace, env, timeoutMs: 90_000 });
  const expected = EXPECT.filter((e) => steps.some((st) => e.match.test(st)));
  const shows = (x: CommandResult) => x.code === 0 && expected.every((e) => e.output.test(x.stdout + x.stderr));
  let r = await once();
  if (!shows(r) && expected.some((e) => e.eventually)) {
    r = await waitFor(async () => ((r = await once()), shows(r) ? r : undefined), { timeoutMs: EVENTUALLY_MS, intervalMs: 250 }).catch(() => r);
  }
  const hint = r.stderr.includes("[killed after") ? " (still running after 90 s: give it --count/--timeout, or make it a LONG_RUNNING form)" : "";
  assert.is(r.code, 0, `${cmd.where}: \`${cmd.command}\` exited ${r.code}${hint}\n--- stdout ---\n${r.stdout.slice(-2500)}\n--- stderr ---\n${r.stderr.slice(-2500)}`);
  for (const e of EXPECT) if (steps.some((st) => e.match.test(st))) assert.match(r.stdout + r.stderr, e.output, `${cmd.where}: \`${cmd.command}\` shows ${e.output}`);
  if (/^export [A-Z_]+=/.test(line)) exports.push(line);
}

test("extractor: transcript lines, continuations, comments, && steps", () => {
  const md = ["```sh", "# a comment", "./bin/opsbus health   # queue depth", "A=1 ./bin/opsbus tool x y \\", "  --agent sofiia", "```", "```sh", "$ npm install && npm start", "{\"ok\": true}", "```", "```js", "not.shell()", "```"].join("\n");
  const cmds = extractCommands("x.md", md);
  assert.equal(cmds.map((c) => [c.line, c.command]), [[3, "./bin/opsbus health   # queue depth"], [4, "A=1 ./bin/opsbus tool x y --agent sofiia"], [8, "npm install && npm start"]]);
  assert.is(stripComment(cmds[0]!.command), "./bin/opsbus health");
  assert.is(stripComment(`./bin/opsbus tool t a --params '{"k":"#1"}'`), `./bin/opsbus tool t a --params '{"k":"#1"}'`);
  assert.equal(splitSteps(`cd d && sha256sum -c x && echo '&&'`), ["cd d", "sha256sum -c x", "echo '&&'"]);
});

test("the docs' shell blocks hold commands (the extractor finds them)", () => {
  const all = DOCS.flatMap((f) => extractCommands(f));
  assert.ok(process.env.DOCS_ONLY || all.length >= 40, `found ${all.length}`);
  const readme = extractCommands("README.md");
  assert.ok(readme.some((c) => c.command.startsWith("./bin/opsbus alert publish")), "README's transcript lines are found");
  assert.not.ok(readme.some((c) => c.command.startsWith("{")), "transcript output is not taken for commands");
});

/** A document's commands in order, stopping at the first failure (later ones may depend on it). */
async function runDoc(file: string): Promise<void> {
  const run: DocRun = { db: await createTestDatabase(), exports: [] };
  try {
    for (const cmd of extractCommands(file)) {
      const t0 = Date.now();
      await runLine(cmd, run);
      if (process.env.DOCS_TRACE) console.error(`${Date.now() - t0} ms ${cmd.where} ${cmd.command.slice(0, 80)}`);
    }
  } finally {
    await run.db.drop();
  }
}

test(`every command in ${DOCS.join(", ")} runs or is on SKIP`, async () => {
  const queue = [...DOCS];
  const failures: string[] = [];
  const lane = async () => {
    for (let file = queue.shift(); file; file = queue.shift()) await runDoc(file).catch((err: Error) => failures.push(err.message));
  };
  await Promise.all(Array.from({ length: LANES }, lane));
  assert.equal(failures, [], `\n${failures.join("\n\n")}`);
});

test.run();
