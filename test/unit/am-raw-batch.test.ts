/**
 * A POST whose alerts are all valid goes to JetStream as the sender's own bytes (`format:
 * alertmanager-v2`), and the ingest worker maps them there: it must store exactly what the mapped
 * form of the same request stores (same items, defaults taken at the receipt time), and a retried
 * request must keep its message id. Invalid UTF-8 or an invalid alert falls back to the mapped form.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { encodeBatch, encodeRawBatch } from "../../src/alerts/batch.js";
import { makeAmMapper } from "../../src/alerts/am-mapping.js";
import { prepareBatch, type IngestHelpers } from "../../src/alerts/incoming.js";
import type { IngestInput } from "../../src/alerts/ingest.js";
import { makeAlertNormalizer } from "../../src/alerts/normalize.js";
import { loadPolicies } from "../../src/config/load.js";
import { batchSalt, makeAlertChecker } from "../../src/http/alertmanager/post.js";
import { naming, subjects } from "../../src/subjects/index.js";
import { captureLogger } from "../harness/logs.js";

const s = subjects(naming());
const policies = loadPolicies("config");
const receivedAt = new Date("2026-12-03T10:00:00.000Z");
const map = makeAmMapper(policies.intake.alertmanager, policies.alertRouting.alerts);
const check = makeAlertChecker({ policies });

function helpers(withMapping = true): IngestHelpers {
  const logger = captureLogger().logger;
  const later = () => new Date(receivedAt.getTime() + 90_000); // the worker runs later than the intake
  return {
    deps: {
      store: undefined as never, js: undefined as never, events: undefined as never, subjects: s, logger, maxRawBytes: 1024, now: later,
      normalize: makeAlertNormalizer(policies.alertRouting, later),
      ...(withMapping ? { mapEntry: (_format, raw, at) => map(raw, at) } : {}),
    },
    logger,
    receiptPrefix: "OPS_ALERTS@1",
    maxPayloadBytes: policies.alertRouting.alerts.max_payload_bytes,
  };
}

const envelope = { v: 1 as const, via: "alertmanager", received_at: receivedAt.toISOString(), caller: "prometheus" };
const sent = [
  // No startsAt: now (the receipt time); Go's zero endsAt: unset.
  { labels: { alertname: "Down", service: "checkout", severity: "critical" }, annotations: { summary: "checkout is down" }, endsAt: "0001-01-01T00:00:00Z" },
  // Resolved: its endsAt is past at the receipt time.
  { labels: { alertname: "Slow", job: "api", env: "production" }, startsAt: "2026-12-03T09:00:00+01:00", endsAt: "2026-12-03T09:59:59Z", generatorURL: "http://prom/graph" },
  // Firing until an endsAt between the receipt and the worker's clock: firing, as the intake saw it.
  { labels: { alertname: "Blip", instance: "a:9100", empty: "" }, startsAt: "2026-12-03T09:59:00.000Z", endsAt: "2026-12-03T10:01:00.000Z" },
  { labels: { alertname: "Text", note: "é \u2028 \"q\" \\" }, annotations: { description: "x".repeat(300) } },
];

const items = (inputs: IngestInput | IngestInput[]) =>
  (Array.isArray(inputs) ? inputs : [inputs]).map((i) => (i.normalized?.ok ? { ok: true, key: i.receipt_key, item: i.normalized.item } : { ok: false, key: i.receipt_key, normalized: i.normalized }));

test("the sender's bytes, mapped by the worker, store what the mapped message stores", () => {
  const { valid, reasons } = check(sent, receivedAt);
  assert.equal(reasons, []);
  const body = Buffer.from(JSON.stringify(sent, null, 1)); // a sender's own spacing stays as it was
  const raw = encodeRawBatch(s, { ...envelope, format: "alertmanager-v2" }, body);
  const mapped = encodeBatch(s, { envelope, entries: valid.map((v) => JSON.stringify(v)) });
  const fromRaw = items(prepareBatch({ subject: raw.subject, data: raw.body, stream_seq: 7 }, helpers()));
  const fromMapped = items(prepareBatch({ subject: mapped.subject, data: mapped.body, stream_seq: 7 }, helpers()));
  assert.is(fromRaw.length, 4);
  assert.ok(fromRaw.every((i) => i.ok), JSON.stringify(fromRaw));
  assert.equal(fromRaw, fromMapped);
  const resolves = fromRaw.map((i) => (i as { item: { resolve?: true } }).item.resolve === true);
  assert.equal(resolves, [false, true, false, false], "resolved as of the receipt time, not the worker's");
  const starts = fromRaw.map((i) => (i as { item: { alert: { starts_at: string } } }).item.alert.starts_at);
  assert.is(starts[0], receivedAt.toISOString(), "no startsAt: the receipt time");
  assert.is(raw.alertsBytes, body.length);
  assert.match(new TextDecoder().decode(raw.body), /^\{"v":1,"via":"alertmanager","received_at":"2026-12-03T10:00:00.000Z","caller":"prometheus","format":"alertmanager-v2","alerts":\[/);
});

test("a retried request keeps its id; a request whose alerts end (or start) from the receipt time is another message at another time", () => {
  const body = Buffer.from(JSON.stringify(sent));
  const at = (iso: string, salt: string) => encodeRawBatch(s, { ...envelope, received_at: iso, format: "alertmanager-v2" }, body, salt).msgID;
  assert.is(at("2026-12-03T10:00:00.000Z", ""), at("2026-12-03T10:00:05.000Z", ""));
  assert.is.not(at("2026-12-03T10:00:00.000Z", "2026-12-03T10:00:00.000Z"), at("2026-12-03T10:00:05.000Z", "2026-12-03T10:00:05.000Z"));
  assert.ok(check(sent, receivedAt).receiptTimed, "the first alert has no startsAt and no endsAt");
  assert.not.ok(check(sent.slice(1, 3), receivedAt).receiptTimed, "both have an endsAt");
  assert.ok(check(sent.slice(3), receivedAt).receiptTimed, "no endsAt: it ends resolve_timeout after the receipt");
  const noEnd = [{ labels: { alertname: "Manual" }, startsAt: "2026-12-03T09:00:00.000Z" }];
  assert.ok(check(noEnd, receivedAt).receiptTimed, "an explicit start without endsAt: sent again later, it refreshes the alert");
  // A start that happens to be the receipt's very millisecond is the sender's own: a retry must keep its id.
  const startsNow = [{ labels: { alertname: "Edge" }, startsAt: receivedAt.toISOString(), endsAt: "2026-12-03T11:00:00.000Z" }];
  assert.not.ok(check(startsNow, receivedAt).receiptTimed, "an explicit startsAt equal to the receipt time");
});

test("the same bytes sent while the alert fires and again once its endsAt passed (vmalert's resolve) are two messages; a retry of either keeps its id", () => {
  // vmalert: a firing send names endsAt = evaluation + 4 intervals; the resolve four evaluations later names that same instant.
  const alert = [{ labels: { alertname: "QueueBacklog", service: "payments" }, startsAt: "2026-12-03T09:59:00.000Z", endsAt: "2026-12-03T10:00:04.000Z" }];
  const body = Buffer.from(JSON.stringify(alert));
  const idAt = (at: Date) => {
    const checked = check(alert, at);
    return encodeRawBatch(s, { ...envelope, received_at: at.toISOString(), format: "alertmanager-v2" }, body, batchSalt(checked, at.toISOString())).msgID;
  };
  const firing = new Date("2026-12-03T10:00:00.000Z");
  const resolvedAt = new Date("2026-12-03T10:00:04.010Z");
  assert.equal(check(alert, firing).resolved, []);
  assert.equal(check(alert, resolvedAt).resolved, [0]);
  assert.is.not(idAt(firing), idAt(resolvedAt), "the resolve is not a retry of the firing send");
  assert.is(idAt(firing), idAt(new Date("2026-12-03T10:00:02.000Z")), "a retry while it still fires");
  assert.is(idAt(resolvedAt), idAt(new Date("2026-12-03T10:00:09.000Z")), "a retry of the resolve");
});

test("the mapped form (a batch with invalid alerts) takes the same salt", () => {
  const entries = [JSON.stringify({ title: "x" })];
  const id = (salt: string) => encodeBatch(s, { envelope, entries }, salt).msgID;
  assert.is(id(""), encodeBatch(s, { envelope: { ...envelope, received_at: "2026-12-03T10:00:05.000Z" }, entries }).msgID, "no salt: the receipt time is not in the id");
  assert.is.not(id(""), id(envelope.received_at));
});

test("a worker without the mapping rejects each entry with the reason, keeping it for inspection", () => {
  const raw = encodeRawBatch(s, { ...envelope, format: "alertmanager-v2" }, Buffer.from(JSON.stringify(sent.slice(0, 1))));
  const inputs = prepareBatch({ subject: raw.subject, data: raw.body, stream_seq: 8 }, helpers(false)) as IngestInput[];
  assert.is(inputs.length, 1);
  assert.equal(inputs[0]!.decoded, { ok: false, reasons: ["batch format alertmanager-v2: this worker has no mapping for it"] });
  assert.equal(JSON.parse(inputs[0]!.raw as string), sent[0]);
});

test.run();
