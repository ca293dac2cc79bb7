/** A second SIGINT/SIGTERM while draining is logged, not acted on: the drain runs once, to the end. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { EventEmitter } from "node:events";
import type { Ctx } from "../../src/context.js";
import { drainOnSignal } from "../../src/main.js";
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
  const done = drainOnSignal(running, signals).then(() => (resolved = true));
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
});

test.run();
