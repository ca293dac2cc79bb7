/**
 * Stream messages → ingest inputs, for the ingest worker. A message on `ops.alerts.in.<service>`
 * is one alert; one on `ops.alerts.batch.<via>` (AlertBatchMessage) expands into one input per
 * entry, receipt `<prefix>:<seq>:<index>`, each validated, deduped and persisted on its own: a bad
 * entry is rejected (`alert.rejected`) and its batch-mates proceed. A batch message settles ack
 * once every entry is settled; only a message unreadable as a whole is terminated.
 */
import { ALERTMANAGER_VIA, AlertBatchMessage, MAX_ALERTS_PER_BATCH, PAGERDUTY_VIA, type BatchFormat } from "../subjects/index.js";
import type { NormalizeOptions } from "./normalize.js";
import { persistAlerts, type IngestDeps, type IngestInput, type IngestOutcome, type MappedEntry, type PersistedBatch } from "./ingest.js";
import { jsonBytesOver } from "./json-size.js";
import { decodeAlertBytes, type Normalized } from "./normalize.js";
import type { Logger } from "../log.js";

export interface IngestHelpers {
  deps: IngestDeps;
  logger: Logger;
  /** `<stream>@<created>`: with the sequence, a key unique for the stream's lifetime. */
  receiptPrefix: string;
  maxPayloadBytes: number;
  /** Store calls at once for the alerts of batch messages, each on a disjoint share of fingerprints (default 1). */
  storeLanes?: number;
}

/**
 * At most this many alerts per store call when batch messages are expanded: a worker that fell
 * behind takes hundreds of 256-alert messages at once, and one transaction over all of them holds
 * every row lock and its whole plan in memory until it commits.
 */
export const MAX_ALERTS_PER_STORE_CALL = 1024;

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
  const prefix = `${helpers.receiptPrefix}:${m.stream_seq}:`;
  const { format, received_at, via } = parsed.data;
  const receivedAt = new Date(received_at);
  const map = format === undefined ? undefined : entryMapper(format, receivedAt, helpers);
  // An entry without a start starts when its intake received it. An Alertmanager or PagerDuty one
  // joins the active firing whatever its start; an Alertmanager one also merges late news of a
  // firing into it; a PagerDuty trigger fires until resolved.
  const options: NormalizeOptions =
    via === ALERTMANAGER_VIA
      ? { receivedAt, joinsFiring: true, mergesOverlap: true }
      : via === PAGERDUTY_VIA
        ? { receivedAt, joinsFiring: true, openEnded: true }
        : { receivedAt };
  return parsed.data.alerts.map((value, i): IngestInput => {
    const mapped = map ? map(value) : { ok: true as const, payload: value };
    const bytes = mapped.ok ? jsonBytesOver(mapped.payload, helpers.maxPayloadBytes) : undefined;
    const entry: IngestInput["decoded"] = !mapped.ok
      ? mapped
      : bytes !== undefined
        ? { ok: false, reasons: [`payload_too_large: entry ${i} is ${bytes} bytes, limit ${helpers.maxPayloadBytes}`] }
        : { ok: true, value: mapped.payload };
    return new BatchEntry(m.subject, m.stream_seq, entry, entry.ok ? helpers.deps.normalize(entry.value, options) : entry, prefix + i, value);
  });
}

/** A batch format's entries → alert payloads, mapped as the intake that wrote them checked them (at its `received_at`). */
function entryMapper(format: BatchFormat, receivedAt: Date, helpers: IngestHelpers): (raw: unknown) => MappedEntry {
  const mapEntry = helpers.deps.mapEntry;
  if (!mapEntry) return () => ({ ok: false, reasons: [`batch format ${format}: this worker has no mapping for it`] });
  return (raw) => mapEntry(format, raw, receivedAt);
}

/** A batch message's entry as an ingest input (a class: one shape, and `raw` shared on the prototype). */
class BatchEntry implements IngestInput {
  constructor(
    readonly subject: string,
    readonly stream_seq: number,
    readonly decoded: IngestInput["decoded"],
    readonly normalized: Normalized,
    readonly receipt_key: string,
    private readonly value: unknown,
  ) {}

  /** Only a rejected entry's event shows it: encoded again then, not held by every waiting entry. */
  get raw(): string {
    return JSON.stringify(this.value) ?? "null";
  }
}

/** Any message of the ingest consumer, prepared. */
export function prepareMessage(m: IncomingAlert, helpers: IngestHelpers): IngestInput | IngestInput[] {
  return isBatchSubject(m.subject, helpers.deps) ? prepareBatch(m, helpers) : prepareAlert(m, helpers);
}

export interface ProcessedMessages extends PersistedBatch {
  /** One per message, in order. */
  settlements: MessageSettlement[];
}

const settlementOf = (o: IngestOutcome): MessageSettlement => (o.accepted ? { kind: "ack" } : { kind: "term", reason: o.reasons.join("; ") });

/** A message that expands into entries (its inputs prepared or not yet). */
function isBatchMessage(m: IncomingAlert, helpers: IngestHelpers): boolean {
  return m.prepared === undefined ? isBatchSubject(m.subject, helpers.deps) : Array.isArray(m.prepared);
}

/**
 * The per-batch function, no NATS in sight: persist every message's inputs; `publish()` sends the
 * side effects (or, for batch messages, waits for those already sent). Single alerts are
 * persisted in one store call (they come in lanes of their own, the consumer's). Batch messages
 * are prepared here, a window of whole messages (about MAX_ALERTS_PER_STORE_CALL per store lane)
 * at a time: each window is persisted over its fingerprint shares and its side effects are sent
 * while the next one is prepared, so a worker that took hundreds of them holds two windows'
 * inputs, not all of them. Side effects still go out in message order, and nothing is acked before all of
 * them are acknowledged.
 */
export async function processAlertBatch(batch: IncomingAlert[], helpers: IngestHelpers): Promise<ProcessedMessages> {
  if (!batch.some((m) => isBatchMessage(m, helpers))) {
    const inputs = batch.map((m) => (m.prepared as IngestInput | undefined) ?? prepareAlert(m, helpers));
    const persisted = await persistAlerts(helpers.deps, inputs);
    return { ...persisted, settlements: persisted.outcomes.map(settlementOf) };
  }
  const windowAlerts = MAX_ALERTS_PER_STORE_CALL * Math.max(1, helpers.storeLanes ?? 1);
  const outcomes: IngestOutcome[] = [];
  const settlements: MessageSettlement[] = [];
  const sent: Array<Promise<void>> = [];
  // Windows persist one after another; the next one is prepared (parsed, mapped, normalised: CPU)
  // while the one before waits on the store, so neither waits for the other.
  let persisting: Promise<void> = Promise.resolve();
  const flush = async (window: Array<IngestInput | IngestInput[]>) => {
    const persisted = await persistSpread(helpers, window.flat());
    // Sent now (in order, after the previous window's), awaited by publish(); a failure fails the batch there.
    const sending = persisted.publish();
    sending.catch(() => undefined);
    sent.push(sending);
    let at = outcomes.length;
    outcomes.push(...persisted.outcomes);
    for (const p of window) {
      settlements.push(Array.isArray(p) ? { kind: "ack" } : settlementOf(outcomes[at]!));
      at += Array.isArray(p) ? p.length : 1;
    }
  };
  let window: Array<IngestInput | IngestInput[]> = [];
  let size = 0;
  for (const m of batch) {
    const p = m.prepared ?? prepareMessage(m, helpers);
    window.push(p);
    size += Array.isArray(p) ? p.length : 1;
    if (size < windowAlerts) continue;
    // At most one window persisting and one prepared.
    await persisting;
    persisting = flush(window);
    // Awaited before anything else starts; a failure stops the loop there.
    persisting.catch(() => undefined);
    window = [];
    size = 0;
  }
  await persisting;
  if (window.length) await flush(window);
  return {
    outcomes,
    settlements,
    async publish() {
      await Promise.all(sent);
    },
  };
}

/** A small stable hash of a fingerprint, for its share. */
function shareOf(input: IngestInput, shares: number): number {
  if (shares === 1 || !input.normalized?.ok) return 0;
  const fp = input.normalized.item.alert.fingerprint;
  let h = 0;
  for (let i = 0; i < fp.length; i++) h = (Math.imul(h, 31) + fp.charCodeAt(i)) | 0;
  return (h >>> 0) % shares;
}

/**
 * Inputs in shares of disjoint fingerprints persisted at once (`storeLanes`), each share in store
 * calls of at most MAX_ALERTS_PER_STORE_CALL, in order: the alerts of one fingerprint keep their
 * order, and so do their side effects (sent share by share, call by call).
 */
async function persistSpread(helpers: IngestHelpers, inputs: IngestInput[]): Promise<PersistedBatch> {
  const lanes = Math.max(1, helpers.storeLanes ?? 1);
  const shares: number[][] = Array.from({ length: lanes }, () => []);
  inputs.forEach((input, i) => shares[shareOf(input, lanes)]!.push(i));
  const outcomes: IngestOutcome[] = new Array(inputs.length);
  const runs = await Promise.allSettled(
    shares.map(async (share) => {
      const calls: PersistedBatch[] = [];
      for (let from = 0; from < share.length; from += MAX_ALERTS_PER_STORE_CALL) {
        const at = share.slice(from, from + MAX_ALERTS_PER_STORE_CALL);
        const call = await persistAlerts(helpers.deps, at.map((i) => inputs[i]!));
        at.forEach((i, k) => (outcomes[i] = call.outcomes[k]!));
        calls.push(call);
      }
      return calls;
    }),
  );
  // Nothing is still in flight when the batch fails: the redelivery does not race a lane.
  const failed = runs.find((r) => r.status === "rejected");
  if (failed) throw failed.reason;
  const calls = runs.map((r) => (r as PromiseFulfilledResult<PersistedBatch[]>).value);
  return {
    outcomes,
    // Each call's side effects are sent as publish() starts them, so in share and call order.
    async publish() {
      await Promise.all(calls.flat().map((call) => call.publish()));
    },
  };
}

/**
 * Store lanes for a stream that carries batch messages. A single alert's lane is its fingerprint;
 * a batch message spans many fingerprints, so it goes to the first lane, and so does every single
 * alert whose fingerprint a batch message taken in (and not yet handled) holds: two lanes never
 * touch one fingerprint at once, and single-alert traffic keeps its spread. A batch message taken
 * in unread (the worker reads its entries only when it handles it) sends every alert to the first
 * lane until it is handled; there they are spread over the store lanes by fingerprint anyway.
 */
export class BatchLanes {
  private readonly held = new Map<string, number>();
  /** Batch messages taken in whose entries are not read yet: their fingerprints are unknown. */
  private unread = 0;

  /** A batch message taken in unprepared (its entries are read when handled): until it is, every alert joins it. */
  holdUnread(): void {
    this.unread++;
  }

  releaseUnread(): void {
    if (this.unread > 0) this.unread--;
  }

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
    if (this.unread > 0 || p === undefined || Array.isArray(p) || !p.normalized?.ok) return undefined;
    const fp = p.normalized.item.alert.fingerprint;
    return this.held.has(fp) ? undefined : fp;
  }
}

function fingerprintsOf(inputs: IngestInput[]): Set<string> {
  const out = new Set<string>();
  for (const i of inputs) if (i.normalized?.ok) out.add(i.normalized.item.alert.fingerprint);
  return out;
}
