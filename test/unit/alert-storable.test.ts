/**
 * Storable by construction for alerts (issue 11, finding 2): text no store can keep is refused at
 * the edge with its field; a store batch that still fails on one record is split so that record is
 * rejected and dead-lettered while its batch-mates are stored; an unreachable store still throws
 * (the worker naks and retries the whole batch).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { JetStreamClient } from "@nats-io/jetstream";
import { AlertRoutingPolicy } from "../../src/config/policies.js";
import { makeAlertNormalizer } from "../../src/alerts/normalize.js";
import { EventPublisher } from "../../src/nats/events.js";
import { MemoryAlertStore } from "../../src/stores/alerts/memory.js";
import type { IngestItem, IngestResult } from "../../src/alerts/store.js";
import { DeadLetterFile } from "../../src/util/dead-letter.js";
import { naming, subjects, type AlertRejectedData, type EventEnvelope } from "../../src/subjects/index.js";
import { processAlertBatch, type IncomingAlert, type IngestHelpers } from "../../src/workers/alerts-in.js";
import { captureLogger } from "../harness/logs.js";

const s = subjects(naming());
const now = () => new Date("2026-11-22T10:00:00Z");
const normalize = makeAlertNormalizer(AlertRoutingPolicy.parse({}), now);
const base = { service: "p", title: "t", kind: "latency" };
const dirs: string[] = [];
test.after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

test("NUL and lone surrogates are refused in every text field, label and meta key or value, naming the field", () => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ ...base, message: "\u0000" }, /^message: contains a NUL/],
    [{ ...base, title: "t\ud800" }, /^title: contains a lone UTF-16 surrogate/],
    [{ ...base, source: "\udfffx" }, /^source: .*surrogate/],
    [{ ...base, fingerprint: "fp\u0000" }, /^fingerprint: .*NUL/],
    [{ ...base, labels: { region: "eu\u0000" } }, /^labels\.region: .*NUL/],
    [{ ...base, labels: { "k\ud800": "v" } }, /^labels: key .*surrogate/],
    [{ ...base, extra: { deep: ["ok", "x\u0000"] } }, /^meta\.extra\.deep\.1: .*NUL/],
    [{ ...base, "we\u0000ird": 1 }, /^meta: key .*NUL/],
  ];
  for (const [raw, reason] of cases) {
    const n = normalize(raw);
    assert.not.ok(n.ok, JSON.stringify(raw));
    if (!n.ok) assert.match(n.reasons.join("; "), reason);
  }
  // Well-formed text, emoji and pairs included, passes.
  assert.ok(normalize({ ...base, message: "fine 😀 𝕏", labels: { k: "é" } }).ok);
});

test("a body service that disagrees with the subject's token is refused; agreeing ones (dots as _) pass", () => {
  const refused = normalize({ ...base, service: "billing" }, { subjectService: "checkout" });
  assert.not.ok(refused.ok);
  if (!refused.ok) assert.match(refused.reasons[0]!, /service: "billing" disagrees with the subject's service token "checkout"/);
  assert.ok(normalize({ ...base, service: "checkout" }, { subjectService: "checkout" }).ok);
  assert.ok(normalize({ ...base, service: "api.v2" }, { subjectService: "api_v2" }).ok);
  assert.ok(normalize({ ...base, service: "api.v2" }, { subjectService: "api.v2" }).ok);
  assert.ok(normalize({ ...base, service: "anything" }).ok, "the tool path has no subject to agree with");
});

/** A memory store that refuses (22P05, as Postgres) any batch holding an alert titled "poison", or is down. */
class PickyAlertStore extends MemoryAlertStore {
  calls = 0;
  down = false;
  override ingestBatch(items: IngestItem[], at: Date): Promise<IngestResult[]> {
    this.calls++;
    if (this.down) return Promise.reject(Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" }));
    if (items.some((i) => i.alert.title.startsWith("poison"))) {
      return Promise.reject(Object.assign(new Error("unsupported Unicode escape sequence"), { code: "22P05" }));
    }
    return super.ingestBatch(items, at);
  }
}

function setup() {
  const dir = mkdtempSync(join(tmpdir(), "opsbus-alert-dl-"));
  dirs.push(dir);
  const published: Array<{ subject: string; body: unknown }> = [];
  const js = {
    publish: async (subject: string, data: Uint8Array) => {
      published.push({ subject, body: JSON.parse(new TextDecoder().decode(data)) });
      return { stream: "X", seq: published.length, duplicate: false };
    },
  } as unknown as JetStreamClient;
  const store = new PickyAlertStore();
  const logger = captureLogger().logger;
  const deadLetters = new DeadLetterFile(join(dir, "dead-letter", "alerts-in.jsonl"));
  const helpers: IngestHelpers = {
    deps: { store, js, events: new EventPublisher(js, s, "n1", now), subjects: s, normalize, now, logger, maxRawBytes: 1024, deadLetters },
    logger,
    receiptPrefix: "OPS_ALERTS@1",
    maxPayloadBytes: 4096,
  };
  return { published, store, helpers, deadLetters };
}

const msg = (seq: number, title: string): IncomingAlert => ({
  subject: s.alerts.in("p"),
  stream_seq: seq,
  data: new TextEncoder().encode(JSON.stringify({ ...base, title })),
});

test("a record the store refuses is isolated: rejected with the store's reason, dead-lettered, batch-mates stored", async () => {
  const { published, store, helpers, deadLetters } = setup();
  const batch = Array.from({ length: 32 }, (_, i) => msg(i + 1, i === 19 ? "poison" : `ok ${i}`));
  const persisted = await processAlertBatch(batch, helpers);
  await persisted.publish();
  const outcomes = persisted.outcomes;
  assert.equal(outcomes.filter((o) => o.accepted).length, 31);
  const bad = outcomes[19]!;
  assert.ok(!bad.accepted && bad.dead_lettered && /^store refused the alert: 22P05 /.test(bad.reasons[0]!), JSON.stringify(bad));
  assert.ok(store.calls <= 2 * 5 + 2, `isolated in ${store.calls} store calls`);
  const rejected = published.filter((p) => p.subject === s.events.of("alert.rejected")).map((p) => (p.body as EventEnvelope).data as unknown as AlertRejectedData);
  assert.equal(rejected.map((r) => r.stream_seq), [20]);
  assert.is(published.filter((p) => p.subject === s.events.of("alert.accepted")).length, 31);
  const letters = readFileSync(deadLetters.path, "utf8").trim().split("\n").map((l) => JSON.parse(l));
  assert.equal(letters.map((l) => [l.source, l.record.stream_seq, l.record.item.alert.title]), [["alerts-in", 20, "poison"]]);
});

test("an unreachable store throws for the whole batch (retried), nothing dead-lettered", async () => {
  const { store, helpers, deadLetters } = setup();
  store.down = true;
  const err = await processAlertBatch([msg(1, "ok"), msg(2, "poison")], helpers).catch((e: Error) => e);
  assert.instance(err, Error);
  assert.match((err as Error).message, /ECONNREFUSED/);
  assert.is(store.calls, 1);
  assert.is(deadLetters.count(), 0);
});

test.run();
