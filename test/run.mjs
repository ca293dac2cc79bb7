// Test runner: node test/run.mjs [unit|conformance|integration|faults ...] [--file substring]
//
// Runs every test/<tier>/**/*.test.ts as its own node process (compiled from dist/ when `npm run
// build` is current, else through tsx). Unit files start no
// servers and run UNIT_JOBS at a time; integration files run INTEGRATION_JOBS at a time (each
// starts its own nats-server and database, so they cannot collide), except those whose first
// lines say `test-lane: alone` (a timing assertion, or a machine-wide resource): those, and the
// fault suites, run one at a time after them. Output of files run side by side is printed whole,
// file by file. Reads uvu's closing summary, and ends with exactly one line:
// `N passed, N failed[, N skipped]`.
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { distIsCurrent } from "../bin/dist-current.mjs";

const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));
/**
 * A test file runs compiled (dist/, plain node) when `npm run build` is current for src/ and test/,
 * else through tsx. Compiling on every start took most of a small file's time (about half a second
 * of CPU per file, twice that when the CLI's children did it too), and CI builds first.
 */
const COMPILED = distIsCurrent(ROOT, ["src", "test"]);
/** Every tier by default: the fault suites run at their CI size unless FAULT_SCALE=full. */
const ALL_TIERS = ["unit", "conformance", "integration", "faults"];
const DEFAULT_TIERS = ALL_TIERS;
/** A full-size fault suite (the 10-minute soak, 100k-alert crash loop) needs longer than the rest. */
const FILE_TIMEOUT_MS = Number(process.env.TEST_FILE_TIMEOUT_MS ?? (process.env.FAULT_SCALE === "full" ? 1_500_000 : 300_000));
/** Unit files at once: each is mostly a tsx start-up, so two cores finish them in about half the time. */
const UNIT_JOBS = Math.max(1, Number(process.env.UNIT_JOBS ?? 2));
/** Integration files at once: most of their time is waiting on servers and timers, not CPU. */
const INTEGRATION_JOBS = Math.max(1, Number(process.env.INTEGRATION_JOBS ?? 2));
/** A file asks to run with nothing beside it by saying so near its top. */
const ALONE_MARK = /test-lane:\s*alone/;
const HEADER_CHARS = 4_000;
/** Between SIGTERM and SIGKILL when a file times out or the run is interrupted. */
const KILL_GRACE_MS = 5_000;
/** uvu's summary is at the very end; keep only this much output per file for parsing. */
const PARSE_TAIL_CHARS = 64 * 1024;

function parseArgs(argv) {
  const tiers = [];
  const fileFilters = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--file") fileFilters.push(argv[++i] ?? "");
    else if (arg.startsWith("--file=")) fileFilters.push(arg.slice("--file=".length));
    else if (ALL_TIERS.includes(arg)) tiers.push(arg);
    else {
      console.error(`run.mjs: unknown argument "${arg}"; expected one of ${ALL_TIERS.join(", ")} or --file <substring>`);
      process.exit(2);
    }
  }
  return { tiers: tiers.length ? tiers : DEFAULT_TIERS, fileFilters };
}

function findTestFiles(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((entry) => {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) return findTestFiles(path);
      return entry.name.endsWith(".test.ts") ? [path] : [];
    });
}

const stripAnsi = (text) => text.replace(/\x1b\[[0-9;]*m/g, "");

/** uvu's closing block: `Total: N / Passed: N / Skipped: N`. Total excludes skipped tests. */
function parseUvuSummary(output) {
  const text = stripAnsi(output);
  const last = (label) => {
    const matches = [...text.matchAll(new RegExp(`^\\s*${label}:\\s+(\\d+)\\s*$`, "gm"))];
    const match = matches.at(-1);
    return match ? Number(match[1]) : undefined;
  };
  const total = last("Total");
  const passed = last("Passed");
  if (total === undefined || passed === undefined) return undefined;
  return { total, passed, skipped: last("Skipped") ?? 0 };
}

/** Pids still in a process group (a test's leaked servers), ignoring zombies; [] where /proc is missing. */
function groupMembers(pgid) {
  try {
    return readdirSync("/proc")
      .filter((name) => /^\d+$/.test(name))
      .filter((pid) => {
        try {
          // /proc/<pid>/stat: "pid (comm) state ppid pgrp ..."; comm may contain spaces, so split after ")".
          const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
          return fields[0] !== "Z" && Number(fields[2]) === pgid;
        } catch {
          return false;
        }
      })
      .map(Number);
  } catch {
    return [];
  }
}

function killGroup(pgid, signal) {
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone
  }
}

const running = new Set(); // the running children, so an interrupt can take their servers down with them

/**
 * Runs one file in its own process group so a timeout or interrupt can kill everything it started.
 * `buffered`: its output is held and printed whole when it ends (files running side by side).
 */
function runFile(file, buffered = false) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, COMPILED ? [join("dist", file.replace(/\.ts$/, ".js"))] : ["--import", "tsx", file], {
      cwd: ROOT,
      env: process.env,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    running.add(child);
    let tail = "";
    let timedOut = false;
    const held = [];
    const keep = (chunk) => {
      tail = (tail + chunk.toString()).slice(-PARSE_TAIL_CHARS);
    };
    child.stdout.on("data", (chunk) => {
      if (buffered) held.push(chunk);
      else process.stdout.write(chunk);
      keep(chunk);
    });
    child.stderr.on("data", (chunk) => (buffered ? held.push(chunk) : process.stderr.write(chunk)));

    const timer = setTimeout(() => {
      timedOut = true;
      console.error(`\n[run.mjs] ${file} timed out after ${FILE_TIMEOUT_MS} ms; killing its process group`);
      killGroup(child.pid, "SIGTERM");
      setTimeout(() => killGroup(child.pid, "SIGKILL"), KILL_GRACE_MS).unref();
    }, FILE_TIMEOUT_MS);

    child.on("error", (err) => keep(`\n[run.mjs] could not start: ${err.message}\n`));
    child.on("close", async (code, signal) => {
      clearTimeout(timer);
      running.delete(child);
      if (buffered) process.stdout.write(`\n── ${file}\n${Buffer.concat(held).toString()}`);
      const leaked = child.pid ? await reapLeftovers(child.pid) : 0;
      resolve({ file, code, signal, timedOut, leaked, ms: Date.now() - started, summary: parseUvuSummary(tail) });
    });
  });
}

/** Exit hooks kill servers asynchronously; give them a moment, then SIGKILL whatever remains. */
async function reapLeftovers(pgid) {
  const deadline = Date.now() + 2_000;
  while (groupMembers(pgid).length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const left = groupMembers(pgid);
  if (left.length) {
    console.error(`[run.mjs] leaked processes after exit: ${left.join(", ")}; killing them`);
    killGroup(pgid, "SIGKILL");
  }
  return left.length;
}

/**
 * Turns a finished file into counts. A crash, timeout, unexplained non-zero exit or a process
 * left running after exit (a leaked server) is one failure, so none of them can pass silently.
 */
function score(result) {
  const { summary, code, signal, timedOut, leaked } = result;
  const notes = [];
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  if (summary) {
    passed = summary.passed;
    skipped = summary.skipped;
    failed = Math.max(0, summary.total - summary.passed);
  } else {
    notes.push("no uvu summary");
  }
  if (timedOut) notes.push("timed out");
  else if (signal) notes.push(`killed by ${signal}`);
  else if (code !== 0) notes.push(`exit ${code}`);
  if (leaked) notes.push(`leaked ${leaked} process(es)`);
  const broken = timedOut || signal || code !== 0 || !summary || leaked > 0;
  if (broken && failed === 0) failed = 1;
  return { passed, failed, skipped, notes };
}

function printTable(rows) {
  const header = ["file", "passed", "failed", "skipped", "time", "notes"];
  const body = rows.map((r) => [r.file, r.passed, r.failed, r.skipped, `${(r.ms / 1000).toFixed(1)}s`, r.notes.join("; ")].map(String));
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((cells) => cells[i].length)));
  const line = (cells) => cells.map((c, i) => (i === 0 || i === 5 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ").trimEnd();
  console.log(`\n${line(header)}\n${widths.map((w) => "-".repeat(w)).join("  ")}`);
  for (const cells of body) console.log(line(cells));
}

function finalLine(rows) {
  const sum = (key) => rows.reduce((n, r) => n + r[key], 0);
  const passed = sum("passed");
  const failed = sum("failed");
  const skipped = sum("skipped");
  return { passed, failed, text: `${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}` };
}

async function main() {
  const { tiers, fileFilters } = parseArgs(process.argv.slice(2));
  const files = tiers
    .flatMap((tier) => findTestFiles(join(ROOT, "test", tier)))
    .map((path) => relative(ROOT, path))
    .filter((file) => fileFilters.length === 0 || fileFilters.some((f) => file.includes(f)));

  console.log(COMPILED ? "test files run compiled, from dist/ (npm run build is current)" : "test files run through tsx (dist/ missing, or older than an edit: npm run build runs them compiled)");
  const rows = [];
  const results = new Map(); // file → its row, as files finish
  const finish = () => {
    if (rows.length) printTable(rows);
    else console.log(`\nno test files found in ${tiers.map((t) => `test/${t}`).join(", ")}${fileFilters.length ? ` matching ${fileFilters.join(", ")}` : ""}`);
    const total = finalLine(rows);
    console.log(total.text);
    return total.failed > 0 || total.passed === 0 ? 1 : 0;
  };

  for (const signal of ["SIGINT", "SIGTERM"]) {
    process.on(signal, () => {
      for (const child of running) if (child.pid) killGroup(child.pid, "SIGKILL");
      rows.push(...results.values());
      rows.push({ file: "(interrupted)", passed: 0, failed: 1, skipped: 0, ms: 0, notes: [signal] });
      process.exit(finish() || 130);
    });
  }

  const isUnit = (f) => f.startsWith(join("test", "unit"));
  const isShared = (f) => f.startsWith(join("test", "integration")) && !ALONE_MARK.test(readFileSync(join(ROOT, f), "utf8").slice(0, HEADER_CHARS));
  const unit = files.filter(isUnit);
  const shared = files.filter(isShared);
  const alone = files.filter((f) => !isUnit(f) && !shared.includes(f));
  /** Runs `list` `jobs` at a time; each result lands in `results` under its file. */
  const inLanes = async (list, jobs) => {
    let next = 0;
    const lane = async () => {
      while (next < list.length) {
        const file = list[next++];
        const result = await runFile(file, jobs > 1);
        results.set(file, { file, ms: result.ms, ...score(result) });
      }
    };
    await Promise.all(Array.from({ length: Math.min(jobs, list.length) }, lane));
  };
  await inLanes(unit, UNIT_JOBS);
  await inLanes(shared, INTEGRATION_JOBS);
  for (const file of alone) {
    console.log(`\n── ${file}`);
    const result = await runFile(file);
    results.set(file, { file, ms: result.ms, ...score(result) });
  }
  // The table keeps the files' order whatever order they finished in.
  for (const file of files) rows.push(results.get(file));
  process.exitCode = finish();
}

await main();
