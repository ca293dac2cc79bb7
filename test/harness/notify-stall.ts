/**
 * What a notification test prints when deliveries stall: where each missing notification is (no
 * sent-log record: never planned, and whether its incident event is in the stream at all; pending,
 * claimed by whom until when; or settled), the planner's and the notifier's consumer counts, and
 * the warnings and errors the processes logged. Enough to tell a lost delivery from a retry
 * backoff or a claim waiting out, without rerunning.
 */
import { DeliverPolicy, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import type { NotificationRecord } from "../../src/notify/types.js";
import { openKvSentLog } from "../../src/stores/notify/kv.js";
import type { EventType, Subjects } from "../../src/subjects/index.js";

const dec = new TextDecoder();
const SHOWN = 10;

async function consumerLine(jsm: JetStreamManager, stream: string, consumer: string): Promise<string> {
  try {
    const c = await jsm.consumers.info(stream, consumer);
    return `${consumer}: pending ${c.num_pending}, ack_pending ${c.num_ack_pending}, redelivered ${c.num_redelivered}, waiting pulls ${c.num_waiting}, ` +
      `delivered seq ${c.delivered.stream_seq}, ack floor ${c.ack_floor.stream_seq}`;
  } catch (err) {
    return `${consumer}: info failed: ${(err as Error).message}`;
  }
}

/** The incident ids with an event of `type` in the events stream. */
async function incidentsWithEvent(js: JetStreamClient, s: Subjects, type: EventType): Promise<Set<string>> {
  const ids = new Set<string>();
  const consumer = await js.consumers.get(s.events.stream, { filter_subjects: s.events.of(type), deliver_policy: DeliverPolicy.All });
  for (;;) {
    let got = 0;
    let done = false;
    for await (const m of await consumer.fetch({ max_messages: 1000, expires: 2000 })) {
      got++;
      const id = (JSON.parse(dec.decode(m.data)) as { data?: { incident_id?: string } }).data?.incident_id;
      if (id) ids.add(id);
      if (m.info.pending === 0) done = true;
    }
    if (done || got === 0) break;
  }
  await consumer.delete().catch(() => undefined);
  return ids;
}

function describe(r: NotificationRecord | undefined, now: number): string {
  if (!r) return "no sent-log record (never planned)";
  const last = r.attempts.at(-1);
  const claim = r.sending_by ? `, claimed by ${r.sending_by} for ${Math.round((Date.parse(r.sending_until!) - now) / 1000)} s more` : "";
  const tried = last ? `, ${r.attempts.length} attempt(s), last ${last.outcome}${last.status ? ` HTTP ${last.status}` : ""}${last.error ? `: ${last.error}` : ""}` : ", never tried";
  return `${r.status}, planned ${Math.round((now - Date.parse(r.created_at)) / 1000)} s ago${tried}${claim}`;
}

/** Warnings and errors from JSON log output (pino levels 40+), the last `n` of them. */
export function logProblems(output: string, n = 15): string[] {
  return output
    .split("\n")
    .filter((l) => /"level":(4|5|6)\d/.test(l))
    .slice(-n)
    .map((l) => l.slice(0, 400));
}

export interface StallInput {
  js: JetStreamClient;
  jsm: JetStreamManager;
  subjects: Subjects;
  /** Each receiver's expected keys and the keys it got. */
  receivers: Array<{ name: string; expected: readonly string[]; got: readonly string[] }>;
  /** Process name → its output. */
  processes: Array<{ name: string; output: string }>;
  /** Incident event type whose absence means the moment could never be planned, e.g. `incident.created`. */
  eventType: EventType;
}

export async function notifyStallReport(i: StallInput): Promise<string> {
  const now = Date.now();
  const s = i.subjects;
  const out = [
    await consumerLine(i.jsm, s.events.stream, s.notify.plannerConsumer),
    await consumerLine(i.jsm, s.notify.stream, s.notify.consumer),
  ];
  const sentLog = await openKvSentLog({ js: i.js, jsm: i.jsm, bucket: s.notify.sentLogBucket, replicas: 1 });
  const withEvent = await incidentsWithEvent(i.js, s, i.eventType).catch(() => undefined);
  for (const r of i.receivers) {
    const got = new Set(r.got);
    const missing = r.expected.filter((k) => !got.has(k));
    out.push(`${r.name}: ${got.size} of ${r.expected.length} received; missing ${missing.length}${missing.length > SHOWN ? ` (first ${SHOWN})` : ""}:`);
    for (const key of missing.slice(0, SHOWN)) {
      const rec = (await sentLog.get(key).catch(() => null))?.record;
      const incident = key.slice(0, key.indexOf("."));
      const event = withEvent === undefined ? "" : withEvent.has(incident) ? "" : ` — no ${i.eventType} event in ${s.events.stream}`;
      out.push(`  ${key}: ${describe(rec, now)}${event}`);
    }
  }
  for (const p of i.processes) {
    const problems = logProblems(p.output);
    if (problems.length) out.push(`${p.name} warnings/errors (last ${problems.length}):`, ...problems.map((l) => `  ${l}`));
  }
  return out.join("\n");
}
