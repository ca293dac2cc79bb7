/** A batch the Alertmanager API writes from its entries' JSON is the same JetStream message, id included, as one encoded from its alerts. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { JetStreamClient } from "@nats-io/jetstream";
import { batchMessageId, encodeBatch, publishAlertBatch, publishBatchBytes } from "../../src/alerts/batch.js";
import { AlertBatchMessage, naming, subjects } from "../../src/subjects/index.js";

const s = subjects(naming());

function fakeJs() {
  const sent: Array<{ subject: string; body: string; msgID?: string }> = [];
  const js = {
    publish: async (subject: string, data: string | Uint8Array, opts?: { msgID?: string }) => {
      sent.push({ subject, body: typeof data === "string" ? data : new TextDecoder().decode(data), ...(opts?.msgID ? { msgID: opts.msgID } : {}) });
      return { stream: "X", seq: sent.length, duplicate: false };
    },
  } as unknown as JetStreamClient;
  return { js, sent };
}

const alerts = [{ service: "checkout", title: "é \u2028 \"q\"", labels: { a: "1" } }, { service: "db", title: "x", n: 1e21 }];

test("encodeBatch writes the bytes of JSON.stringify(message), and the id publishAlertBatch sends", async () => {
  for (const caller of ["prometheus", undefined]) {
    const batch: AlertBatchMessage = { v: 1, via: "alertmanager", received_at: "2026-12-03T10:00:00.000Z", ...(caller ? { caller } : {}), alerts };
    const a = fakeJs();
    const b = fakeJs();
    await publishAlertBatch(a.js, s, batch);
    const { alerts: list, ...envelope } = batch;
    const message = encodeBatch(s, { envelope, entries: list.map((x) => JSON.stringify(x)) });
    assert.equal([...message.body], [...new TextEncoder().encode(JSON.stringify(batch))]);
    assert.is(message.alertsBytes, Buffer.byteLength(JSON.stringify(list)));
    await publishBatchBytes(b.js, message);
    assert.equal(b.sent, a.sent);
    assert.is(a.sent[0]!.msgID, batchMessageId(batch));
    assert.equal(AlertBatchMessage.parse(JSON.parse(b.sent[0]!.body)), batch);
  }
});

test("encodeBatch refuses an envelope or a count the batch schema refuses", () => {
  const envelope = { v: 1 as const, via: "alertmanager", received_at: "2026-12-03T10:00:00.000Z" };
  assert.throws(() => encodeBatch(s, { envelope, entries: [] }), /alerts, not 0/, "no alerts");
  assert.throws(() => encodeBatch(s, { envelope: { ...envelope, via: "" }, entries: ["{}"] }), undefined, "an empty via");
});

test.run();
