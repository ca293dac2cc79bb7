/**
 * A second SIGINT/SIGTERM/SIGHUP while draining is logged, not acted on: the drain runs once, to
 * the end, or until its deadline, after which the deliveries still held are nak'd and the process
 * exits 1 naming what it abandoned.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { EventEmitter } from "node:events";
import type { Ctx } from "../../src/app/context.js";
import { drainOnSignal, LAUNCHER_GONE } from "../../src/main.js";
import { captureLogger } from "../harness/logs.js";

test("SIGTERM then SIGINT and SIGTERM again: one drain, the repeats logged, resolved when the drain ends", async () => {
  const logs = captureLogger("info");
  const signals = new EventEmitter();
  let stops = 0;
  let finishDrain!: () => void;
  const running = {
    ctx: { logger: logs.logger } as unknown as Ctx,
    stop: () => {
      stops += 1;
      return new Promise<void>((resolve) => (finishDrain = resolve));
    },
  };
  let resolved = false;
  let code: number | undefined;
  const done = drainOnSignal(running, signals).then((c) => ((code = c), (resolved = true)));
  signals.emit("SIGTERM");
  signals.emit("SIGINT");
  signals.emit("SIGTERM");
  await Promise.resolve();
  assert.is(stops, 1, "one drain");
  assert.not.ok(resolved, "still draining");
  const msgs = logs.lines().map((l) => `${l.msg}:${l.signal}`);
  assert.equal(msgs, ["draining:SIGTERM", "already draining; send SIGKILL to stop now:SIGINT", "already draining; send SIGKILL to stop now:SIGTERM"]);
  finishDrain();
  await done;
  assert.ok(resolved);
  assert.is(code, 0, "a finished drain exits 0");
});

/** A stand-in for Running whose stop() resolves when the test says so, or never. */
function standIn(level = "info") {
  const logs = captureLogger(level);
  let stops = 0;
  let finishDrain!: () => void;
  const running = {
    ctx: { logger: logs.logger } as unknown as Ctx,
    stop: () => {
      stops += 1;
      return new Promise<void>((resolve) => (finishDrain = resolve));
    },
    unfinished: () => ["triage", "connections and stores"],
  };
  return { logs, running, stops: () => stops, finish: () => finishDrain() };
}

test("SIGHUP drains like SIGTERM (a closed terminal no longer kills mid-batch)", async () => {
  const s = standIn();
  const signals = new EventEmitter();
  const done = drainOnSignal(s.running, signals, { timeoutMs: 60_000 });
  signals.emit("SIGHUP");
  signals.emit("SIGTERM");
  assert.is(s.stops(), 1);
  s.finish();
  assert.is(await done, 0);
  assert.equal(s.logs.lines().map((l) => `${l.msg}:${l.signal}`), ["draining:SIGHUP", "already draining; send SIGKILL to stop now:SIGTERM"]);
});

test("the launcher's exit drains too, naming why", async () => {
  const s = standIn();
  const signals = new EventEmitter();
  const done = drainOnSignal(s.running, signals, { timeoutMs: 60_000 });
  signals.emit(LAUNCHER_GONE, "launcher pid 123 (123) is gone");
  s.finish();
  assert.is(await done, 0);
  assert.is(s.logs.lines()[0]!.signal, "launcher gone: launcher pid 123 (123) is gone");
});

test("a drain that outlasts its deadline resolves 1 and logs what it abandoned", async () => {
  const s = standIn();
  const signals = new EventEmitter();
  const started = Date.now();
  const done = drainOnSignal(s.running, signals, { timeoutMs: 50 });
  signals.emit("SIGTERM");
  assert.is(await done, 1, "non-zero exit");
  assert.ok(Date.now() - started < 5_000, "not held by the stuck drain");
  const line = s.logs.lines().find((l) => l.level === 50);
  assert.ok(line, "an error line");
  assert.equal(line!.abandoned, ["triage", "connections and stores"]);
  assert.is(line!.timeout_ms, 50);
  assert.match(String(line!.msg), "triage, connections and stores unfinished");
});

test("at the deadline the held deliveries are nak'd (abandon) before exiting, and their count logged", async () => {
  const s = standIn();
  const signals = new EventEmitter();
  let abandons = 0;
  const running = { ...s.running, abandon: () => (abandons++, 3) };
  const done = drainOnSignal(running, signals, { timeoutMs: 30 });
  signals.emit("SIGTERM");
  await new Promise((r) => setTimeout(r, 5));
  assert.is(abandons, 0, "not before the deadline");
  assert.is(await done, 1);
  assert.is(abandons, 1, "once, at the deadline");
  const line = s.logs.lines().find((l) => l.level === 50)!;
  assert.is(line.naked, 3);
  assert.equal(line.abandoned, ["triage", "connections and stores"]);
  assert.match(String(line.msg), "3 held deliveries nak'd");
});

test("a drain that finishes in time abandons nothing", async () => {
  const s = standIn();
  const signals = new EventEmitter();
  let abandons = 0;
  const done = drainOnSignal({ ...s.running, abandon: () => (abandons++, 0) }, signals, { timeoutMs: 60_000 });
  signals.emit("SIGTERM");
  s.finish();
  assert.is(await done, 0);
  assert.is(abandons, 0);
});

test("the deadline comes from DRAIN_TIMEOUT_MS in the context's env", async () => {
  const s = standIn();
  (s.running.ctx as unknown as { env: { DRAIN_TIMEOUT_MS: number } }).env = { DRAIN_TIMEOUT_MS: 30 };
  const signals = new EventEmitter();
  const done = drainOnSignal(s.running, signals);
  signals.emit("SIGINT");
  assert.is(await done, 1);
  assert.is(s.logs.lines().find((l) => l.level === 50)!.timeout_ms, 30);
});

test("a drain that fails resolves 1", async () => {
  const logs = captureLogger("info");
  const signals = new EventEmitter();
  const running = { ctx: { logger: logs.logger } as unknown as Ctx, stop: () => Promise.reject(new Error("store close failed")) };
  const done = drainOnSignal(running, signals, { timeoutMs: 60_000 });
  signals.emit("SIGTERM");
  assert.is(await done, 1);
  assert.ok(logs.lines().some((l) => l.msg === "drain failed"));
});

test.run();
