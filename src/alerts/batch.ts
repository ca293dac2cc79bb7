/**
 * Publishing a batch from an HTTP intake: one JetStream message per request, answered only once
 * the stream has it (PubAck). The message id is a hash of what the sender sent, so a sender that
 * retries a request it saw time out is stored once.
 */
import { createHash } from "node:crypto";
import type { JetStreamClient } from "@nats-io/jetstream";
import { AlertBatchMessage, type Subjects } from "../subjects/index.js";

export interface PublishedBatch {
  stream_seq: number;
  /** JetStream had this message id already (a retried request): nothing new was stored. */
  duplicate: boolean;
}

/** `<via>:<sha256 of the caller and the alerts>` */
export function batchMessageId(batch: Pick<AlertBatchMessage, "via" | "caller" | "alerts">): string {
  const h = createHash("sha256").update(batch.caller ?? "").update("\n").update(JSON.stringify(batch.alerts));
  return `${batch.via}:${h.digest("hex")}`;
}

/** Throws when JetStream does not take it in `timeoutMs` (the intake then answers 503). */
export async function publishAlertBatch(js: JetStreamClient, subjects: Subjects, batch: AlertBatchMessage, timeoutMs = 5000): Promise<PublishedBatch> {
  const message = AlertBatchMessage.parse(batch);
  const ack = await js.publish(subjects.alerts.batch(message.via), JSON.stringify(message), { msgID: batchMessageId(message), timeout: timeoutMs });
  return { stream_seq: ack.seq, duplicate: ack.duplicate };
}
