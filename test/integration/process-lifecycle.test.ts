/**
 * Process lifecycle (issue 11, finding 5): one owner per DATA_DIR (a second `start` refuses and
 * names the holder, the first is unaffected; a kill -9'd holder's lock is taken over); the
 * auto-started nats-server dies with opsbus, even on kill -9, and an orphan from an earlier run
 * is replaced, not silently reused; `npm start` killed with -9 leaves no node or nats-server.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { naming, subjects } from "../../src/subjects/index.js";
import { LOCK_FILE } from "../../src/util/dir-lock.js";
import { pidExists } from "../../src/util/proc.js";
import { startNatsServer, type NatsServerHandle } from "../harness/nats.js";
import { freePort } from "../harness/ports.js";
import { spawnOpsbus, type OpsbusProcess } from "../harness/process.js";
import { reapAtExit } from "../harness/reaper.js";
import { waitFor } from "../harness/wait.js";

const JSONL = Object.fromEntries(["ALERT", "AUDIT", "INCIDENT", "RISK", "JOB", "BACKLOG"].map((p) => [`${p}_BACKEND`, "jsonl"]));
const s = subjects(naming("ops"));
let nats: NatsServerHandle;
const dirs: string[] = [];
/** Pids a failing test might leave behind; killed in after(). */
const leftovers = new Set<number>();

const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), "opsbus-lifecycle-"));
  dirs.push(d);
  return d;
};
const lockPid = (dir: string): number | undefined => {
  try {
    return JSON.parse(readFileSync(join(dir, LOCK_FILE), "utf8")).pid;
  } catch {
    return undefined;
  }
};
const natsPid = (dir: string): number | undefined => {
  const n = Number(readFileSync(join(dir, "nats", "nats-server.pid"), "utf8").trim());
  return n > 0 ? n : undefined;
};
const running = (p: OpsbusProcess) => waitFor(() => p.output().includes("opsbus running"), { timeoutMs: 60_000, message: `opsbus running\n${p.output()}` });

test.before(async () => {
  nats = await startNatsServer();
});

test.after(async () => {
  for (const pid of leftovers) if (pidExists(pid)) process.kill(pid, "SIGKILL");
  await nats?.cleanup();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test("two starts on one DATA_DIR: the second exits non-zero naming the first's pid; the first keeps working", async () => {
  const dataDir = tempDir();
  const env = { NATS_URL: nats.url, OPSBUS_START_NATS: "0", DATA_DIR: dataDir, LOG_LEVEL: "info", ...JSONL };
  const first = spawnOpsbus(["start"], env);
  await running(first);
  assert.is(lockPid(dataDir), first.child.pid, "the lock names the first process");

  const second = spawnOpsbus(["start"], env);
  const [code] = (await once(second.child, "exit")) as [number | null];
  assert.is.not(code, 0, "the second start fails");
  assert.match(second.output(), `DATA_DIR ${dataDir} is in use`);
  assert.match(second.output(), `pid ${first.child.pid}`);
  assert.not.match(second.output(), "opsbus running", "it refused before starting any role");

  assert.is(first.child.exitCode, null, "the first still runs");
  assert.is(lockPid(dataDir), first.child.pid, "and still holds the lock");
  const nc = await connect({ servers: nats.url });
  try {
    const health = (await nc.request(s.tools.health, "", { timeout: 5000 })).json<{ ok: boolean }>();
    assert.ok(health.ok, "the first answers ops.health");
  } finally {
    await nc.close();
  }
  assert.is(await first.stop(), 0, "the first drains and exits 0");
  assert.not.ok(existsSync(join(dataDir, LOCK_FILE)), "a stop releases the lock");
});

test("a kill -9'd holder leaves a stale lock; the next start takes it over with a warning", async () => {
  const dataDir = tempDir();
  const env = { NATS_URL: nats.url, OPSBUS_START_NATS: "0", DATA_DIR: dataDir, LOG_LEVEL: "info", ...JSONL };
  const first = spawnOpsbus(["start"], env);
  await running(first);
  const deadPid = first.child.pid!;
  await first.kill9();
  assert.is(lockPid(dataDir), deadPid, "kill -9 runs no exit handler: the lock stays");

  const next = spawnOpsbus(["start"], env);
  try {
    await running(next);
    assert.is(lockPid(dataDir), next.child.pid);
    assert.match(next.output(), `took over the lock of ${dataDir} from pid ${deadPid}, which is no longer running`);
  } finally {
    await next.stop();
  }
});

test("the auto-started nats-server dies with opsbus on kill -9", async () => {
  const dataDir = tempDir();
  const port = await freePort();
  const p = spawnOpsbus(["start"], { NATS_URL: `nats://127.0.0.1:${port}`, OPSBUS_START_NATS: "1", DATA_DIR: dataDir, LOG_LEVEL: "info", ...JSONL });
  await running(p);
  const server = natsPid(dataDir)!;
  leftovers.add(server);
  assert.ok(pidExists(server), "a nats-server was started");
  await p.kill9();
  await waitFor(() => !pidExists(server), { timeoutMs: 10_000, message: `nats-server ${server} to exit after its opsbus was killed` });
});

test("an orphaned nats-server from an earlier run is replaced, with an error line, not silently reused", async () => {
  const dataDir = tempDir();
  const port = await freePort();
  const storeDir = join(dataDir, "nats");
  mkdirSync(storeDir, { recursive: true });
  // What an opsbus killed before it could stop its server leaves: the server, its pid file, and
  // an owner file naming an opsbus that is gone.
  const log = openSync(join(storeDir, "orphan.log"), "a");
  const orphan = spawn("nats-server", ["-js", "-a", "127.0.0.1", "-p", String(port), "-sd", storeDir, "-P", join(storeDir, "nats-server.pid")], { stdio: ["ignore", log, log] });
  reapAtExit(orphan);
  const gone = spawnSync("true").pid!;
  writeFileSync(join(storeDir, "nats-server.owner"), JSON.stringify({ pid: gone, boot_id: null, start_ticks: null, host: hostname() }));
  await waitFor(() => existsSync(join(storeDir, "nats-server.pid")) && natsPid(dataDir) === orphan.pid, { message: "the orphan's pid file" });

  const p = spawnOpsbus(["start"], { NATS_URL: `nats://127.0.0.1:${port}`, OPSBUS_START_NATS: "1", DATA_DIR: dataDir, LOG_LEVEL: "info", ...JSONL });
  try {
    await running(p);
    assert.ok(orphan.exitCode !== null || orphan.signalCode !== null, "the orphan was stopped");
    assert.match(p.output(), `an orphaned nats-server (pid ${orphan.pid}) left by opsbus pid ${gone}`);
    const fresh = natsPid(dataDir)!;
    leftovers.add(fresh);
    assert.is.not(fresh, orphan.pid, "a fresh server this process owns");
    assert.ok(pidExists(fresh));
    assert.is(await p.stop(), 0);
    await waitFor(() => !pidExists(fresh), { message: "the owned server stops with opsbus" });
  } finally {
    await p.stop();
  }
});

test("npm start killed with -9: neither the node worker nor its nats-server survive", async () => {
  const dataDir = tempDir();
  const port = await freePort();
  const env = { ...process.env, NATS_URL: `nats://127.0.0.1:${port}`, OPSBUS_START_NATS: "1", DATA_DIR: dataDir, LOG_LEVEL: "info", ...JSONL };
  const npm: ChildProcess = spawn("npm", ["start"], { env, stdio: ["ignore", "pipe", "pipe"] });
  reapAtExit(npm);
  let out = "";
  npm.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  npm.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  await waitFor(() => out.includes("opsbus running"), { timeoutMs: 60_000, message: `npm start running\n${out}` });
  const worker = lockPid(dataDir)!;
  const server = natsPid(dataDir)!;
  leftovers.add(worker).add(server);
  assert.is.not(worker, npm.pid, "the worker is npm's descendant, not npm");
  assert.ok(pidExists(worker) && pidExists(server));

  const exited = once(npm, "exit");
  npm.kill("SIGKILL");
  await exited;
  await waitFor(() => !pidExists(worker) && !pidExists(server), {
    timeoutMs: 15_000,
    message: `node ${worker} (alive: ${pidExists(worker)}) and nats-server ${server} (alive: ${pidExists(server)}) to exit after npm was killed`,
  });
  assert.match(out, "launcher gone", "the worker drained because npm was gone");
  assert.not.ok(existsSync(join(dataDir, LOCK_FILE)), "it drained and released the data dir");
});

test.run();
