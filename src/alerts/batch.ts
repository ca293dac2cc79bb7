/**
 * Publishing a batch from an HTTP intake: one JetStream message per request, answered only once
 * the stream has it (PubAck). The message id is a hash of what the sender sent, so a sender that
 * retries a request it saw time out is stored once.
 */
import { createHash } from "node:crypto";
import type { JetStreamClient } from "@nats-io/jetstream";
import { AlertBatchMessage, MAX_ALERTS_PER_BATCH, type Subjects } from "../subjects/index.js";

export interface PublishedBatch {
  stream_seq: number;
  /** JetStream had this message id already (a retried request): nothing new was stored. */
  duplicate: boolean;
}

/** A batch whose alerts are already JSON text (`JSON.stringify(alerts)`), encoded once by the intake. */
export interface EncodedBatch {
  envelope: Omit<AlertBatchMessage, "alerts">;
  /** `JSON.stringify` of the alerts array. */
  alertsJson: string;
  count: number;
}

const Envelope = AlertBatchMessage.omit({ alerts: true });

function idOf(via: string, caller: string | undefined, alertsJson: string): string {
  const h = createHash("sha256").update(caller ?? "").update("\n").update(alertsJson);
  return `${via}:${h.digest("hex")}`;
}

/** `<via>:<sha256 of the caller and the alerts>` */
export function batchMessageId(batch: Pick<AlertBatchMessage, "via" | "caller" | "alerts">): string {
  return idOf(batch.via, batch.caller, JSON.stringify(batch.alerts));
}

/** Throws when JetStream does not take it in `timeoutMs` (the intake then answers 503). */
export async function publishAlertBatch(js: JetStreamClient, subjects: Subjects, batch: AlertBatchMessage, timeoutMs = 5000): Promise<PublishedBatch> {
  const { alerts, ...envelope } = AlertBatchMessage.parse(batch);
  return publishEncodedBatch(js, subjects, { envelope, alertsJson: JSON.stringify(alerts), count: alerts.length }, timeoutMs);
}

/**
 * The same message as `publishAlertBatch`, byte for byte, from alerts already encoded: a
 * 256-alert request is serialised once for its size check, its id and its body, not three times.
 */
export async function publishEncodedBatch(js: JetStreamClient, subjects: Subjects, batch: EncodedBatch, timeoutMs = 5000): Promise<PublishedBatch> {
  if (batch.count < 1 || batch.count > MAX_ALERTS_PER_BATCH) throw new Error(`a batch holds 1..${MAX_ALERTS_PER_BATCH} alerts, not ${batch.count}`);
  const envelope = Envelope.parse(batch.envelope);
  // JSON.stringify of the parsed message puts `alerts` last, after the envelope's fields.
  const head = JSON.stringify(envelope);
  const body = `${head.slice(0, -1)}${head.length > 2 ? "," : ""}"alerts":${batch.alertsJson}}`;
  const ack = await js.publish(subjects.alerts.batch(envelope.via), body, { msgID: idOf(envelope.via, envelope.caller, batch.alertsJson), timeout: timeoutMs });
  return { stream_seq: ack.seq, duplicate: ack.duplicate };
}
