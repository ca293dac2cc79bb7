/**
 * kill -9 of the process serving `POST /api/v2/alerts` while a sender posts 256-alert batches with
 * 8 in flight, as Prometheus does. The gateway (HTTP listener) and the ingest worker run as child
 * processes on Postgres stores and both are killed at once, mid-stream, then restarted on the same
 * port; the sender retries what was not answered 200 (as Prometheus's next evaluation would).
 * Afterwards every label set is one alert and its occurrences are exactly the firings sent for it
 * (each followed by its resolve): what was answered 200 survived, and a batch that reached
 * JetStream before the kill but was retried (same body, same message id) is not stored twice.
 *
 * CI size by default (10,240 alerts over 1,024 label sets, one kill); FAULT_SCALE=full sends
 * 102,400 over 10,240 and kills three times.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import pg from "pg";
import { connect } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { naming, subjects } from "../../src/subjects/index.js";
import { startNatsServer } from "../harness/nats.js";
import { freePort } from "../harness/ports.js";
import { createTestDatabase } from "../harness/postgres.js";
import { spawnOpsbus, type OpsbusProcess } from "../harness/process.js";
import { batchBodies, sendBatches, type PostableAlert } from "../harness/prometheus-sender.js";
import { waitFor } from "../harness/wait.js";
import { postgresWorkerEnv } from "../harness/workers.js";

const S = subjects(naming());
const FULL = process.env.FAULT_SCALE === "full";
const SCALE = FULL
  ? { alerts: 102_400, labelSets: 10_240, killAt: [0.25, 0.5, 0.75] }
  : { alerts: 10_240, labelSets: 1_024, killAt: [0.3] };
const INFLIGHT = 8;

/**
 * Firing k belongs to label set k % labelSets and is sent with its resolve beside it, in the same
 * batch: Alertmanager merges overlapping firings of a label set, so a firing counts (an
 * occurrence) only after the one before has resolved. Each pair ends resolved, so every firing
 * counts once whatever order the batches are stored in.
 */
function workload(base: number): PostableAlert[] {
  const endsAt = new Date(base + 60 * 60_000).toISOString();
  return Array.from({ length: SCALE.alerts / 2 }, (_, k) => {
    const set = k % SCALE.labelSets;
    const labels = { alertname: "DiskFull", service: `svc${set % 16}`, instance: `host-${set}`, severity: "warning", env: "prod" };
    const common = { labels, annotations: { summary: `disk full on host-${set}` }, generatorURL: "http://prometheus.test/graph" };
    // Started and ended before the test began (an hour of firings 1 ms apart would do).
    const startsAt = new Date(base - 10 * 60_000 + k).toISOString();
    return [
      { ...common, startsAt, endsAt },
      { ...common, startsAt, endsAt: new Date(base - 10 * 60_000 + k + 1).toISOString() },
    ];
  }).flat();
}

test(`kill -9 of the intake mid-stream: ${SCALE.alerts} alerts in 256-alert batches, 8 in flight, ${SCALE.killAt.length} kill(s); every label set stored once with exactly its firings`, async () => {
  const nats = await startNatsServer();
  const db = await createTestDatabase();
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  // A short ack_wait: what the killed worker held comes back in seconds.
  const env = { ...postgresWorkerEnv(nats.url, db.url, { "alert_routing_policy.yml": { ingest: { ack_wait_seconds: 3 } } }, "am-crash"), OPS_ENV: "dev", HTTP_PORT: String(port) };
  const nc = await connect({ servers: nats.url });
  const jsm = await jetstreamManager(nc);
  const spawnGateway = () => spawnOpsbus(["worker", "gateway"], env);
  const spawnIngest = () => spawnOpsbus(["worker", "alerts-in"], env);
  const listening = (p: OpsbusProcess) =>
    waitFor(async () => {
      if (p.child.exitCode !== null) throw new Error(`gateway exited: ${p.output().slice(-2000)}`);
      return (await fetch(`${base}/-/healthy`, { signal: AbortSignal.timeout(1000) })).status > 0;
    }, { timeoutMs: 30_000, intervalMs: 50, message: "the gateway's HTTP listener" });
  let gateway = spawnGateway();
  let ingest = spawnIngest();
  const db2 = new pg.Client({ connectionString: db.url });
  try {
    await listening(gateway);
    await waitFor(async () => (await jsm.consumers.info(S.alerts.stream, S.alerts.ingestConsumer)).num_waiting > 0, { timeoutMs: 30_000, message: "the ingest worker pulling" });

    const bodies = batchBodies(workload(Date.now()));
    const killAfter = SCALE.killAt.map((f) => Math.floor(bodies.length * f));
    const killedAt: number[] = [];
    let restarts: Promise<void> = Promise.resolve();
    let answered = 0;
    const crash = async () => {
      await Promise.all([gateway.kill9(), ingest.kill9()]);
      gateway = spawnGateway();
      ingest = spawnIngest();
      await listening(gateway);
    };
    const sent = await sendBatches(base, bodies, {
      inflight: INFLIGHT,
      retry: true,
      retryDelayMs: 100,
      deadlineMs: FULL ? 900_000 : 240_000,
      onAnswered() {
        answered += 1;
        if (killAfter.includes(answered)) {
          killedAt.push(answered);
          restarts = restarts.then(crash);
        }
      },
    });
    await restarts;
    assert.is(sent.answered.length, bodies.length, "every batch answered 200 in the end");
    assert.equal(killedAt, killAfter, "killed mid-stream");
    assert.ok(Object.keys(sent.failures).length > 0, `the sender saw the kill: failures ${JSON.stringify(sent.failures)}`);

    await waitFor(async () => {
      const c = await jsm.consumers.info(S.alerts.stream, S.alerts.ingestConsumer);
      return c.num_pending === 0 && c.num_ack_pending === 0;
    }, { timeoutMs: FULL ? 600_000 : 120_000, intervalMs: 250, message: "every batch processed after the restart" });

    const stream = await jsm.streams.info(S.alerts.stream);
    const streamed = stream.state.messages;
    await db2.connect();
    const { rows } = await db2.query<{ instance: string; n: string; occ: string }>(
      "SELECT labels->>'instance' AS instance, count(*) AS n, sum(occurrences) AS occ FROM alerts GROUP BY 1",
    );
    const perSet = SCALE.alerts / 2 / SCALE.labelSets;
    const wrong = rows.filter((r) => Number(r.n) !== 1 || Number(r.occ) !== perSet);
    assert.is(rows.length, SCALE.labelSets, "one alert per label set");
    assert.equal(wrong.slice(0, 10), [], `label sets with other than 1 alert × ${perSet} occurrences (${wrong.length} of them; retried batches ${sent.retried}, failures ${JSON.stringify(sent.failures)}, ${streamed} stream messages for ${bodies.length} batches)`);
    assert.is(streamed, bodies.length, "one stream message per batch: a retried batch is deduped by its message id");
    const total = rows.reduce((n, r) => n + Number(r.occ), 0);
    assert.is(total, SCALE.alerts / 2, "occurrences add up to the firings sent, none twice");
    const firing = await db2.query("SELECT count(*) AS n FROM alerts WHERE resolved_at IS NULL");
    assert.is(Number(firing.rows[0].n), 0, "every firing's resolve stored");
  } catch (err) {
    console.error(`--- gateway ---\n${gateway.output().slice(-3000)}\n--- alerts-in ---\n${ingest.output().slice(-3000)}`);
    throw err;
  } finally {
    await db2.end().catch(() => undefined);
    await gateway.stop();
    await ingest.stop();
    await nc.close();
    await nats.cleanup();
    await db.drop();
  }
});

test.run();
