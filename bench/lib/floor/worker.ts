/**
 * The floor's worker (a child process of bench/lib/floor/measure.ts): pulls the intake's messages,
 * parses each once, takes each alert's Alertmanager fingerprint, and stores a window of messages
 * in one Postgres transaction (one upsert per fingerprint, its occurrences and times; one receipt
 * row per message), acking the window after the commit. Windows are parsed as messages come and
 * stored one after another. No validation, lifecycle, suppression or events, and a redelivered
 * message fails its receipt's key: a measurement of the least a durable dedupe does, not a path to use.
 * NATS_URL, FLOOR_STREAM, FLOOR_CONSUMER, DATABASE_URL.
 */
import { jetstream, type JsMsg } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import pg from "pg";
import { labelSetFingerprint } from "../../../src/alerts/am-fingerprint.js";
import { PROMETHEUS_BATCH } from "../../../test/harness/prometheus-sender.js";

export const FLOOR_SCHEMA = `
  CREATE TABLE floor_alerts (fingerprint text PRIMARY KEY, labels jsonb NOT NULL, starts_at timestamptz,
    ends_at timestamptz, last_seen_at timestamptz NOT NULL, occurrences int NOT NULL);
  CREATE TABLE floor_receipts (stream_seq int8 PRIMARY KEY, alerts int NOT NULL, at timestamptz NOT NULL)`;

const STORE = `
  WITH up AS (
    INSERT INTO floor_alerts (fingerprint, labels, starts_at, ends_at, last_seen_at, occurrences)
    SELECT fp, labels, starts_at, ends_at, now(), n FROM unnest($1::text[], $2::jsonb[], $3::timestamptz[], $4::timestamptz[], $5::int[])
      AS u(fp, labels, starts_at, ends_at, n) ORDER BY fp
    ON CONFLICT (fingerprint) DO UPDATE SET occurrences = floor_alerts.occurrences + EXCLUDED.occurrences,
      starts_at = LEAST(floor_alerts.starts_at, EXCLUDED.starts_at), ends_at = EXCLUDED.ends_at, last_seen_at = EXCLUDED.last_seen_at
    RETURNING 1
  )
  INSERT INTO floor_receipts (stream_seq, alerts, at) SELECT *, now() FROM unnest($6::int8[], $7::int[])`;

/** Alerts per store call, as opsbus's MAX_ALERTS_PER_STORE_CALL. */
const WINDOW_ALERTS = 1024;

interface Posted {
  labels: Record<string, string>;
  startsAt?: string;
  endsAt?: string;
}

interface Window {
  msgs: JsMsg[];
  params: unknown[];
}

/** A window's messages as the store's parameters: one row per fingerprint (the last alert's times, all counted). */
function prepare(msgs: JsMsg[]): Window {
  const rows = new Map<string, { labels: Record<string, string>; starts: string | null; ends: string | null; n: number }>();
  const seqs: number[] = [];
  const counts: number[] = [];
  for (const m of msgs) {
    const alerts = JSON.parse(m.string()) as Posted[];
    for (const a of alerts) {
      const fp = labelSetFingerprint(a.labels);
      const row = rows.get(fp);
      if (row) {
        row.n++;
        row.ends = a.endsAt ?? null;
      } else rows.set(fp, { labels: a.labels, starts: a.startsAt ?? null, ends: a.endsAt ?? null, n: 1 });
    }
    seqs.push(m.seq);
    counts.push(alerts.length);
  }
  const fps = [...rows.keys()];
  const vals = [...rows.values()];
  return {
    msgs,
    params: [fps, vals.map((r) => JSON.stringify(r.labels)), vals.map((r) => r.starts), vals.map((r) => r.ends), vals.map((r) => r.n), seqs, counts],
  };
}

async function store(client: pg.Client, w: Window): Promise<void> {
  await client.query("BEGIN");
  await client.query({ name: "floor.store", text: STORE, values: w.params });
  await client.query("COMMIT");
  for (const m of w.msgs) m.ack();
}

if (process.argv[1]?.endsWith("worker.ts")) {
  const nc = await connect({ servers: process.env.NATS_URL!, noAsyncTraces: true });
  const client = new pg.Client({ connectionString: process.env.DATABASE_URL! });
  await client.connect();
  const consumer = await jetstream(nc).consumers.get(process.env.FLOOR_STREAM!, process.env.FLOOR_CONSUMER!);
  const messages = await consumer.consume({ max_messages: 64 });
  console.log("floor worker ready");
  let pending: JsMsg[] = [];
  let alerts = 0;
  let storing: Promise<void> = Promise.resolve();
  let lone: NodeJS.Immediate | undefined;
  const flush = () => {
    clearImmediate(lone);
    if (!pending.length) return;
    const w = prepare(pending);
    pending = [];
    alerts = 0;
    storing = storing.then(() => store(client, w));
    // A failed window stops the worker: the bench sees it exit rather than stall.
    storing.catch((err: unknown) => {
      console.error("floor worker: store failed", err);
      process.exit(1);
    });
  };
  // A window closes at WINDOW_ALERTS, or once no more messages are buffered (a lone batch is not held back).
  for await (const m of messages) {
    pending.push(m);
    // Counted as Prometheus's full batches: the message is parsed only when its window closes.
    alerts += PROMETHEUS_BATCH;
    if (alerts >= WINDOW_ALERTS) flush();
    else {
      clearImmediate(lone);
      lone = setImmediate(flush);
    }
  }
}
