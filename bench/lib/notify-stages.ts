/**
 * Where a notification's time went, from what the run left behind: the incident event's stored
 * time (OPS_EVENTS), the sent-log record (created_at: the planner read the incident; the attempt:
 * when the send started) and the server time of each revision of its sent-log key (the KV
 * stream keeps every write: the pending record, the notifier's claim, the outcome).
 */
import { DeliverPolicy, type JetStreamClient, type JsMsg } from "@nats-io/jetstream";
import type { NotificationRecord } from "../../src/notify/types.js";
import { summarize, type LatencySummary } from "./stats.js";

const dec = new TextDecoder();

/** Every message of `stream` under `filter`, oldest first, through an ordered consumer. */
async function readStream(js: JetStreamClient, stream: string, filter: string, each: (m: JsMsg) => void): Promise<void> {
  const info = await (await js.streams.get(stream)).info();
  if (info.state.messages === 0) return;
  const consumer = await js.consumers.get(stream, { filter_subjects: filter, deliver_policy: DeliverPolicy.All });
  for (;;) {
    let got = 0;
    let done = false;
    for await (const m of await consumer.fetch({ max_messages: 1000, expires: 2000 })) {
      got++;
      each(m);
      if (m.info.pending === 0) done = true;
    }
    if (done || got === 0) break;
  }
  await consumer.delete().catch(() => undefined);
}

interface Revision {
  atMs: number;
  record: NotificationRecord | null;
}

const msOf = (m: JsMsg) => m.info.timestampNanos / 1e6;

/**
 * Stages per received notification (p50/p99/max ms each), and the whole latency per moment kind.
 * `received`: the sent-log keys measured, each with the time it reached the receiver.
 */
export async function notifyStages(
  js: JetStreamClient,
  o: { eventsStream: string; eventsFilter: string; sentLogBucket: string },
  received: ReadonlyMap<string, number>,
  /** Each measured notification's stages, for a closer look (BENCH_NOTIFY_DUMP). */
  each?: (row: { key: string; event_at: number; stages: Record<string, number> }) => void,
): Promise<Record<string, LatencySummary>> {
  const storedAt = new Map<number, number>();
  await readStream(js, o.eventsStream, o.eventsFilter, (m) => storedAt.set(m.seq, msOf(m)));
  const prefix = `$KV.${o.sentLogBucket}.`;
  const revisions = new Map<string, Revision[]>();
  await readStream(js, `KV_${o.sentLogBucket}`, `${prefix}>`, (m) => {
    const key = m.subject.slice(prefix.length);
    if (!received.has(key)) return;
    let record: NotificationRecord | null = null;
    try {
      record = m.data.length ? (JSON.parse(dec.decode(m.data)) as NotificationRecord) : null;
    } catch {
      record = null;
    }
    const list = revisions.get(key) ?? [];
    list.push({ atMs: msOf(m), record });
    revisions.set(key, list);
  });

  const stages: Record<string, number[]> = {
    "event → stored (gateway publish)": [],
    "stored → incident read (planner fetch, incident get)": [],
    "incident read → pending written (alert reads, sent-log create)": [],
    "pending written → claimed (index, outbox, notifier fetch, sent-log reads, claim)": [],
    "claimed → sending": [],
    "sending → received": [],
    "received → outcome written": [],
  };
  let row: Record<string, number> = {};
  const push = (stage: string, v: number | undefined) => {
    if (v === undefined || !Number.isFinite(v)) return;
    (stages[stage] ??= []).push((row[stage] = Math.round(v * 10) / 10));
  };
  for (const [key, receivedAt] of received) {
    row = {};
    const revs = revisions.get(key);
    const first = revs?.[0]?.record;
    const claim = revs?.find((r) => r.record?.sending_by !== undefined);
    const outcome = revs?.find((r) => r.record !== null && r.record.attempts.length > 0);
    const attempt = outcome?.record?.attempts[0];
    if (!revs || !first || !claim || !attempt) continue;
    const eventAt = Date.parse(first.moment_at);
    const stored = storedAt.get(first.seq);
    const planned = Date.parse(first.created_at);
    const sendStart = Date.parse(attempt.at) - attempt.latency_ms;
    push("event → stored (gateway publish)", stored !== undefined ? stored - eventAt : undefined);
    push("stored → incident read (planner fetch, incident get)", stored !== undefined ? planned - stored : undefined);
    push("incident read → pending written (alert reads, sent-log create)", revs[0]!.atMs - planned);
    push("pending written → claimed (index, outbox, notifier fetch, sent-log reads, claim)", claim.atMs - revs[0]!.atMs);
    push("claimed → sending", sendStart - claim.atMs);
    push("sending → received", receivedAt - sendStart);
    push("received → outcome written", outcome!.atMs - receivedAt);
    push(`${first.moment}: event → received`, receivedAt - eventAt);
    each?.({ key, event_at: eventAt, stages: row });
  }
  return Object.fromEntries(Object.entries(stages).filter(([, v]) => v.length).map(([k, v]) => [k, summarize(v)]));
}
