/**
 * Shared by the fault suites: the size knob, a publisher that keeps retrying an alert until it
 * gets a PubAck, and the invariants every fault run must leave behind in Postgres and JetStream.
 */
import * as assert from "uvu/assert";
import pg from "pg";
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import { setTimeout as delay } from "node:timers/promises";
import type { Subjects } from "../../src/subjects/index.js";
import { waitFor } from "../harness/wait.js";
import { countRows } from "../harness/workers.js";

/** `FAULT_SCALE=full` runs the sizes the fault suites were designed for; the default (`ci`) is small enough for every CI run. */
export const FULL_SCALE = process.env.FAULT_SCALE === "full";

const KINDS = ["error_rate", "latency", "slo_breach", "resource", "crash"] as const;

export interface AlertMix {
  total: number;
  /** Signatures (service, env, kind): `services × 5` kinds. */
  signatures: number;
  /** Services prefix, so two suites on one database could never share a signature. */
  tag: string;
}

/** Alert `i`: its own fingerprint (stored as its own row) and one of `signatures` signatures. */
export function alertFor(i: number, mix: AlertMix): { service: string; msgId: string; body: string } {
  const services = mix.signatures / KINDS.length;
  const service = `${mix.tag}-svc-${i % services}`;
  const kind = KINDS[Math.floor(i / services) % KINDS.length]!;
  const body = JSON.stringify({ service, env: "prod", kind, title: `${kind} ${i}`, fingerprint: `${mix.tag}-${i}`, source: "fault-test" });
  return { service, msgId: `${mix.tag}-alert-${i}`, body };
}

export interface Publisher {
  /** Alerts that got a PubAck so far. */
  readonly acked: number;
  /** Publish attempts that failed (timeout, no leader, no responders) and were retried. */
  readonly retries: number;
  /** Resolves once every alert got its PubAck; rejects if one did not within `giveUpMs`. */
  done: Promise<void>;
}

/**
 * Publishes `mix.total` alerts with `concurrency` in flight, at most `ratePerSec` a second. Each is retried with the same
 * Nats-Msg-Id until it gets a PubAck, so a retry of a publish that was stored after all is
 * dropped by the stream's duplicate window: every alert must be stored exactly once.
 */
export function publishAlerts(js: JetStreamClient, s: Subjects, mix: AlertMix, opts: { concurrency?: number; giveUpMs?: number; ratePerSec?: number } = {}): Publisher {
  const giveUpMs = opts.giveUpMs ?? 120_000;
  const startedAt = Date.now();
  let next = 0;
  const state = { acked: 0, retries: 0 };
  const one = async (i: number) => {
    // Paced, the stream lasts as long as the faults it has to overlap, instead of being over in seconds.
    if (opts.ratePerSec) await delay(Math.max(0, startedAt + (i / opts.ratePerSec) * 1000 - Date.now()));
    const a = alertFor(i, mix);
    const deadline = Date.now() + giveUpMs;
    for (;;) {
      try {
        await js.publish(s.alerts.in(a.service), a.body, { msgID: a.msgId, timeout: 5_000 });
        state.acked++;
        return;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`alert ${i} got no PubAck within ${giveUpMs} ms: ${(err as Error).message}`);
        state.retries++;
        await delay(250);
      }
    }
  };
  const lane = async () => {
    while (next < mix.total) await one(next++);
  };
  const done = Promise.all(Array.from({ length: opts.concurrency ?? 200 }, lane)).then(() => undefined);
  return {
    get acked() {
      return state.acked;
    },
    get retries() {
      return state.retries;
    },
    done,
  };
}

/** Waits (bounded) until `count` alerts were acked by the publisher. */
export async function publisherReached(p: Publisher, count: number, timeoutMs = 120_000): Promise<void> {
  await waitFor(() => p.acked >= count, { timeoutMs, intervalMs: 20, message: `${count} alerts published (PubAck)` });
}

/** Both alert consumers empty and every alert acked in the store: the pipeline has drained. */
export async function waitDrained(db: pg.Client, jsm: JetStreamManager, s: Subjects, total: number, timeoutMs: number): Promise<void> {
  await waitFor(
    async () => {
      for (const [stream, consumer] of [[s.alerts.stream, s.alerts.ingestConsumer], [s.alerts.workStream, s.alerts.workConsumer]] as const) {
        const c = await jsm.consumers.info(stream, consumer);
        if (c.num_pending + c.num_ack_pending > 0) return false;
      }
      return (await countRows(db, "SELECT count(*) AS n FROM alerts WHERE status = 'acked'")) >= total;
    },
    { timeoutMs, intervalMs: 250, message: `all ${total} alerts ingested, absorbed and acked, both consumers empty` },
  );
}

/**
 * What every fault run must leave: each acknowledged publish stored once in the stream and once in
 * the store (occurrences 1 each), one incident per signature, every alert on exactly one timeline,
 * nothing unacked, processing or failed, and both alert consumers empty.
 */
export async function assertAlertInvariants(db: pg.Client, jsm: JetStreamManager, s: Subjects, mix: AlertMix, acked: number): Promise<void> {
  const n = (sql: string) => countRows(db, sql);
  assert.is(acked, mix.total, "every alert got a PubAck");
  assert.is((await jsm.streams.info(s.alerts.stream)).state.messages, mix.total, `${s.alerts.stream} holds each acked alert once`);
  assert.is(await n("SELECT count(*) AS n FROM alerts"), mix.total, "one stored alert per acked publish");
  assert.is(await n("SELECT coalesce(sum(occurrences), 0) AS n FROM alerts"), mix.total, "occurrences sum to the acked publishes");
  assert.is(await n("SELECT count(*) AS n FROM alerts WHERE occurrences <> 1"), 0, "no alert counted twice");
  const statuses = await db.query<{ status: string; n: string }>("SELECT status, count(*) AS n FROM alerts GROUP BY status ORDER BY status");
  assert.equal(statuses.rows.map((r) => [r.status, Number(r.n)]), [["acked", mix.total]], "every alert acked in the store (none new, processing or failed)");

  assert.is(await n("SELECT count(*) AS n FROM incidents"), mix.signatures, `exactly ${mix.signatures} incidents`);
  assert.is(await n("SELECT count(DISTINCT signature) AS n FROM incidents"), mix.signatures, "one incident per signature");
  const entries = "SELECT * FROM incident_events WHERE type IN ('alert', 'note') AND meta ? 'alert_ref'";
  const missing = await db.query("SELECT alert_ref, owner, attempts, ack_note FROM alerts a WHERE NOT EXISTS (SELECT 1 FROM incident_events e WHERE split_part(e.dedupe_key, '@', 1) = 'alert:' || a.alert_ref) LIMIT 5");
  assert.equal(missing.rows, [], "every acked alert is on a timeline");
  assert.is(await n(`SELECT count(*) AS n FROM (${entries}) e`), mix.total, "one timeline entry per alert");
  assert.is(await n(`SELECT count(DISTINCT meta->>'alert_ref') AS n FROM (${entries}) e`), mix.total, "no alert on a timeline twice");
  const drift = await db.query(
    "SELECT id, alert_count, (SELECT count(*) FROM incident_events e WHERE e.incident_id = i.id AND e.dedupe_key LIKE 'alert:%') AS entries FROM incidents i WHERE alert_count <> (SELECT count(*) FROM incident_events e WHERE e.incident_id = i.id AND e.dedupe_key LIKE 'alert:%') LIMIT 5",
  );
  assert.equal(drift.rows, [], "each incident's alert_count matches its timeline");

  for (const [stream, consumer] of [[s.alerts.stream, s.alerts.ingestConsumer], [s.alerts.workStream, s.alerts.workConsumer]] as const) {
    const c = await jsm.consumers.info(stream, consumer);
    assert.is(c.num_pending + c.num_ack_pending, 0, `${consumer}: nothing pending or unacked`);
  }
}
