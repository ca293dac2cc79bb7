/** A batch the Alertmanager API encodes once is the same JetStream message, id included, as one encoded from its alerts. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { JetStreamClient } from "@nats-io/jetstream";
import { batchMessageId, publishAlertBatch, publishEncodedBatch } from "../../src/alerts/batch.js";
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

test("publishEncodedBatch sends publishAlertBatch's bytes and message id", async () => {
  for (const caller of ["prometheus", undefined]) {
    const batch: AlertBatchMessage = { v: 1, via: "alertmanager", received_at: "2026-12-03T10:00:00.000Z", ...(caller ? { caller } : {}), alerts };
    const a = fakeJs();
    const b = fakeJs();
    await publishAlertBatch(a.js, s, batch);
    const { alerts: list, ...envelope } = batch;
    await publishEncodedBatch(b.js, s, { envelope, alertsJson: JSON.stringify(list), count: list.length });
    assert.equal(b.sent, a.sent);
    assert.is(a.sent[0]!.msgID, batchMessageId(batch));
    assert.equal(AlertBatchMessage.parse(JSON.parse(b.sent[0]!.body)), batch);
  }
});

test("publishEncodedBatch refuses an envelope or a count the batch schema refuses", async () => {
  const { js, sent } = fakeJs();
  const envelope = { v: 1 as const, via: "alertmanager", received_at: "2026-12-03T10:00:00.000Z" };
  const refused = async (p: Promise<unknown>) => p.then(() => false, () => true);
  assert.ok(await refused(publishEncodedBatch(js, s, { envelope, alertsJson: "[]", count: 0 })), "no alerts");
  assert.ok(await refused(publishEncodedBatch(js, s, { envelope: { ...envelope, via: "" }, alertsJson: "[{}]", count: 1 })), "an empty via");
  assert.is(sent.length, 0);
});

test.run();
