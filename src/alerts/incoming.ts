/**
 * Stream messages → ingest inputs, for the ingest worker. A message on `ops.alerts.in.<service>`
 * is one alert; one on `ops.alerts.batch.<via>` (AlertBatchMessage) expands into one input per
 * entry, receipt `<prefix>:<seq>:<index>`, each validated, deduped and persisted on its own: a bad
 * entry is rejected (`alert.rejected`) and its batch-mates proceed. A batch message settles ack
 * once every entry is settled; only a message unreadable as a whole is terminated.
 */
import { AlertBatchMessage, MAX_ALERTS_PER_BATCH } from "../subjects/index.js";
import { persistAlerts, type IngestDeps, type IngestInput, type PersistedBatch } from "./ingest.js";
import { decodeAlertBytes } from "./normalize.js";
import type { Logger } from "../log.js";

export interface IngestHelpers {
  deps: IngestDeps;
  logger: Logger;
  /** `<stream>@<created>`: with the sequence, a key unique for the stream's lifetime. */
  receiptPrefix: string;
  maxPayloadBytes: number;
}

export interface IncomingAlert {
  subject: string;
  data: Uint8Array;
  stream_seq: number;
  /** Decoded and validated as it arrived: one input, or a batch message's entries. */
  prepared?: IngestInput | IngestInput[];
}

/** How a message settles: ack, or term with the reasons (never for a readable batch message). */
export type MessageSettlement = { kind: "ack" } | { kind: "term"; reason: string };

/** The `<service>` token of an `ops.alerts.in.<service>` subject (everything after the prefix). */
export function subjectServiceOf(subject: string, deps: Pick<IngestDeps, "subjects">): string | undefined {
  const prefix = deps.subjects.alerts.inWildcard.slice(0, -1);
  return subject.startsWith(prefix) ? subject.slice(prefix.length) : undefined;
}

export function isBatchSubject(subject: string, deps: Pick<IngestDeps, "subjects">): boolean {
  return subject.startsWith(deps.subjects.alerts.batchWildcard.slice(0, -1));
}

/** Decodes and validates a single-alert message. */
export function prepareAlert(m: IncomingAlert, helpers: IngestHelpers): IngestInput {
  const decoded = decodeAlertBytes(m.data, helpers.maxPayloadBytes);
  const subjectService = subjectServiceOf(m.subject, helpers.deps);
  return {
    decoded,
    normalized: decoded.ok ? helpers.deps.normalize(decoded.value, subjectService === undefined ? {} : { subjectService }) : decoded,
    receipt_key: `${helpers.receiptPrefix}:${m.stream_seq}`,
    subject: m.subject,
    stream_seq: m.stream_seq,
    raw: m.data,
  };
}

const enc = new TextEncoder();

/**
 * A batch message's entries as inputs; a message that is not a readable AlertBatchMessage is one
 * failing input (rejected, and the message terminated).
 */
export function prepareBatch(m: IncomingAlert, helpers: IngestHelpers): IngestInput | IngestInput[] {
  const base = { subject: m.subject, stream_seq: m.stream_seq };
  const decoded = decodeAlertBytes(m.data, helpers.maxPayloadBytes * MAX_ALERTS_PER_BATCH);
  const parsed = decoded.ok ? AlertBatchMessage.safeParse(decoded.value) : undefined;
  if (!parsed?.success) {
    const reasons = !decoded.ok ? decoded.reasons : (parsed?.error.issues ?? []).slice(0, 20).map((i) => `batch ${i.path.join(".") || "(root)"}: ${i.message}`);
    return { ...base, decoded: { ok: false, reasons }, receipt_key: `${helpers.receiptPrefix}:${m.stream_seq}`, raw: m.data };
  }
  return parsed.data.alerts.map((value, i): IngestInput => {
    const raw = JSON.stringify(value) ?? "null";
    const bytes = enc.encode(raw).length;
    const entry: IngestInput["decoded"] =
      bytes > helpers.maxPayloadBytes ? { ok: false, reasons: [`payload_too_large: entry ${i} is ${bytes} bytes, limit ${helpers.maxPayloadBytes}`] } : { ok: true, value };
    return {
      ...base,
      decoded: entry,
      normalized: entry.ok ? helpers.deps.normalize(entry.value) : entry,
      receipt_key: `${helpers.receiptPrefix}:${m.stream_seq}:${i}`,
      raw,
    };
  });
}

/** Any message of the ingest consumer, prepared. */
export function prepareMessage(m: IncomingAlert, helpers: IngestHelpers): IngestInput | IngestInput[] {
  return isBatchSubject(m.subject, helpers.deps) ? prepareBatch(m, helpers) : prepareAlert(m, helpers);
}

export interface ProcessedMessages extends PersistedBatch {
  /** One per message, in order. */
  settlements: MessageSettlement[];
}

/** The per-batch function, no NATS in sight: persist every message's inputs at once; `publish()` sends the side effects. */
export async function processAlertBatch(batch: IncomingAlert[], helpers: IngestHelpers): Promise<ProcessedMessages> {
  const prepared = batch.map((m) => m.prepared ?? prepareMessage(m, helpers));
  const persisted = await persistAlerts(helpers.deps, prepared.flat());
  let at = 0;
  const settlements = prepared.map((p): MessageSettlement => {
    if (Array.isArray(p)) {
      at += p.length;
      return { kind: "ack" };
    }
    const o = persisted.outcomes[at++]!;
    return o.accepted ? { kind: "ack" } : { kind: "term", reason: o.reasons.join("; ") };
  });
  return { ...persisted, settlements };
}

/**
 * Store lanes for a stream that carries batch messages. A single alert's lane is its fingerprint;
 * a batch message spans many fingerprints, so it goes to the first lane, and so does every single
 * alert whose fingerprint a batch message taken in (and not yet handled) holds: two lanes never
 * touch one fingerprint at once, and single-alert traffic keeps its spread.
 */
export class BatchLanes {
  private readonly held = new Map<string, number>();

  /** Called once per prepared message. */
  hold(p: IngestInput | IngestInput[]): void {
    if (!Array.isArray(p)) return;
    for (const fp of fingerprintsOf(p)) this.held.set(fp, (this.held.get(fp) ?? 0) + 1);
  }

  /** Called once its message has been handled (persisted, or failed). */
  release(p: IngestInput | IngestInput[] | undefined): void {
    if (!Array.isArray(p)) return;
    for (const fp of fingerprintsOf(p)) {
      const n = (this.held.get(fp) ?? 1) - 1;
      if (n > 0) this.held.set(fp, n);
      else this.held.delete(fp);
    }
  }

  keyOf(p: IngestInput | IngestInput[] | undefined): string | undefined {
    if (p === undefined || Array.isArray(p) || !p.normalized?.ok) return undefined;
    const fp = p.normalized.item.alert.fingerprint;
    return this.held.has(fp) ? undefined : fp;
  }
}

function fingerprintsOf(inputs: IngestInput[]): Set<string> {
  const out = new Set<string>();
  for (const i of inputs) if (i.normalized?.ok) out.add(i.normalized.item.alert.fingerprint);
  return out;
}
