/** The live feed's fan-out on a fake consumer: one consumer for every client, frames, filtering, and a slow client dropped. */
import { EventEmitter } from "node:events";
import type { ServerResponse } from "node:http";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { EventFeed, frameOf } from "../../src/http/console/events.js";
import { capturedLogger } from "./gateway-fixtures.js";

/** A consumer whose messages the test pushes. */
function fakeJetStream() {
  const pending: Array<{ seq: number; string(): string; info: { pending: number } }> = [];
  let wake: (() => void) | undefined;
  let consumers = 0;
  let stopped = false;
  const iter = {
    stop: () => ((stopped = true), wake?.()),
    async *[Symbol.asyncIterator]() {
      for (;;) {
        while (pending.length) yield pending.shift()!;
        if (stopped) return;
        await new Promise<void>((r) => (wake = r));
      }
    },
  };
  return {
    js: { consumers: { get: async () => (consumers++, { consume: async () => iter, delete: async () => true }) } },
    jsm: { streams: { info: async () => ({ state: { last_seq: 0 } }) } },
    push(seq: number, envelope: unknown) {
      pending.push({ seq, string: () => JSON.stringify(envelope), info: { pending: 0 } });
      wake?.();
    },
    get consumers() {
      return consumers;
    },
  };
}

/** A response that keeps what was written; `stuck` makes it buffer instead of sending. */
function fakeResponse(stuck = false) {
  const r = Object.assign(new EventEmitter(), { text: "", writableLength: 0, destroyed: false, ended: false });
  return Object.assign(r, {
    write(s: string) {
      if (stuck) r.writableLength += Buffer.byteLength(s);
      else r.text += s;
      return true;
    },
    end() {
      r.ended = true;
    },
    destroy() {
      r.destroyed = true;
      r.emit("close");
    },
  });
}

const tick = () => new Promise((r) => setImmediate(r));

test("frames: id is the sequence, event the type, data one line of JSON; an unsafe type is 'message'", () => {
  assert.is(frameOf(7, JSON.stringify({ type: "alert.accepted", data: { t: "a\nb" } }))!.frame, `id: 7\nevent: alert.accepted\ndata: {"type":"alert.accepted","data":{"t":"a\\nb"}}\n\n`);
  assert.is(frameOf(8, JSON.stringify({ type: "x\ny" }))!.type, "message");
  assert.is(frameOf(9, "not json"), undefined);
});

test("every client is fed by one consumer, each sees only what its role may read, and a slow client is dropped", async () => {
  const f = fakeJetStream();
  const { logger } = capturedLogger();
  const feed = new EventFeed({ js: f.js as never, jsm: f.jsm as never, stream: "OPS_EVENTS", logger, maxBufferedBytes: 2048 });
  const reader = fakeResponse();
  const jobsOnly = fakeResponse();
  const slow = fakeResponse(true);
  await feed.attach({ res: reader as unknown as ServerResponse, entitlements: new Set(["tools.alerts.read", "tools.jobs.read"]) }, undefined);
  await feed.attach({ res: jobsOnly as unknown as ServerResponse, entitlements: new Set(["tools.jobs.read"]) }, undefined);
  await feed.attach({ res: slow as unknown as ServerResponse, entitlements: new Set(["tools.alerts.read"]) }, undefined);
  assert.is(f.consumers, 1);
  for (let seq = 1; seq <= 40; seq++) f.push(seq, { type: seq % 2 ? "alert.accepted" : "job.started", data: { pad: "x".repeat(100) } });
  await tick();
  await tick();
  assert.is((reader.text.match(/^id: /gm) ?? []).length, 40);
  assert.is((jobsOnly.text.match(/^event: job\.started$/gm) ?? []).length, 20);
  assert.not.ok(jobsOnly.text.includes("alert.accepted"));
  assert.ok(slow.destroyed, "the slow client was dropped");
  assert.is(feed.droppedCount, 1);
  assert.is(feed.clients, 2);
  await feed.stop();
  assert.ok(reader.ended && jobsOnly.ended);
});

test.run();
