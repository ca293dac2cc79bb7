/**
 * Two triage worker processes on one work consumer, racing over alerts of the same signatures:
 * the store (not luck) must keep it to one incident per signature, and every alert must be
 * absorbed exactly once, by whichever worker got its delivery.
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
const ALERTS = 500;
const SIGNATURES = 5;


test("two triage worker processes, 500 alerts over 5 signatures: exactly 5 incidents, each alert absorbed once", async () => {
  const nats = await startNatsServer();
  const db = await createTestDatabase();
  // Small batches: many store steps per worker, so the two interleave on every signature.
  const env = postgresWorkerEnv(nats.url, db.url, { "alert_routing_policy.yml": { incidents: { batch_size: 10 } } }, "race");
  const workers: OpsbusProcess[] = [
    spawnOpsbus(["worker", "alerts-in"], { ...env, NODE_ID: "ingest" }),
    // Distinct node ids: the owner each writes on the alerts it settles says who did the work.
    spawnOpsbus(["worker", "incident-bridge"], { ...env, NODE_ID: "race-a" }),
    // The role's former name still runs it (with a deprecation warning).
    spawnOpsbus(["worker", "triage"], { ...env, NODE_ID: "race-b" }),
  ];
  const { js, jsm, db: client, close: closeObserver } = await connectObserver(nats.url, db.url);
  try {
    const work = () => jsm.consumers.info(s.alerts.workStream, s.alerts.workConsumer);
    // Both triage workers hold a pull on the work consumer before the first alert exists.
    await waitFor(async () => (await work()).num_waiting >= 2, { timeoutMs: 30_000, message: "both triage workers pulling" });
    await waitFor(async () => (await jsm.consumers.info(s.alerts.stream, s.alerts.ingestConsumer)).num_waiting > 0, {
      timeoutMs: 30_000,
      message: "ingest worker pulling",
    });

    const inflight: Promise<unknown>[] = [];
    for (let i = 0; i < ALERTS; i++) {
      const service = `race-svc-${i % SIGNATURES}`;
      const alert = { service, env: "prod", kind: "error_rate", title: `error rate ${i}`, fingerprint: `race-${i}`, source: "race-test" };
      inflight.push(js.publish(s.alerts.in(service), JSON.stringify(alert)));
    }
    await Promise.all(inflight);

    await waitFor(
      async () => {
        const c = await work();
        const acked = await countRows(client, "SELECT count(*) AS n FROM alerts WHERE status = 'acked'");
        return acked === ALERTS && c.num_pending === 0 && c.num_ack_pending === 0;
      },
      { timeoutMs: 45_000, intervalMs: 100, message: `all ${ALERTS} alerts acked and the work consumer empty` },
    );

    assert.is(await countRows(client, "SELECT count(*) AS n FROM alerts"), ALERTS, "ingest created one alert (one work item) per fingerprint");
    assert.is(await countRows(client, "SELECT count(*) AS n FROM alerts WHERE status <> 'acked'"), 0, "every alert acked in the store");

    const incidents = await client.query<{ service: string; signature: string; alert_count: number }>(
      "SELECT service, signature, alert_count FROM incidents ORDER BY service",
    );
    assert.is(incidents.rows.length, SIGNATURES, `exactly ${SIGNATURES} incidents: ${JSON.stringify(incidents.rows)}`);
    assert.equal(
      incidents.rows.map((r) => r.service),
      Array.from({ length: SIGNATURES }, (_, i) => `race-svc-${i}`),
      "one incident per signature",
    );
    assert.is(new Set(incidents.rows.map((r) => r.signature)).size, SIGNATURES, "distinct signatures");
    assert.equal(incidents.rows.map((r) => r.alert_count), Array(SIGNATURES).fill(ALERTS / SIGNATURES), "alert_count per incident");

    // The event recording an alert on a timeline is the one keyed `alert:<ref>` (type alert, or
    // note inside the cooldown); created/escalated events only mention the alert that caused them.
    const absorbed = await client.query<{ ref: string; n: string; keyed: string }>(
      `SELECT meta->>'alert_ref' AS ref, count(*) AS n, count(*) FILTER (WHERE split_part(dedupe_key, '@', 1) = 'alert:' || (meta->>'alert_ref')) AS keyed
         FROM incident_events WHERE type IN ('alert', 'note') AND meta ? 'alert_ref' GROUP BY 1`,
    );
    assert.is(absorbed.rows.length, ALERTS, "an absorb event for every alert");
    assert.equal(absorbed.rows.filter((r) => r.n !== "1" || r.keyed !== "1"), [], "each alert_ref in exactly one keyed event");
    assert.is(
      await countRows(client, "SELECT count(*) AS n FROM alerts a WHERE NOT EXISTS (SELECT 1 FROM incident_events e WHERE split_part(e.dedupe_key, '@', 1) = 'alert:' || a.alert_ref)"),
      0,
      "no stored alert without its timeline event",
    );
    assert.is(await countRows(client, "SELECT count(*) AS n FROM incident_events WHERE type = 'created'"), SIGNATURES, "one created event per incident");

    // Both workers took part: each settled some alerts and authored some timeline events.
    const owners = await client.query<{ owner: string; n: string }>("SELECT owner, count(*) AS n FROM alerts GROUP BY owner ORDER BY owner");
    assert.equal(owners.rows.map((r) => r.owner), ["triage@race-a", "triage@race-b"], `both workers settled alerts: ${JSON.stringify(owners.rows)}`);
    const authors = await client.query<{ author: string }>("SELECT DISTINCT author FROM incident_events WHERE type IN ('alert', 'note') ORDER BY author");
    assert.equal(authors.rows.map((r) => r.author), ["triage@race-a", "triage@race-b"], "both workers wrote timeline events");

    const c = await work();
    assert.is(c.num_pending + c.num_ack_pending, 0, "nothing pending on the work consumer");
  } catch (err) {
    for (const w of workers) console.error(w.output().slice(-3000));
    throw err;
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
    await closeObserver();
    await nats.cleanup();
    await db.drop();
  }
});

test.run();
