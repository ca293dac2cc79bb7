/**
 * The sent-log in a JetStream KV bucket (`<STREAMPREFIX>_NOTIFY_LOG`): one key per notification
 * (`<incident>.<moment>.<receiver>`, so one incident's records are a key filter away), the record
 * as JSON, replicated like the streams, kept `NOTIFY_LOG_TTL_DAYS` after its last write. Writes are
 * compare-and-set on the key's revision. Listing recent records reads the bucket's stream from a
 * start time with an ordered consumer, so it costs what changed in the window, not the whole log.
 */
import { DeliverPolicy, JetStreamApiCodes, JetStreamApiError, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { Kvm, type KV, type KvEntry } from "@nats-io/kv";
import { SentLogConflict, type SentLog, type SentLogQuery, type StoredNotification } from "../../notify/sent-log.js";
import type { NotificationRecord } from "../../notify/types.js";
import { byMoment, matchesQuery, sinceOf } from "./query.js";

export const NOTIFY_LOG_TTL_DAYS = 30;
const HISTORY = 5;
const dec = new TextDecoder();

export interface KvSentLogOptions {
  js: JetStreamClient;
  jsm: JetStreamManager;
  bucket: string;
  replicas: number;
}

const isWrongSequence = (err: unknown) =>
  err instanceof JetStreamApiError && (err.code === JetStreamApiCodes.StreamWrongLastSequence || err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown);

function recordOf(data: Uint8Array): NotificationRecord | null {
  try {
    const r = JSON.parse(dec.decode(data)) as NotificationRecord;
    return r && typeof r.key === "string" && typeof r.status === "string" && Array.isArray(r.attempts) ? r : null;
  } catch {
    return null;
  }
}

/** Creates the bucket if missing (like the streams at start-up). */
export async function openKvSentLog(o: KvSentLogOptions): Promise<KvSentLog> {
  const kv = await new Kvm(o.js).create(o.bucket, {
    history: HISTORY,
    replicas: o.replicas,
    ttl: NOTIFY_LOG_TTL_DAYS * 86_400_000,
    description: "opsbus notification sent-log: one key per notification (incident.moment.receiver)",
  });
  return new KvSentLog(kv, o.js, `KV_${o.bucket}`, `$KV.${o.bucket}.`);
}

export class KvSentLog implements SentLog {
  readonly backendName = "KvSentLog";

  constructor(
    private readonly kv: KV,
    private readonly js: JetStreamClient,
    private readonly stream: string,
    private readonly subjectPrefix: string,
  ) {}

  async get(key: string): Promise<StoredNotification | null> {
    const e = await this.kv.get(key);
    return e ? stored(e) : null;
  }

  async put(record: NotificationRecord, expectRevision: number): Promise<number> {
    const data = JSON.stringify(record);
    try {
      return expectRevision === 0 ? await this.kv.create(record.key, data) : await this.kv.update(record.key, data, expectRevision);
    } catch (err) {
      if (isWrongSequence(err)) throw new SentLogConflict(record.key);
      throw err;
    }
  }

  async ofIncident(incidentId: string): Promise<NotificationRecord[]> {
    const keys: string[] = [];
    for await (const k of await this.kv.keys(`${incidentId}.>`)) keys.push(k);
    const got = await Promise.all(keys.map((k) => this.get(k)));
    return got.flatMap((s) => (s ? [s.record] : [])).sort(byMoment);
  }

  async list(q: SentLogQuery): Promise<NotificationRecord[]> {
    const records = q.incident_id ? await this.ofIncident(q.incident_id) : await this.changedSince(sinceOf(q)!);
    return records
      .filter((r) => matchesQuery(r, q))
      .sort((a, b) => b.updated_at.localeCompare(a.updated_at))
      .slice(0, q.limit);
  }

  /** The latest record of every key written since `since`, from the bucket's stream. */
  private async changedSince(since: string): Promise<NotificationRecord[]> {
    const latest = new Map<string, NotificationRecord>();
    const info = await (await this.js.streams.get(this.stream)).info();
    // Nothing written since then: an ordered consumer would only wait out its fetch.
    if (info.state.messages === 0 || info.state.last_ts < since) return [];
    const consumer = await this.js.consumers.get(this.stream, {
      filter_subjects: `${this.subjectPrefix}>`,
      deliver_policy: DeliverPolicy.StartTime,
      opt_start_time: since,
    });
    for (;;) {
      const batch = await consumer.fetch({ max_messages: 1000, expires: 1000 });
      let got = 0;
      let done = false;
      for await (const m of batch) {
        got++;
        const r = m.data.length ? recordOf(m.data) : null;
        const key = m.subject.slice(this.subjectPrefix.length);
        if (r) latest.set(key, r);
        else latest.delete(key);
        if (m.info.pending === 0) done = true;
      }
      if (done || got === 0) break;
    }
    await consumer.delete().catch(() => undefined);
    return [...latest.values()];
  }

  async close(): Promise<void> {}
}

function stored(e: KvEntry): StoredNotification | null {
  if (e.operation !== "PUT") return null;
  const record = recordOf(e.value);
  return record ? { record, revision: e.revision } : null;
}
