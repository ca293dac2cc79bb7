/** The one consume loop (src/nats/consumer.ts) over a fake JetStream consumer: what it hands to handlers and how it settles. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { JetStreamClient, JsMsg } from "@nats-io/jetstream";
import { consumeBatches, consumeEach, UnreadableDelivery } from "../../src/nats/consumer.js";
import { STOPPING_NAK_DELAY_MS } from "../../src/nats/settle.js";
import { captureLogger } from "../harness/logs.js";

const enc = new TextEncoder();
const dec = new TextDecoder();
const tick = () => new Promise((r) => setTimeout(r, 5));
/** Waits (on the fake bus's own pace) until `done()`, at most 100 ticks. */
async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !done(); i++) await tick();
}

/** Fake deliveries record how they were settled. */
function fakeBus() {
  const settled: string[] = [];
  let seq = 0;
  const msg = (body: string, deliveryCount = 1): JsMsg => {
    const s = ++seq;
    const rec = (what: string) => settled.push(`${s}:${what}`);
    return {
      subject: "t.x", data: enc.encode(body), seq: s, info: { deliveryCount },
      ack: () => rec("ack"), nak: (d?: number) => rec(d ? `nak ${d}` : "nak"), term: (r?: string) => rec(r ? `term ${r}` : "term"), working: () => rec("wpi"),
    } as unknown as JsMsg;
  };
  const pending: JsMsg[] = [];
  const fetches: number[] = [];
  const js = {
    consumers: {
      get: async () => ({
        // One pull: what is queued now (up to max_messages), then the pull ends.
        fetch: async (o: { max_messages: number }) => {
          fetches.push(o.max_messages);
          await tick();
          return (async function* () {
            yield* pending.splice(0, o.max_messages);
          })();
        },
      }),
    },
  } as unknown as JetStreamClient;
  return { js, msg, settled, fetches, queue: (m: JsMsg) => pending.push(m) };
}

const common = (bus: ReturnType<typeof fakeBus>, termReason = true) => ({
  js: bus.js, stream: "S", consumer: "c", logger: captureLogger().logger, label: "test batch", features: { termReason }, retryDelay: (n: number) => n * 100,
});

test("batch mode: unreadable deliveries terminated, the rest settled as the handler says once its publish is done", async () => {
  const bus = fakeBus();
  const batches: string[][] = [];
  let publish!: () => void;
  for (const body of ["ok", "bad", "retry", "poison"]) bus.queue(bus.msg(body));
  const c = await consumeBatches<string>({
    ...common(bus),
    batchSize: 10,
    parse: (d) => {
      const s = dec.decode(d.data);
      if (s === "bad") throw new UnreadableDelivery("not a word");
      return s;
    },
    handle: async (batch) => {
      batches.push(batch);
      return {
        outcomes: batch.map((s) => (s === "ok" ? { kind: "ack" as const } : s === "retry" ? { kind: "nak" as const, delayMs: 7 } : { kind: "term" as const, reason: s })),
        publish: () => new Promise<void>((r) => (publish = r)),
      };
    },
  });
  await until(() => batches.length > 0 && bus.settled.length > 0);
  assert.equal(batches, [["ok", "retry", "poison"]], "one batch of what arrived together, without the unreadable one");
  assert.equal(bus.settled, ["2:term not a word"], "nothing but the unreadable one settles before the publish");
  publish();
  await until(() => bus.settled.length === 4);
  assert.equal(bus.settled, ["2:term not a word", "1:ack", "3:nak 7", "4:term poison"]);
  await c.stop();
});

test("batch mode: a failed batch is nak'd with the retry delay of each delivery; the term reason only where the server records it", async () => {
  const bus = fakeBus();
  let fail = true;
  bus.queue(bus.msg("a", 1));
  bus.queue(bus.msg("b", 3));
  const c = await consumeBatches<string>({
    ...common(bus, false),
    batchSize: 10,
    parse: (d) => dec.decode(d.data),
    handle: async (batch) => {
      if (fail) throw new Error("store down");
      return { outcomes: batch.map(() => ({ kind: "term" as const, reason: "why" })) };
    },
  });
  await until(() => bus.settled.length === 2);
  assert.equal(bus.settled, ["1:nak 100", "2:nak 300"]);
  fail = false;
  bus.queue(bus.msg("c"));
  await until(() => bus.settled.length === 3);
  assert.equal(bus.settled.slice(2), ["3:term"]);
  await c.stop();
});

test("batch mode: lanes of disjoint keys are handled at once; the next batch waits for the one in hand (group commit)", async () => {
  const bus = fakeBus();
  const seen: string[][] = [];
  const release: Array<() => void> = [];
  for (const body of ["a1", "b1", "a2", "b2", "a3"]) bus.queue(bus.msg(body));
  const c = await consumeBatches<string>({
    ...common(bus),
    ahead: 8,
    batchSize: 2,
    lanes: 2,
    parse: (d) => dec.decode(d.data),
    laneKey: (s) => s[0],
    handle: async (batch) => {
      seen.push(batch);
      await new Promise<void>((r) => release.push(r));
      return { outcomes: batch.map(() => ({ kind: "ack" as const })) };
    },
  });
  await until(() => seen.length === 2);
  await tick();
  assert.is(seen.length, 2, "two lanes at once");
  for (const g of seen) assert.ok(new Set(g.map((s) => s[0])).size === 1, `one key per lane: ${g}`);
  assert.equal(seen.flat().sort(), ["a1", "a2", "b1", "b2"], "batchSize × lanes taken");
  release.splice(0).forEach((r) => r());
  await until(() => seen.length === 3);
  assert.equal(seen.at(-1), ["a3"], "what waited is the next batch");
  release.splice(0).forEach((r) => r());
  await until(() => bus.settled.length === 5);
  await c.stop();
  assert.is(bus.settled.filter((s) => s.endsWith(":ack")).length, 5);
});

test("stopping: a delivery the pull in flight brings while stopping is nak'd with the stopping delay", async () => {
  const bus = fakeBus();
  const c = await consumeBatches<string>({
    ...common(bus),
    batchSize: 10,
    parse: (d) => dec.decode(d.data),
    handle: async (batch) => ({ outcomes: batch.map(() => ({ kind: "ack" as const })) }),
  });
  // The fake pull answers a tick after it is made: one is in flight whenever this test runs.
  await until(() => bus.fetches.length > 0);
  const stopped = c.stop();
  bus.queue(bus.msg("late"));
  await stopped;
  assert.equal(bus.settled, [`1:nak ${STOPPING_NAK_DELAY_MS}`]);
});

test("concurrent mode: at most `concurrency` handlers; unsettled is acked, a throw naks, settles through helpers", async () => {
  const bus = fakeBus();
  let running = 0;
  let peak = 0;
  for (const body of ["ok", "throw", "term", "ok", "ok"]) bus.queue(bus.msg(body, 2));
  const c = await consumeEach<string>({
    ...common(bus),
    concurrency: 2,
    parse: (d) => dec.decode(d.data),
    handle: async (body, h) => {
      peak = Math.max(peak, ++running);
      await tick();
      running--;
      if (body === "throw") throw new Error("boom");
      if (body === "term") h.term("refused");
    },
  });
  for (let i = 0; i < 40 && bus.settled.length < 5; i++) await tick();
  await c.stop();
  assert.is(peak, 2, "never more than 2 at once");
  assert.ok(bus.fetches.every((n) => n >= 1 && n <= 2), `pulls only for free slots: ${bus.fetches}`);
  assert.equal([...bus.settled].sort(), ["1:ack", "2:nak 200", "3:term refused", "4:ack", "5:ack"]);
});

test("abandon: a delivery whose handler never finishes is nak'd at once, once; the late settlement is ignored (both modes)", async () => {
  const bus = fakeBus();
  let finish!: () => void;
  const never = () => new Promise<void>((r) => (finish = r));
  bus.queue(bus.msg("stuck"));
  const each = await consumeEach<string>({ ...common(bus), concurrency: 1, parse: (d) => dec.decode(d.data), handle: () => never() });
  for (let i = 0; i < 40 && !finish; i++) await tick();
  assert.is(each.abandon(), 1, "one held delivery");
  assert.equal(bus.settled, ["1:nak"], "nak'd with no delay");
  assert.is(each.abandon(), 0, "nothing held any more");
  finish();
  await each.stop();
  assert.equal(bus.settled, ["1:nak"], "the handler finishing later settles nothing");

  let outcome: (() => void) | undefined;
  bus.queue(bus.msg("stuck too"));
  const batches = await consumeBatches<string>({
    ...common(bus),
    batchSize: 10,
    parse: (d) => dec.decode(d.data),
    handle: async (batch) => {
      await new Promise<void>((r) => (outcome = r));
      return { outcomes: batch.map(() => ({ kind: "ack" as const })) };
    },
  });
  await until(() => outcome !== undefined);
  assert.is(batches.abandon(), 1);
  outcome!();
  await batches.stop();
  assert.equal(bus.settled, ["1:nak", "2:nak"], "no ack after the abandon");
});

test("bounded flow: at most `ahead` deliveries wait beside the batch handled; pulled again once fewer than half are left", async () => {
  const bus = fakeBus();
  const release: Array<() => void> = [];
  const seen: number[] = [];
  for (let i = 0; i < 100; i++) bus.queue(bus.msg(`m${i}`));
  const c = await consumeBatches<string>({
    ...common(bus),
    ahead: 30,
    batchSize: 10,
    parse: (d) => dec.decode(d.data),
    handle: async (batch) => {
      seen.push(batch.length);
      await new Promise<void>((r) => release.push(r));
      return { outcomes: batch.map(() => ({ kind: "ack" as const })) };
    },
  });
  const settle = async () => {
    for (let i = 0; i < 4; i++) await tick();
  };
  await settle();
  assert.equal(bus.fetches, [30], "one pull for `ahead`");
  assert.equal(seen, [10], "one batch handled, 20 waiting: more than half, no pull");
  release.shift()!();
  await settle();
  assert.equal(bus.fetches, [30, 20], "the next batch taken leaves 10: pulled up to 30 again");
  assert.equal(seen, [10, 10]);
  for (let round = 0; round < 10 && seen.reduce((a, b) => a + b, 0) < 100; round++) {
    release.splice(0).forEach((r) => r());
    await settle();
  }
  assert.is(seen.reduce((a, b) => a + b, 0), 100, "every delivery handled");
  assert.ok(bus.fetches.every((n) => n >= 10 && n <= 30), `every pull within [batch, ahead]: ${bus.fetches}`);
  release.splice(0).forEach((r) => r());
  await c.stop();
  assert.is(bus.settled.filter((s) => s.endsWith(":ack")).length, 100);
});

test.run();
