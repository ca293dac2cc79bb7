/**
 * kill -9 of an ingest worker while 20,000 alerts (2,000 fingerprints) stream in, then a restart:
 * every alert is stored once and the occurrence counts sum to exactly 20,000.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import pg from "pg";
import { connect } from "@nats-io/transport-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { naming, subjects } from "../../src/subjects/index.js";
import { startNatsServer } from "../harness/nats.js";
import { createTestDatabase } from "../harness/postgres.js";
import { spawnOpsbus } from "../harness/process.js";
import { configDirWith } from "../harness/config.js";
import { waitFor } from "../harness/wait.js";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const TOTAL = 20_000;
const FINGERPRINTS = 2_000;

test("kill -9 mid-stream and restart: exactly once per alert, occurrences sum to the published count", async () => {
  const nats = await startNatsServer();
  const db = await createTestDatabase();
  const env = { NATS_URL: nats.url, ALERT_BACKEND: "postgres", ALERT_DATABASE_URL: db.url, AUDIT_BACKEND: "memory", // A short ack_wait: what the killed worker held comes back in seconds, not a minute.
    CONFIG_DIR: configDirWith({ "alert_routing_policy.yml": { ingest: { ack_wait_seconds: 3 } } }), DATA_DIR: mkdtempSync(join(tmpdir(), "opsbus-crash-")), OPSBUS_START_NATS: "0" };
  const s = subjects(naming());
  const nc = await connect({ servers: nats.url });
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  let worker = spawnOpsbus(["worker", "alerts-in"], env);
  try {
    await waitFor(async () => (await jsm.consumers.info(s.alerts.stream, s.alerts.ingestConsumer)).name, { timeoutMs: 20_000, message: "worker provisioned the stream and consumer" });
    const acked = async () => (await jsm.consumers.info(s.alerts.stream, s.alerts.ingestConsumer)).ack_floor.stream_seq;

    const t0 = Date.now();
    let killed = false;
    const inflight: Promise<unknown>[] = [];
    for (let i = 0; i < TOTAL; i++) {
      const fp = `fp-${i % FINGERPRINTS}`;
      inflight.push(js.publish(s.alerts.in(`svc${i % 20}`), JSON.stringify({ service: `svc${i % 20}`, title: `alert ${fp}`, kind: "error_rate", fingerprint: fp, source: "crash-test" })));
      if (inflight.length >= 500) await Promise.all(inflight.splice(0));
      if (!killed && i >= 8_000 && (await acked()) > 3_000) {
        await worker.kill9();
        killed = true;
        worker = spawnOpsbus(["worker", "alerts-in"], env);
      }
    }
    await Promise.all(inflight);
    console.error(`published in ${Date.now() - t0} ms`);
    assert.ok(killed, "the worker was killed mid-stream");

    await waitFor(async () => {
      const c = await jsm.consumers.info(s.alerts.stream, s.alerts.ingestConsumer);
      return c.num_pending === 0 && c.num_ack_pending === 0;
    }, { timeoutMs: 120_000, intervalMs: 250, message: "every alert processed after the restart" });

    console.error(`processed in ${Date.now() - t0} ms`);
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    const { rows } = await client.query<{ alerts: string; occurrences: string }>("SELECT count(*) AS alerts, coalesce(sum(occurrences),0) AS occurrences FROM alerts");
    await client.end();
    assert.is(Number(rows[0]!.occurrences), TOTAL, "occurrences sum to exactly what was published");
    assert.is(Number(rows[0]!.alerts), FINGERPRINTS, "one alert per fingerprint");
  } catch (err) {
    console.error(worker.output().slice(-4000));
    throw err;
  } finally {
    await worker.stop();
    await nc.close();
    await nats.cleanup();
    await db.drop();
  }
});

test.run();
