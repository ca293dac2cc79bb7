/** The ingest worker's per-batch function, without NATS: a fake JetStream client records publishes. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { JetStreamClient } from "@nats-io/jetstream";
import { AlertRoutingPolicy } from "../../src/config/policies.js";
import { makeAlertNormalizer } from "../../src/alerts/normalize.js";
import { EventPublisher } from "../../src/nats/events.js";
import { MemoryAlertStore } from "../../src/stores/alerts/memory.js";
import { naming, subjects, type AlertDedupedData, type AlertRejectedData, type EventEnvelope, type EventType } from "../../src/subjects/index.js";
import { splitIntoLanes } from "../../src/nats/consumer.js";
import { prepareAlert, processAlertBatch, type IncomingAlert, type IngestHelpers } from "../../src/workers/alerts-in.js";
import { captureLogger } from "../harness/logs.js";

const s = subjects(naming());
const now = () => new Date("2026-11-22T10:00:00Z");

function setup() {
  const published: Array<{ subject: string; body: unknown; msgID?: string }> = [];
  const js = {
    publish: async (subject: string, data: Uint8Array, opts?: { msgID?: string }) => {
      published.push({ subject, body: JSON.parse(new TextDecoder().decode(data)), ...(opts?.msgID ? { msgID: opts.msgID } : {}) });
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

const msg = (seq: number, body: unknown): IncomingAlert => ({
  subject: s.alerts.in("checkout"),
  stream_seq: seq,
  data: new TextEncoder().encode(typeof body === "string" ? body : JSON.stringify(body)),
});
const alert = (fp: string) => ({ service: "checkout", title: `t ${fp}`, kind: "latency", fingerprint: fp });
const events = (p: ReturnType<typeof setup>["published"], type: EventType) =>
  p.filter((x) => x.subject === s.events.of(type)).map((x) => x.body as EventEnvelope);

test("a held-back alert and its duplicates in one batch: one alert.suppressed, no work, the duplicates counted as dedupes", async () => {
  const { published, helpers } = setup();
  helpers.deps.suppress = async (firings) => new Map(firings.filter((f) => f.alert.fingerprint === "held").map((f) => [f.alert_ref, { silenced_by: ["s1"], inhibited_by: [], muted_by: [] }]));
  const persisted = await processAlertBatch([msg(1, alert("held")), msg(2, alert("held")), msg(3, alert("free")), msg(4, alert("held"))], helpers);
  await persisted.publish();
  const suppressed = events(published, "alert.suppressed");
  assert.is(suppressed.length, 1);
  assert.equal(published.filter((x) => x.subject.startsWith(`${s.naming.prefix}.alerts.work.`)).map((x) => (x.body as { alert_ref: string }).alert_ref), [(events(published, "alert.accepted")[0]!.data as { alert_ref: string }).alert_ref]);
  assert.equal((events(published, "alert.deduped")[0]!.data as unknown as AlertDedupedData).alerts.map((a) => [a.fingerprint, a.count, a.occurrences]), [["held", 2, 3]]);
});

test("a batch: work and alert.accepted for new alerts only, one alert.deduped summary, garbage rejected with its raw bytes", async () => {
  const { published, helpers } = setup();
  const batch = [msg(1, alert("a")), msg(2, alert("a")), msg(3, alert("b")), msg(4, "{nope"), msg(5, alert("a"))];
  const persisted = await processAlertBatch(batch, helpers);
  assert.equal(persisted.outcomes.map((o) => (o.accepted ? `${o.deduped}:${o.occurrences}` : "rejected")), ["false:1", "true:2", "false:1", "rejected", "true:3"]);
  assert.is(published.length, 0, "nothing is published before publish()");
  await persisted.publish();
  const work = published.filter((x) => x.subject.startsWith(`${s.naming.prefix}.alerts.work.`));
  assert.is(work.length, 2);
  assert.ok(work.every((w) => w.msgID?.startsWith("work:")), "work items carry a deterministic Nats-Msg-Id");
  assert.is(events(published, "alert.accepted").length, 2);
  const dedup = events(published, "alert.deduped");
  assert.is(dedup.length, 1);
  assert.equal((dedup[0]!.data as unknown as AlertDedupedData).alerts.map((a) => [a.count, a.occurrences]), [[2, 3]]);
  const rejected = events(published, "alert.rejected")[0]!.data as unknown as AlertRejectedData;
  assert.equal([rejected.stream_seq, rejected.raw, rejected.raw_encoding], [4, "{nope", "utf8"]);
});

test("a redelivered batch counts nothing twice and republishes the same Nats-Msg-Ids", async () => {
  const { published, store, helpers } = setup();
  const batch = [msg(1, alert("a")), msg(2, alert("a"))];
  await (await processAlertBatch(batch, helpers)).publish();
  const firstIds = published.map((p) => p.msgID);
  published.length = 0;
  const again = await processAlertBatch(batch, helpers);
  assert.ok(again.outcomes.every((o) => o.accepted && o.replayed));
  await again.publish();
  assert.equal(published.map((p) => p.msgID), firstIds, "replayed side effects are JetStream-deduplicated");
  const [a] = await store.list({ fingerprint: "a" }, now());
  assert.is(a!.occurrences, 2);
});


test("a message prepared as it arrived (the worker's parse) is persisted from that input, not decoded again", async () => {
  const { helpers } = setup();
  const m = msg(9, alert("p"));
  const prepared = prepareAlert(m, helpers);
  const persisted = await processAlertBatch([{ ...m, data: new TextEncoder().encode("{garbage"), prepared }], helpers);
  assert.ok(persisted.outcomes[0]!.accepted, "the prepared input decides, not the bytes");
});

test("splitIntoLanes (the ingest worker's store lanes): disjoint groups by fingerprint, arrival order kept, undecodable with the first", () => {
  const entries = Array.from({ length: 400 }, (_, i) => ({ i, fp: i % 7 === 0 ? undefined : `fp-${i % 40}` }));
  const groups = splitIntoLanes(entries, 2, (e) => e.fp);
  assert.is(groups.length, 2);
  assert.is(groups.flat().length, entries.length);
  const laneOf = new Map<string, number>();
  groups.forEach((g, lane) => {
    for (const e of g) {
      if (e.fp === undefined) continue;
      assert.is(laneOf.get(e.fp) ?? lane, lane, `${e.fp} in one lane only`);
      laneOf.set(e.fp, lane);
    }
    assert.equal(g.map((e) => e.i), [...g.map((e) => e.i)].sort((a, b) => a - b), "arrival order kept");
  });
  assert.ok(groups[0]!.some((e) => e.fp === undefined) && !groups[1]!.some((e) => e.fp === undefined));
  // Both lanes carry a real share of 40 fingerprints.
  for (const g of groups) assert.ok(new Set(g.map((e) => e.fp)).size >= 10, `lane has ${new Set(g.map((e) => e.fp)).size} fingerprints`);
  assert.equal(splitIntoLanes(entries, 1, (e) => e.fp), [entries]);
  assert.equal(splitIntoLanes([], 2, () => "x"), []);
});

test.run();
