/**
 * kill -9 of a triage worker mid-stream, then a restart: what the dead worker held comes back
 * (short ack_wait) and must be absorbed without a second incident or a second timeline entry.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { naming, subjects } from "../../src/subjects/index.js";
import { startNatsServer } from "../harness/nats.js";
import { createTestDatabase } from "../harness/postgres.js";
import { spawnOpsbus, type OpsbusProcess } from "../harness/process.js";
import { waitFor } from "../harness/wait.js";
import { connectObserver, countRows, postgresWorkerEnv } from "../harness/workers.js";

const s = subjects(naming());
const ALERTS = 5_000;
/** 10 services × 5 kinds = 50 signatures (service, env, kind). */
const SERVICES = 10;
const KINDS = ["error_rate", "latency", "slo_breach", "resource", "crash"] as const;
const SIGNATURES = SERVICES * KINDS.length;
/** Work items acked before the kill. */
const KILL_AFTER = 1_000;


test("kill -9 a triage worker mid-stream, restart: 5,000 alerts over 50 signatures → 50 incidents, each alert once", async () => {
  const nats = await startNatsServer();
  const db = await createTestDatabase();
  // What the killed worker held is redelivered after 3 s instead of 10 minutes.
  const env = postgresWorkerEnv(nats.url, db.url, { "alert_routing_policy.yml": { work: { ack_wait_seconds: 3 } } }, "triage-crash");
  const ingest = spawnOpsbus(["worker", "alerts-in"], { ...env, NODE_ID: "ingest" });
  let triage = spawnOpsbus(["worker", "incident-bridge"], { ...env, NODE_ID: "triage-1" });
  const outputs: Array<() => string> = [ingest.output, () => triage.output()];
  const { js, jsm, db: client, close: closeObserver } = await connectObserver(nats.url, db.url);
  const acked = () => countRows(client, "SELECT count(*) AS n FROM alerts WHERE status = 'acked'");
  try {
    const work = () => jsm.consumers.info(s.alerts.workStream, s.alerts.workConsumer);
    await waitFor(async () => (await work()).num_waiting > 0, { timeoutMs: 30_000, message: "triage worker pulling" });
    await waitFor(async () => (await jsm.consumers.info(s.alerts.stream, s.alerts.ingestConsumer)).num_waiting > 0, {
      timeoutMs: 30_000,
      message: "ingest worker pulling",
    });

    const inflight: Promise<unknown>[] = [];
    for (let i = 0; i < ALERTS; i++) {
      const service = `crash-svc-${i % SERVICES}`;
      const kind = KINDS[Math.floor(i / SERVICES) % KINDS.length]!;
      const alert = { service, env: "prod", kind, title: `${kind} ${i}`, fingerprint: `crash-${i}`, source: "crash-test" };
      inflight.push(js.publish(s.alerts.in(service), JSON.stringify(alert)));
      if (inflight.length >= 500) await Promise.all(inflight.splice(0));
    }
    await Promise.all(inflight);

    // Kill after some acks (the work stream holds only work items, so the floor counts them),
    // preferably while a batch is committed to the incident store but not yet acked: the
    // redelivery must then find it absorbed. Entries are read first, so entries > floor proves it.
    const floor = await waitFor(async () => {
      const entries = await countRows(client, "SELECT count(*) AS n FROM incident_events WHERE dedupe_key LIKE 'alert:%'");
      const f = (await work()).ack_floor.stream_seq;
      return f >= 2 * KILL_AFTER || (f >= KILL_AFTER && entries > f) ? f : null;
    }, { timeoutMs: 30_000, intervalMs: 5, message: `triage worker acked ${KILL_AFTER}` });
    await triage.kill9();
    const ackedAtKill = await acked();
    assert.ok(floor < ALERTS && ackedAtKill < ALERTS, `killed mid-stream (ack floor ${floor}, ${ackedAtKill} acked in the store of ${ALERTS})`);

    const first = triage;
    triage = spawnOpsbus(["worker", "incident-bridge"], { ...env, NODE_ID: "triage-2" });
    outputs.push(first.output);
    await waitFor(
      async () => {
        const c = await work();
        return (await acked()) === ALERTS && c.num_pending === 0 && c.num_ack_pending === 0;
      },
      { timeoutMs: 60_000, intervalMs: 100, message: `all ${ALERTS} alerts acked and the work consumer empty after the restart` },
    );

    assert.is(await countRows(client, "SELECT count(*) AS n FROM alerts"), ALERTS, "one alert per fingerprint");
    assert.is(await countRows(client, "SELECT count(*) AS n FROM alerts WHERE status <> 'acked'"), 0, "every alert acked in the store");
    assert.ok(await countRows(client, "SELECT count(*) AS n FROM alerts WHERE owner = 'triage@triage-2'") > 0, "the restarted worker finished the stream");

    assert.is(await countRows(client, "SELECT count(*) AS n FROM incidents"), SIGNATURES, `exactly ${SIGNATURES} incidents`);
    assert.is(await countRows(client, "SELECT count(DISTINCT signature) AS n FROM incidents"), SIGNATURES, "one incident per signature");
    assert.is(await countRows(client, "SELECT coalesce(sum(alert_count), 0) AS n FROM incidents"), ALERTS, "alert_count sums to every alert");
    assert.is(await countRows(client, "SELECT count(*) AS n FROM incident_events WHERE type = 'created'"), SIGNATURES, "one created event per incident");

    // An alert's timeline entry is the event keyed `alert:<ref>` (alert, or note inside the
    // cooldown); created/escalated events merely mention the alert that caused them.
    const entries = "SELECT * FROM incident_events WHERE type IN ('alert', 'note') AND meta ? 'alert_ref'";
    assert.is(await countRows(client, `SELECT count(*) AS n FROM (${entries}) e`), ALERTS, "one timeline entry per alert");
    assert.is(await countRows(client, `SELECT count(DISTINCT meta->>'alert_ref') AS n FROM (${entries}) e`), ALERTS, "no alert_ref twice");
    assert.is(
      await countRows(client, `SELECT count(*) AS n FROM (${entries}) e WHERE split_part(dedupe_key, '@', 1) IS DISTINCT FROM 'alert:' || (meta->>'alert_ref')`),
      0,
      "every entry keyed by its alert",
    );
    assert.is(
      await countRows(client, "SELECT count(*) AS n FROM alerts a WHERE NOT EXISTS (SELECT 1 FROM incident_events e WHERE split_part(e.dedupe_key, '@', 1) = 'alert:' || a.alert_ref)"),
      0,
      "every stored alert on a timeline",
    );
    assert.is(
      await countRows(
        client,
        "SELECT count(*) AS n FROM incidents i WHERE alert_count <> (SELECT count(*) FROM incident_events e WHERE e.incident_id = i.id AND e.dedupe_key LIKE 'alert:%')",
      ),
      0,
      "each incident's alert_count matches its timeline",
    );
    // The ack note names the incident whose timeline holds the alert.
    assert.is(
      await countRows(client, "SELECT count(*) AS n FROM alerts a JOIN incident_events e ON split_part(e.dedupe_key, '@', 1) = 'alert:' || a.alert_ref WHERE a.ack_note NOT LIKE '%' || e.incident_id || '%'"),
      0,
      "ack notes point at the absorbing incident",
    );

    const c = await work();
    assert.is(c.num_pending + c.num_ack_pending, 0, "nothing pending on the work consumer");
  } catch (err) {
    for (const out of outputs) console.error(out().slice(-3000));
    throw err;
  } finally {
    await Promise.all([ingest.stop(), triage.stop()]);
    await closeObserver();
    await nats.cleanup();
    await db.drop();
  }
});

test.run();
