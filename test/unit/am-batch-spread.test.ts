/**
 * Batch messages (what the Alertmanager API publishes) through the ingest worker's per-batch
 * function: their alerts are stored in bounded store calls over disjoint fingerprint shares, every
 * fingerprint's alerts in order, each alert once, and a redelivery stores nothing twice. The
 * messages come from a sender whose every firing counts (not Alertmanager's, whose firings of a
 * label set merge): the counts show the order.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { JetStreamClient } from "@nats-io/jetstream";
import { makeAlertNormalizer } from "../../src/alerts/normalize.js";
import { BatchLanes, MAX_ALERTS_PER_STORE_CALL, prepareAlert } from "../../src/alerts/incoming.js";
import type { IngestItem } from "../../src/alerts/store.js";
import { AlertRoutingPolicy } from "../../src/config/policies.js";
import { EventPublisher } from "../../src/nats/events.js";
import { MemoryAlertStore } from "../../src/stores/alerts/memory.js";
import { naming, subjects } from "../../src/subjects/index.js";
import { processAlertBatch, type IncomingAlert, type IngestHelpers } from "../../src/workers/alerts-in.js";
import { captureLogger } from "../harness/logs.js";

const s = subjects(naming());
const now = () => new Date("2026-12-03T10:00:00Z");

function setup(storeLanes: number) {
  const published: string[] = [];
  const js = {
    publish: async (subject: string, _data: Uint8Array, opts?: { msgID?: string }) => {
      published.push(opts?.msgID ?? subject);
      return { stream: "X", seq: published.length, duplicate: false };
    },
  } as unknown as JetStreamClient;
  const store = new MemoryAlertStore();
  const calls: IngestItem[][] = [];
  const ingest = store.ingestBatch.bind(store);
  store.ingestBatch = (items, at) => {
    calls.push(items);
    return ingest(items, at);
  };
  const logger = captureLogger().logger;
  const helpers: IngestHelpers = {
    deps: { store, js, events: new EventPublisher(js, s, "n1", now), subjects: s, normalize: makeAlertNormalizer(AlertRoutingPolicy.parse({}), now), now, logger, maxRawBytes: 1024 },
    logger,
    receiptPrefix: "OPS_ALERTS@1",
    maxPayloadBytes: 4096,
    storeLanes,
  };
  return { published, store, calls, helpers };
}

/** A batch message of `n` firings over `sets` fingerprints, each firing its own starts_at (a count). */
function batchMessage(seq: number, n: number, sets: number): IncomingAlert {
  const alerts = Array.from({ length: n }, (_, i) => ({
    service: "checkout",
    title: `t ${i % sets}`,
    kind: "latency",
    fingerprint: `fp-${i % sets}`,
    starts_at: new Date(Date.parse("2026-12-03T09:00:00Z") + seq * 10_000 + i).toISOString(),
  }));
  const body = { v: 1, via: "monitor", received_at: now().toISOString(), alerts };
  return { subject: s.alerts.batch("monitor"), stream_seq: seq, data: new TextEncoder().encode(JSON.stringify(body)) };
}

test("alerts of batch messages go to the store in calls of bounded size, over disjoint fingerprint shares", async () => {
  const { calls, store, helpers } = setup(2);
  const batch = [batchMessage(1, 1000, 300), batchMessage(2, 1000, 300), batchMessage(3, 500, 300)];
  const persisted = await processAlertBatch(batch, helpers);
  assert.equal(persisted.settlements, [{ kind: "ack" }, { kind: "ack" }, { kind: "ack" }]);
  assert.is(persisted.outcomes.length, 2500);
  assert.ok(persisted.outcomes.every((o) => o.accepted && !o.replayed));
  assert.ok(calls.length > 2, `${calls.length} store calls`);
  assert.ok(calls.every((c) => c.length <= MAX_ALERTS_PER_STORE_CALL), "no call over the bound");
  assert.is(calls.reduce((n, c) => n + c.length, 0), 2500, "every alert stored once");
  // Each fingerprint's alerts counted in order: occurrence k of a fingerprint is its k-th firing.
  const seen = new Map<string, number>();
  persisted.outcomes.forEach((o, i) => {
    const fp = `fp-${(i % (i < 2000 ? 1000 : 500)) % 300}`;
    const k = (seen.get(fp) ?? 0) + 1;
    seen.set(fp, k);
    assert.is(o.accepted && o.occurrences, k, `alert ${i} (${fp})`);
  });
  const [one] = await store.list({ fingerprint: "fp-0" }, now());
  assert.is(one!.occurrences, seen.get("fp-0"));
});

test("a redelivered batch message stores nothing twice and republishes the same message ids", async () => {
  const { calls, store, published, helpers } = setup(2);
  const batch = [batchMessage(7, 1000, 400), batchMessage(8, 600, 400)];
  await (await processAlertBatch(batch, helpers)).publish();
  const first = [...published].sort();
  published.length = 0;
  calls.length = 0;
  const again = await processAlertBatch(batch, helpers);
  assert.ok(again.outcomes.every((o) => o.accepted && o.replayed), "every alert replays its receipt");
  await again.publish();
  assert.equal([...published].sort(), first, "the same side effects, JetStream-deduplicated by id");
  const [a] = await store.list({ fingerprint: "fp-3" }, now());
  assert.is(a!.occurrences, 5, "fp-3: entries 3, 403, 803 of message 7 and 3, 403 of message 8");
});

test("one share failing fails the batch only after the other share's call finished", async () => {
  const { store, helpers } = setup(2);
  let inFlight = 0;
  let failure: unknown;
  let failedWhileInFlight = false;
  const ingest = store.ingestBatch.bind(store);
  store.ingestBatch = async (items, at) => {
    inFlight++;
    try {
      await new Promise((r) => setTimeout(r, items.some((i) => i.alert.fingerprint === "fp-0") ? 0 : 20));
      if (items.some((i) => i.alert.fingerprint === "fp-0")) throw new Error("store down");
      return await ingest(items, at);
    } finally {
      inFlight--;
    }
  };
  await processAlertBatch([batchMessage(1, 200, 50)], helpers).catch((err: unknown) => {
    failure = err;
    failedWhileInFlight = inFlight > 0;
  });
  assert.is((failure as Error | undefined)?.message, "store down");
  assert.is(failedWhileInFlight, false);
});

test("the next window is prepared while the one before waits on the store, and windows are stored one after another", async () => {
  const { store, helpers } = setup(1);
  let normalized = 0;
  const normalize = helpers.deps.normalize;
  helpers.deps.normalize = (raw, opts) => (normalized++, normalize(raw, opts));
  const ingest = store.ingestBatch.bind(store);
  let inFlight = 0;
  let mostInFlight = 0;
  const preparedWhileStoring: number[] = [];
  store.ingestBatch = async (items, at) => {
    mostInFlight = Math.max(mostInFlight, ++inFlight);
    // A slow store: what the worker prepares meanwhile is what it overlapped with the wait.
    await new Promise((r) => setTimeout(r, 20));
    preparedWhileStoring.push(normalized);
    try {
      return await ingest(items, at);
    } finally {
      inFlight--;
    }
  };
  // Windows of two messages (MAX_ALERTS_PER_STORE_CALL alerts with one lane), three of them.
  const n = MAX_ALERTS_PER_STORE_CALL;
  const persisted = await processAlertBatch(Array.from({ length: 6 }, (_, i) => batchMessage(i + 1, n / 2, 300)), helpers);
  assert.is(persisted.outcomes.length, 3 * n);
  assert.is(mostInFlight, 1, "one store call at a time with one lane");
  assert.equal(preparedWhileStoring, [2 * n, 3 * n, 3 * n], "window k+1 prepared during window k's store call");
});

test("lanes: while a batch message is taken in unread, every single alert joins the first lane", () => {
  const { helpers } = setup(2);
  const lanes = new BatchLanes();
  const single = prepareAlert({ subject: s.alerts.in("checkout"), stream_seq: 9, data: new TextEncoder().encode(JSON.stringify({ service: "checkout", title: "t", fingerprint: "z" })) }, helpers);
  assert.is(lanes.keyOf(single), "z");
  lanes.holdUnread();
  lanes.holdUnread();
  assert.is(lanes.keyOf(single), undefined);
  lanes.releaseUnread();
  assert.is(lanes.keyOf(single), undefined, "one is still unread");
  lanes.releaseUnread();
  assert.is(lanes.keyOf(single), "z");
});

test.run();
