/**
 * The ingest worker's lower CPU priority reaches every thread of its process (V8's GC and compiler
 * threads exist before any of our code runs), and threads started afterwards inherit it. Runs in a
 * child process: a test process lowering its own priority would slow the rest of the suite.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";

// From the repository root, the runner's working directory, whether this file runs compiled or not.
const MODULE = resolve("src/util/cpu-priority.ts");
const THREADS = resolve("test/harness/threads.ts");

/** The nice value of every thread of the child, before and after `lowerCpuPriority(by)`, and after a new thread starts. */
function niceOfThreadsIn(by: number): { before: number[]; after: number[]; later: number[]; change: unknown } {
  const script = `
    import { Worker } from "node:worker_threads";
    const { lowerCpuPriority } = await import(${JSON.stringify(MODULE)});
    const { threadNices } = await import(${JSON.stringify(THREADS)});
    const nices = () => threadNices(process.pid);
    const before = nices();
    const change = lowerCpuPriority(${by});
    const after = nices();
    const w = new Worker("setInterval(() => {}, 1000)", { eval: true });
    await new Promise((r) => w.once("online", r));
    const later = nices();
    await w.terminate();
    console.log(JSON.stringify({ before, after, later, change }));
  `;
  const out = execFileSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { encoding: "utf8" });
  return JSON.parse(out.trim().split("\n").at(-1)!);
}

test("every thread of the process gets the lower priority, and a thread started later inherits it", () => {
  if (!existsSync("/proc/self/task")) return; // Linux only: elsewhere nice is per process anyway
  const r = niceOfThreadsIn(7);
  assert.ok(r.before.length > 1, `V8 runs helper threads from the start: ${r.before.length}`);
  const base = r.before[0]!;
  assert.equal(r.after, r.after.map(() => Math.min(19, base + 7)), "every thread, V8's included");
  assert.ok(r.later.length > r.after.length, "a worker thread started");
  assert.equal(r.later, r.later.map(() => Math.min(19, base + 7)), "threads started afterwards inherit it");
  assert.equal(r.change, { nice: Math.min(19, base + 7), threads: r.before.length });
});

test("0 changes nothing", () => {
  if (!existsSync("/proc/self/task")) return;
  const r = niceOfThreadsIn(0);
  assert.equal(r.after, r.before);
  assert.equal(r.change, { threads: 0 });
});

test.run();
