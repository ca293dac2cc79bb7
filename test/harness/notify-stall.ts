/**
 * What a notification test (or the notify bench) prints when deliveries stall: for each incident
 * with a notification missing, the incident events the stream holds for it and every sent-log
 * record it has (none: never planned; pending, claimed by whom until when; tried, with the last
 * outcome; settled), the planner's and the notifier's consumer counts, and the warnings and
 * errors the processes logged. Enough to tell a lost delivery from a retry backoff or a claim
 * waiting out, without rerunning.
 */
import { DeliverPolicy, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import type { NotificationRecord } from "../../src/notify/types.js";
import { openKvSentLog } from "../../src/stores/notify/kv.js";
import type { Subjects } from "../../src/subjects/index.js";

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

/** Incident id → the incident events the stream holds for it (`created@<seq>`, …). */
async function incidentEvents(js: JetStreamClient, s: Subjects): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  const consumer = await js.consumers.get(s.events.stream, { filter_subjects: s.notify.plannerFilter, deliver_policy: DeliverPolicy.All });
  for (;;) {
    let got = 0;
    let done = false;
    for await (const m of await consumer.fetch({ max_messages: 1000, expires: 2000 })) {
      got++;
      const e = JSON.parse(dec.decode(m.data)) as { type?: string; data?: { incident_id?: string } };
      const id = e.data?.incident_id;
      if (id) out.set(id, [...(out.get(id) ?? []), `${String(e.type).replace(/^incident\./, "")}@${m.seq}`]);
      if (m.info.pending === 0) done = true;
    }
    if (done || got === 0) break;
  }
  await consumer.delete().catch(() => undefined);
  return out;
}

function describe(r: NotificationRecord, now: number): string {
  const last = r.attempts.at(-1);
  const claim = r.sending_by ? `, claimed by ${r.sending_by} for ${Math.round((Date.parse(r.sending_until!) - now) / 1000)} s more` : "";
  const tried = last ? `, ${r.attempts.length} attempt(s), last ${last.outcome}${last.status ? ` HTTP ${last.status}` : ""}${last.error ? `: ${last.error}` : ""}` : ", never tried";
  return `${r.key}: ${r.status}, planned ${Math.round((now - Date.parse(r.created_at)) / 1000)} s ago${tried}${claim}`;
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
  /** What was not received: the incident and which notification of it (e.g. `opened at team-a`). */
  missing: Array<{ incident_id: string; what: string }>;
  /** e.g. `team-a: 999 of 1000 received`. */
  summary: string[];
  /** Process name → its output. */
  processes: Array<{ name: string; output: string }>;
}

export async function notifyStallReport(i: StallInput): Promise<string> {
  const now = Date.now();
  const s = i.subjects;
  const out = [
    ...i.summary,
    await consumerLine(i.jsm, s.events.stream, s.notify.plannerConsumer),
    await consumerLine(i.jsm, s.notify.stream, s.notify.consumer),
    `missing: ${i.missing.length}${i.missing.length > SHOWN ? ` (the first ${SHOWN} shown)` : ""}`,
  ];
  const sentLog = await openKvSentLog({ js: i.js, jsm: i.jsm, bucket: s.notify.sentLogBucket, replicas: 1 });
  const events = await incidentEvents(i.js, s).catch((err: Error) => err);
  for (const m of i.missing.slice(0, SHOWN)) {
    const held = events instanceof Error ? `events unread: ${events.message}` : `events ${(events.get(m.incident_id) ?? ["none"]).join(", ")}`;
    const records = await sentLog.ofIncident(m.incident_id).catch(() => []);
    out.push(`  ${m.incident_id} (${m.what}): ${held}; sent-log: ${records.length ? "" : "no record (never planned)"}`, ...records.map((r) => `    ${describe(r, now)}`));
  }
  for (const p of i.processes) {
    const problems = logProblems(p.output);
    if (problems.length) out.push(`${p.name} warnings/errors (last ${problems.length}):`, ...problems.map((l) => `  ${l}`));
  }
  return out.join("\n");
}
