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

/** A batch whose alerts are already JSON text, each encoded once by the intake. */
export interface EncodedBatch {
  envelope: Omit<AlertBatchMessage, "alerts">;
  /** `JSON.stringify` of each alert, in order. */
  entries: readonly string[];
}

/** A batch message as the bytes JetStream gets, with its message id. */
export interface BatchMessageBytes {
  subject: string;
  body: Uint8Array;
  msgID: string;
  /** UTF-8 bytes of the alerts array alone (`[...]`). */
  alertsBytes: number;
}

const Envelope = AlertBatchMessage.omit({ alerts: true });
const COMMA = 0x2c;
const CLOSE_ARRAY = 0x5d;
const CLOSE_OBJECT = 0x7d;

/** `salt`: what else the stored alerts depend on (the receipt time, for alerts that end or start from it). */
function idOf(via: string, caller: string | undefined, alerts: string | Uint8Array, salt = ""): string {
  const h = createHash("sha256").update(caller ?? "").update("\n").update(alerts);
  if (salt) h.update("\n").update(salt);
  return `${via}:${h.digest("hex")}`;
}

/** `<via>:<sha256 of the caller and the alerts>` */
export function batchMessageId(batch: Pick<AlertBatchMessage, "via" | "caller" | "alerts">): string {
  return idOf(batch.via, batch.caller, JSON.stringify(batch.alerts));
}

/**
 * The message `JSON.stringify(batch)` makes (envelope fields, then `alerts`), written once as
 * UTF-8 from the entries' JSON: no joined string, no second encoding for the id or the socket.
 */
export function encodeBatch(subjects: Subjects, batch: EncodedBatch, idSalt = ""): BatchMessageBytes {
  const n = batch.entries.length;
  if (n < 1 || n > MAX_ALERTS_PER_BATCH) throw new Error(`a batch holds 1..${MAX_ALERTS_PER_BATCH} alerts, not ${n}`);
  const envelope = Envelope.parse(batch.envelope);
  // JSON.stringify of the parsed message puts `alerts` last, after the envelope's fields.
  const head = JSON.stringify(envelope);
  const prefix = `${head.slice(0, -1)}${head.length > 2 ? "," : ""}"alerts":[`;
  let units = prefix.length + n + 1;
  for (const e of batch.entries) units += e.length;
  // At most 3 UTF-8 bytes per UTF-16 unit.
  const buf = Buffer.allocUnsafe(3 * units);
  let at = buf.write(prefix, 0);
  const alertsFrom = at - 1;
  for (let i = 0; i < n; i++) {
    if (i > 0) buf[at++] = COMMA;
    at += buf.write(batch.entries[i]!, at);
  }
  buf[at++] = CLOSE_ARRAY;
  const alerts = buf.subarray(alertsFrom, at);
  buf[at++] = CLOSE_OBJECT;
  return { subject: subjects.alerts.batch(envelope.via), body: buf.subarray(0, at), msgID: idOf(envelope.via, envelope.caller, alerts, idSalt), alertsBytes: alerts.length };
}

/**
 * The message for a request's own alerts array, as the sender's bytes (`envelope.format` says
 * whose shape): no entry is parsed or written again, and the id hashes what the sender sent. The
 * caller has checked that `alertsJson` is valid UTF-8 holding one JSON array of 1..1000 alerts.
 */
export function encodeRawBatch(subjects: Subjects, envelope: Omit<AlertBatchMessage, "alerts">, alertsJson: Uint8Array, idSalt = ""): BatchMessageBytes {
  const checked = Envelope.parse(envelope);
  const head = JSON.stringify(checked);
  const prefix = Buffer.from(`${head.slice(0, -1)}${head.length > 2 ? "," : ""}"alerts":`);
  const body = Buffer.allocUnsafe(prefix.length + alertsJson.length + 1);
  prefix.copy(body, 0);
  body.set(alertsJson, prefix.length);
  body[body.length - 1] = CLOSE_OBJECT;
  return { subject: subjects.alerts.batch(checked.via), body, msgID: idOf(checked.via, checked.caller, alertsJson, idSalt), alertsBytes: alertsJson.length };
}

/** Throws when JetStream does not take it in `timeoutMs` (the intake then answers 503). */
export async function publishAlertBatch(js: JetStreamClient, subjects: Subjects, batch: AlertBatchMessage, timeoutMs = 5000): Promise<PublishedBatch> {
  const { alerts, ...envelope } = AlertBatchMessage.parse(batch);
  return publishBatchBytes(js, encodeBatch(subjects, { envelope, entries: alerts.map((a) => JSON.stringify(a) ?? "null") }), timeoutMs);
}

/** An encoded batch message to JetStream, answered once the stream has it (PubAck). */
export async function publishBatchBytes(js: JetStreamClient, message: BatchMessageBytes, timeoutMs = 5000): Promise<PublishedBatch> {
  const ack = await js.publish(message.subject, message.body, { msgID: message.msgID, timeout: timeoutMs });
  return { stream_seq: ack.seq, duplicate: ack.duplicate };
}
