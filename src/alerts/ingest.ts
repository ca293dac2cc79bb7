import { createHash } from "node:crypto";
import type { JetStreamClient, PubAck } from "@nats-io/jetstream";
import type { EventPublisher, PubAckBatcher, StreamPublish } from "../nats/events.js";
import type { Logger } from "../log.js";
import type { AlertDedupedData, AlertRejectedData, AlertResolvedData, AlertSuppression, BatchFormat, Subjects } from "../subjects/index.js";
import type { AlertStore, IngestItem, IngestResult } from "./store.js";
import type { DeadLetterFile } from "../util/dead-letter.js";
import { describeStoreError, isRecordError } from "../util/storable.js";
import type { makeAlertNormalizer, Normalized } from "./normalize.js";
import type { NewFiring } from "./suppress.js";

export interface IngestDeps {
  store: AlertStore;
  js: JetStreamClient;
  events: EventPublisher;
  subjects: Subjects;
  normalize: ReturnType<typeof makeAlertNormalizer>;
  now(): Date;
  logger: Logger;
  /** Bytes of a rejected payload copied into its `alert.rejected` event. */
  maxRawBytes: number;
  /** When set, a batch's side effects go out through it (one PubAck wait per batch), else via `js.publish`. */
  acks?: PubAckBatcher;
  /** Where alerts the store refuses for good are set aside (the worker's `<DATA_DIR>/dead-letter/alerts-in.jsonl`). */
  deadLetters?: DeadLetterFile;
  /** Silences, windows, inhibition (suppress.ts): the new firings it holds back are stored suppressed and get no work. */
  suppress?: (firings: NewFiring[]) => Promise<Map<string, AlertSuppression>>;
  /** Maps an entry of a batch message in another format (e.g. Alertmanager's) to an alert payload, as its intake did. */
  mapEntry?: (format: BatchFormat, raw: unknown, now: Date) => MappedEntry;
}

/** A batch entry in a sender's format, mapped: the alert payload, or why it is not one. */
export type MappedEntry = { ok: true; payload: object } | { ok: false; reasons: string[] };

/** One alert as received, on either path. */
export interface IngestInput {
  /** The decoded JSON value, or the reasons it could not be decoded. */
  decoded: { ok: true; value: unknown } | { ok: false; reasons: string[] };
  /** `normalize(decoded)` when the caller already ran it (the worker does, as messages arrive). */
  normalized?: Normalized;
  /** Idempotency key: the stream path uses the stream sequence; the tool path an optional client key. */
  receipt_key?: string;
  subject: string;
  stream_seq?: number;
  raw: Uint8Array | string;
}

export type IngestOutcome =
  | { accepted: true; deduped: boolean; alert_ref: string; occurrences: number; created: boolean; replayed: boolean }
  | { accepted: false; reasons: string[]; /** The store refused it (not the validation): set aside in the dead-letter file. */ dead_lettered?: true };

const enc = new TextEncoder();
const utf8 = new TextDecoder("utf-8", { fatal: true });

function rawForEvent(raw: Uint8Array | string, maxBytes: number): Pick<AlertRejectedData, "raw" | "raw_encoding" | "raw_bytes"> {
  const bytes = typeof raw === "string" ? enc.encode(raw) : raw;
  const kept = bytes.subarray(0, maxBytes);
  try {
    return { raw: utf8.decode(kept), raw_encoding: "utf8", raw_bytes: bytes.length };
  } catch {
    return { raw: Buffer.from(kept).toString("base64"), raw_encoding: "base64", raw_bytes: bytes.length };
  }
}

/** A batch whose alerts are persisted; `publish()` sends its work items and events. */
export interface PersistedBatch {
  outcomes: IngestOutcome[];
  publish(): Promise<void>;
}

/**
 * The one ingest path: validate, dedupe and persist in a single store call, then publish work and
 * events. Throws when the store or JetStream is unavailable; the caller retries (the stream path
 * naks) and receipts make the retry count nothing twice. Side effects carry deterministic
 * Nats-Msg-Ids, so a replay republishes without duplicates.
 */
export async function ingestAlerts(deps: IngestDeps, inputs: IngestInput[]): Promise<IngestOutcome[]> {
  const batch = await persistAlerts(deps, inputs);
  await batch.publish();
  return batch.outcomes;
}

/** The first half of `ingestAlerts`, so a worker can overlap one batch's publishing with the next one's store call. */
export async function persistAlerts(deps: IngestDeps, inputs: IngestInput[]): Promise<PersistedBatch> {
  const outcomes: IngestOutcome[] = new Array(inputs.length);
  const items: IngestItem[] = [];
  const itemIndex: number[] = [];
  const rejected: Array<{ input: IngestInput; reasons: string[] }> = [];

  inputs.forEach((input, i) => {
    const n = input.normalized ?? (input.decoded.ok ? deps.normalize(input.decoded.value) : input.decoded);
    if (!n.ok) {
      outcomes[i] = { accepted: false, reasons: n.reasons };
      rejected.push({ input, reasons: n.reasons });
      return;
    }
    // The normalised item is this input's own (made for it), so it takes the key without a copy.
    const item: IngestItem = n.item;
    if (input.receipt_key) item.receipt_key = input.receipt_key;
    items.push(item);
    itemIndex.push(i);
  });

  const at = deps.now().toISOString();
  const stored = items.length ? await ingestIsolating(deps, items) : [];
  const kept: IngestItem[] = [];
  const results: IngestResult[] = [];
  const refused: Array<{ item: IngestItem; input: IngestInput; reason: string }> = [];
  stored.forEach((r, k) => {
    const i = itemIndex[k]!;
    if ("refused" in r) {
      const reasons = [r.refused];
      outcomes[i] = { accepted: false, reasons, dead_lettered: true };
      rejected.push({ input: inputs[i]!, reasons });
      refused.push({ item: items[k]!, input: inputs[i]!, reason: r.refused });
      return;
    }
    outcomes[i] = { accepted: true, ...r };
    kept.push(items[k]!);
    results.push(r);
  });
  if (refused.length) {
    deps.logger.error({ refused: refused.map((x) => ({ subject: x.input.subject, stream_seq: x.input.stream_seq, reason: x.reason })) }, "alerts refused by the store; dead-lettered and rejected");
    // Written before the batch settles: a file that cannot be written fails the batch (retried).
    await deps.deadLetters?.write(
      refused.map((x) => ({ source: "alerts-in", reason: x.reason, record: { subject: x.input.subject, stream_seq: x.input.stream_seq, receipt_key: x.input.receipt_key, item: x.item } })),
    );
  }
  return { outcomes, publish: () => publishSideEffects(deps, kept, results, rejected, at) };
}

/**
 * One store call for the batch; when the store refuses the data (not when it is unreachable:
 * that throws, and the caller retries the whole batch), the batch is split in halves, in order,
 * until the records it refuses are single ones. Halves already stored are not stored twice when
 * the batch is retried: receipts make ingest idempotent.
 */
async function ingestIsolating(deps: IngestDeps, items: IngestItem[]): Promise<Array<IngestResult | { refused: string }>> {
  try {
    return await deps.store.ingestBatch(items, deps.now());
  } catch (err) {
    if (!isRecordError(err)) throw err;
    if (items.length === 1) return [{ refused: `store refused the alert: ${describeStoreError(err)}` }];
    const mid = items.length >> 1;
    const left = await ingestIsolating(deps, items.slice(0, mid));
    return left.concat(await ingestIsolating(deps, items.slice(mid)));
  }
}

async function publishSideEffects(
  deps: IngestDeps,
  items: IngestItem[],
  results: IngestResult[],
  rejected: Array<{ input: IngestInput; reasons: string[] }>,
  at: string,
): Promise<void> {
  const pending: StreamPublish[] = [];
  const a = deps.subjects.alerts;
  // Duplicates become one `alert.deduped` event per batch listing each alert's new occurrence
  // count: an alert storm must not turn into an event storm.
  const deduped = new Map<string, AlertDedupedData["alerts"][number]>();
  // Evaluated again on a replay (same results): a crash before the status was stored cannot leak work.
  const firings = deps.suppress ? results.flatMap((r, k) => (r.created || r.lifecycle === "refire" ? [{ alert_ref: r.alert_ref, alert: items[k]!.alert }] : [])) : [];
  const held = firings.length ? await deps.suppress!(firings) : undefined;

  results.forEach((r, k) => {
    const alert = items[k]!.alert;
    // Only the result that opened the firing: a duplicate of it later in the batch is counted as one.
    const suppression = r.created || r.lifecycle === "refire" ? held?.get(r.alert_ref) : undefined;
    if (suppression) {
      pending.push(deps.events.prepare("alert.suppressed", { alert_ref: r.alert_ref, fingerprint: alert.fingerprint, service: alert.service, ...suppression }, `suppressed:${r.alert_ref}:${r.occurrences}`));
    } else if (r.created || r.lifecycle === "refire") {
      // A refire is new work on the same alert: its ids carry the occurrence it opened.
      const id = r.created ? r.alert_ref : `${r.alert_ref}:${r.occurrences}`;
      const work = enc.encode(JSON.stringify({ alert_ref: r.alert_ref }));
      pending.push({ subject: a.work(alert.service), data: work, msgID: `work:${id}` });
      pending.push(
        deps.events.prepare(
          "alert.accepted",
          { alert_ref: r.alert_ref, fingerprint: alert.fingerprint, service: alert.service, kind: alert.kind, severity: alert.severity, env: alert.env, title: alert.title, source: alert.source },
          id,
        ),
      );
    } else if (r.lifecycle === "resolved" || r.lifecycle === "unknown") {
      const known = r.lifecycle === "resolved";
      const data: AlertResolvedData = { ...(known ? { alert_ref: r.alert_ref } : {}), fingerprint: alert.fingerprint, service: alert.service, resolved_at: at, reason: "resolve", known };
      pending.push(deps.events.prepare("alert.resolved", data, items[k]!.receipt_key ?? `${alert.fingerprint}:${at}`));
    } else if (r.lifecycle === "refresh" || r.lifecycle === "noop") {
      // A re-send of the same firing, or a resolve of a resolved alert: nothing counted.
    } else {
      // Each alert's entry as the event lists it, made once per alert, not once per duplicate.
      const d = deduped.get(r.alert_ref);
      if (d === undefined) deduped.set(r.alert_ref, { alert_ref: r.alert_ref, count: 1, occurrences: r.occurrences, fingerprint: alert.fingerprint, service: alert.service });
      else {
        d.count += 1;
        d.occurrences = Math.max(d.occurrences, r.occurrences);
      }
    }
  });
  if (deduped.size) {
    const alerts = [...deduped.values()];
    const id = createHash("sha256").update(alerts.map((x) => `${x.alert_ref}:${x.occurrences}`).join(",")).digest("hex").slice(0, 32);
    const data: AlertDedupedData = { count: alerts.reduce((n, x) => n + x.count, 0), alerts };
    pending.push(deps.events.prepare("alert.deduped", data, id));
  }
  for (const { input, reasons } of rejected) {
    const data: AlertRejectedData = {
      subject: input.subject,
      ...(input.stream_seq !== undefined ? { stream_seq: input.stream_seq } : {}),
      reasons,
      ...rawForEvent(input.raw, deps.maxRawBytes),
    };
    pending.push(deps.events.prepare("alert.rejected", data, input.receipt_key));
  }
  if (deps.acks) return deps.acks.publishAll(pending);
  await Promise.all(pending.map((p): Promise<PubAck> => deps.js.publish(p.subject, p.data, p.msgID ? { msgID: p.msgID } : undefined)));
}
