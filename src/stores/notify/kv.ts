/**
 * The sent-log in a JetStream KV bucket (`<STREAMPREFIX>_NOTIFY_LOG`): one key per notification
 * (`<incident>.<moment>.<receiver>`), the record as JSON, replicated like the streams, kept
 * `NOTIFY_LOG_TTL_DAYS` after its last write. Writes are compare-and-set on the key's revision.
 * Each incident (and each alert group, under its `grp-…` id) also has an index entry under its bare
 * id (a key of one token, so never a notification's): the keys recorded for it, appended when a
 * record is created. A notifier reads
 * an incident's records with direct gets through it, on every send of a later moment, where a key
 * listing would create and delete a consumer on the server each time. Listing recent records reads
 * the bucket's stream from a start time with an ordered consumer: what changed in the window.
 */
import { DeliverPolicy, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { Kvm, type KV, type KvEntry } from "@nats-io/kv";
import { SentLogConflict, type SentLog, type SentLogQuery, type StoredNotification } from "../../notify/sent-log.js";
import type { NotificationRecord } from "../../notify/types.js";
import { byMoment, matchesQuery, sinceOf } from "./query.js";
import { isWrongSequence } from "../../nats/kv-errors.js";

export const NOTIFY_LOG_TTL_DAYS = 30;
const HISTORY = 5;
const dec = new TextDecoder();

export interface KvSentLogOptions {
  js: JetStreamClient;
  jsm: JetStreamManager;
  bucket: string;
  replicas: number;
}

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
    if (expectRevision !== 0) return this.written(record.key, this.kv.update(record.key, data, expectRevision));
    // A new record and its index entry at once: an entry whose record is not there yet (or never
    // came, the writer killed) is skipped by ofIncident. A create that finds the record (a replay:
    // the planner died before acking its event) still indexes it, which puts right a crash
    // between the two.
    const [created, indexed] = await Promise.allSettled([this.written(record.key, this.kv.create(record.key, data)), this.index(indexIdOf(record), record.key)]);
    if (created.status === "rejected") throw created.reason;
    if (indexed.status === "rejected") throw indexed.reason;
    return created.value;
  }

  /** A write's revision, or `SentLogConflict` when the key was not at the expected revision. */
  private async written(key: string, write: Promise<number>): Promise<number> {
    try {
      return await write;
    } catch (err) {
      throw isWrongSequence(err) ? new SentLogConflict(key) : err;
    }
  }

  /** Appends `key` to its incident's index (compare-and-set; racing planners retry). */
  private async index(incidentId: string, key: string): Promise<void> {
    for (let attempt = 0; attempt < 20; attempt++) {
      const e = await this.kv.get(incidentId);
      const held = e && e.operation === "PUT" ? indexOf(e.value) : null;
      if (held?.keys.includes(key)) return;
      const next = JSON.stringify({ keys: [...(held?.keys ?? []), key] });
      try {
        if (held && e) await this.kv.update(incidentId, next, e.revision);
        else await this.kv.create(incidentId, next);
        return;
      } catch (err) {
        if (!isWrongSequence(err)) throw err;
      }
    }
    throw new Error(`sent-log index of ${incidentId}: too many concurrent writers`);
  }

  ofIncident(incidentId: string): Promise<NotificationRecord[]> {
    return this.indexed(incidentId);
  }

  ofGroup(groupId: string): Promise<NotificationRecord[]> {
    return this.indexed(groupId);
  }

  /** The records an index entry names (an incident's or a group's). */
  private async indexed(id: string): Promise<NotificationRecord[]> {
    const e = await this.kv.get(id);
    const keys = (e && e.operation === "PUT" ? indexOf(e.value) : null)?.keys ?? [];
    const got = await Promise.all(keys.map((k) => this.get(k)));
    return got.flatMap((s) => (s ? [s.record] : [])).sort(byMoment);
  }

  async list(q: SentLogQuery): Promise<NotificationRecord[]> {
    const one = q.incident_id ?? q.group_id;
    const records = one ? await this.indexed(one) : await this.changedSince(sinceOf(q)!);
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

/** The index a record is listed under: its incident's id, or its alert group's. */
function indexIdOf(r: NotificationRecord): string {
  const id = r.incident_id ?? r.group?.id;
  if (!id) throw new Error(`notification ${r.key} names neither an incident nor an alert group`);
  return id;
}

function indexOf(data: Uint8Array): { keys: string[] } | null {
  try {
    const v = JSON.parse(dec.decode(data)) as { keys?: unknown };
    return Array.isArray(v.keys) && v.keys.every((k) => typeof k === "string") ? { keys: v.keys as string[] } : null;
  } catch {
    return null;
  }
}

function stored(e: KvEntry): StoredNotification | null {
  if (e.operation !== "PUT") return null;
  const record = recordOf(e.value);
  return record ? { record, revision: e.revision } : null;
}
