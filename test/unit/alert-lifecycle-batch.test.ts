/** Batch messages (ops.alerts.batch.<via>) expanded by the ingest worker's per-batch function, without NATS. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { JetStreamClient } from "@nats-io/jetstream";
import { AlertRoutingPolicy } from "../../src/config/policies.js";
import { makeAlertNormalizer } from "../../src/alerts/normalize.js";
import { BatchLanes, prepareMessage, processAlertBatch, type IncomingAlert, type IngestHelpers } from "../../src/alerts/incoming.js";
import { EventPublisher } from "../../src/nats/events.js";
import { MemoryAlertStore } from "../../src/stores/alerts/memory.js";
import { naming, subjects, type AlertRejectedData, type EventEnvelope } from "../../src/subjects/index.js";
import { captureLogger } from "../harness/logs.js";

const s = subjects(naming());
const now = () => new Date("2026-11-22T10:00:00Z");

function setup() {
  const published: Array<{ subject: string; body: unknown }> = [];
  const js = {
    publish: async (subject: string, data: Uint8Array) => {
      published.push({ subject, body: JSON.parse(new TextDecoder().decode(data)) });
      return { stream: "X", seq: published.length, duplicate: false };
    },
  } as unknown as JetStreamClient;
  const store = new MemoryAlertStore();
  const logger = captureLogger().logger;
  const helpers: IngestHelpers = {
    deps: { store, js, events: new EventPublisher(js, s, "n1", now), subjects: s, normalize: makeAlertNormalizer(AlertRoutingPolicy.parse({}), now), now, logger, maxRawBytes: 1024 },
    logger,
    receiptPrefix: "OPS_ALERTS@1",
    maxPayloadBytes: 4096,
  };
  return { published, store, helpers };
}

const enc = (v: unknown) => new TextEncoder().encode(typeof v === "string" ? v : JSON.stringify(v));
// Neither the Alertmanager intake's nor PagerDuty's: there an alert without a start (any PagerDuty trigger) joins the active firing instead of counting.
const batchMsg = (seq: number, alerts: unknown[]): IncomingAlert => ({
  subject: s.alerts.batch("custom"),
  stream_seq: seq,
  data: enc({ v: 1, via: "custom", received_at: "2026-11-22T10:00:00Z", alerts }),
});
const single = (seq: number, body: unknown): IncomingAlert => ({ subject: s.alerts.in("checkout"), stream_seq: seq, data: enc(body) });
const alert = (fp: string) => ({ service: "checkout", title: `t ${fp}`, kind: "latency", fingerprint: fp });
const rejected = (p: ReturnType<typeof setup>["published"]) =>
  p.filter((x) => x.subject === s.events.of("alert.rejected")).map((x) => (x.body as EventEnvelope).data as unknown as AlertRejectedData);

test("a batch message: every entry persisted on its own, bad entries rejected, the message acked; redelivery stores nothing twice", async () => {
  const { published, store, helpers } = setup();
  const entries = [alert("a"), { service: "checkout" }, alert("b"), "not an object", alert("a")];
  const m = batchMsg(7, entries);
  const first = await processAlertBatch([m, single(8, alert("c"))], helpers);
  await first.publish();
  assert.equal(first.settlements, [{ kind: "ack" }, { kind: "ack" }]);
  assert.equal(first.outcomes.map((o) => o.accepted), [true, false, true, false, true, true]);
  const bad = rejected(published);
  assert.is(bad.length, 2);
  assert.equal(bad.map((r) => r.stream_seq), [7, 7]);
  assert.ok(bad[1]!.raw.includes("not an object"));
  const again = await processAlertBatch([batchMsg(7, entries)], helpers);
  assert.ok(again.outcomes.filter((o) => o.accepted).every((o) => o.accepted && o.replayed));
  const [a] = await store.list({ fingerprint: "a" }, now());
  assert.is(a!.occurrences, 2);
});

test("an unreadable batch message is terminated with one alert.rejected", async () => {
  const { published, helpers } = setup();
  const bad = [{ ...batchMsg(3, []), data: enc("{nope") }, batchMsg(4, [])];
  const r = await processAlertBatch(bad, helpers);
  await r.publish();
  assert.equal(r.settlements.map((x) => x.kind), ["term", "term"]);
  assert.is(rejected(published).length, 2);
});

test("lanes: a batch goes first; a single alert on a fingerprint a held batch touches joins it until the batch is handled", () => {
  const { helpers } = setup();
  const lanes = new BatchLanes();
  const b = prepareMessage(batchMsg(1, [alert("x"), alert("y")]), helpers);
  const sx = prepareMessage(single(2, alert("x")), helpers);
  const sz = prepareMessage(single(3, alert("z")), helpers);
  lanes.hold(b);
  assert.is(lanes.keyOf(b), undefined);
  assert.is(lanes.keyOf(sx), undefined);
  assert.is(lanes.keyOf(sz), "z");
  lanes.release(b);
  assert.is(lanes.keyOf(sx), "x");
});

test.run();
