/**
 * Failover on a 3-node JetStream cluster with R3 streams: while alerts stream in, one node is
 * killed with SIGKILL and later restarted — first a follower of OPS_ALERTS, then (second test, a
 * fresh cluster) its leader. The worker processes must ride it out on their own (reconnect, no
 * restart), and afterwards every acknowledged publish is stored exactly once, each signature
 * has exactly one incident, and nothing is left unacked.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { JetStreamManager } from "@nats-io/jetstream";
import { naming, subjects } from "../../src/subjects/index.js";
import { startNatsCluster, type ClusterNode, type NatsCluster } from "../harness/cluster.js";
import { createTestDatabase } from "../harness/postgres.js";
import { spawnOpsbus, type OpsbusProcess } from "../harness/process.js";
import { waitFor } from "../harness/wait.js";
import { connectObserver, postgresWorkerEnv } from "../harness/workers.js";
import { assertAlertInvariants, FULL_SCALE, publisherReached, publishAlerts, waitDrained, type AlertMix } from "./support.js";

const s = subjects(naming());
const MIX: AlertMix = FULL_SCALE ? { total: 50_000, signatures: 1_000, tag: "cf" } : { total: 3_000, signatures: 100, tag: "cf" };
/** How long the stream lasts: the kill, the time with a node down and the restart all fall inside it. */
const PUBLISH_SECONDS = FULL_SCALE ? 20 : 10;
const DRAIN_TIMEOUT_MS = FULL_SCALE ? 600_000 : 150_000;

/**
 * The node to kill: the stream leader, or the follower whose loss does the most — the one holding
 * the most worker connections (a worker must fail over), then leading the most streams and consumers.
 */
async function pickVictim(cluster: NatsCluster, jsm: JetStreamManager, role: "leader" | "follower"): Promise<ClusterNode> {
  const leader = await cluster.streamLeader(jsm, s.alerts.stream);
  if (role === "leader") return leader;
  const view = Object.values(await raftView(jsm));
  const followers = cluster.nodes.filter((n) => n !== leader);
  const score = await Promise.all(
    followers.map(async (n) => 100 * (await n.connections()).filter((c) => c.startsWith("opsbus@")).length + view.filter((v) => v.leader === n.name).length),
  );
  return followers[score.indexOf(Math.max(...score))]!;
}

/** Every stream and consumer with its leader and the replicas its leader sees as not current. */
async function raftView(jsm: JetStreamManager): Promise<Record<string, { leader: string; behind: string[] }>> {
  const out: Record<string, { leader: string; behind: string[] }> = {};
  const view = (c?: { leader?: string; replicas?: Array<{ name: string; current: boolean }> }) => ({
    leader: c?.leader ?? "-",
    behind: (c?.replicas ?? []).filter((r) => !r.current).map((r) => r.name),
  });
  for await (const si of jsm.streams.list()) {
    out[si.config.name] = view(si.cluster);
    for await (const ci of jsm.consumers.list(si.config.name)) out[`${si.config.name}/${ci.name}`] = view(ci.cluster);
  }
  return out;
}

async function failover(role: "leader" | "follower"): Promise<void> {
  const started = Date.now();
  const cluster = await startNatsCluster();
  const db = await createTestDatabase();
  // A short ack_wait: what a worker held when its node (or its consumer's leader) died comes back in seconds.
  // A triage batch that failed on the election (no responders) is retried after 1 s rather than 30.
  const policy = { "alert_routing_policy.yml": { ingest: { ack_wait_seconds: 10 }, work: { ack_wait_seconds: 10, backoff_seconds: [1, 2, 5] } } };
  const env = { ...postgresWorkerEnv(cluster.url, db.url, policy, "failover"), OPS_STREAM_REPLICAS: "3" };
  const workers: OpsbusProcess[] = [];
  const { js, jsm, db: client, close: closeObserver } = await connectObserver(cluster.urls, db.url, { maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  try {
    // Ingest provisions the R3 streams first; triage then finds them.
    workers.push(spawnOpsbus(["worker", "alerts-in"], { ...env, NODE_ID: "ingest" }));
    await waitFor(async () => (await jsm.consumers.info(s.alerts.stream, s.alerts.ingestConsumer)).num_waiting > 0, { timeoutMs: 60_000, message: "ingest worker pulling" });
    workers.push(spawnOpsbus(["worker", "incident-bridge"], { ...env, NODE_ID: "triage" }));
    await waitFor(async () => (await jsm.consumers.info(s.alerts.workStream, s.alerts.workConsumer)).num_waiting > 0, { timeoutMs: 60_000, message: "triage worker pulling" });
    const info = await jsm.streams.info(s.alerts.stream);
    assert.is(info.config.num_replicas, 3, "OPS_ALERTS is R3");

    const pub = publishAlerts(js, s, MIX, { ratePerSec: MIX.total / PUBLISH_SECONDS });
    await publisherReached(pub, MIX.total * 0.2);
    const victim = await pickVictim(cluster, jsm, role);
    const held = await victim.connections();
    const led = Object.entries(await raftView(jsm)).filter(([, v]) => v.leader === victim.name).map(([what]) => what);
    await victim.kill9();
    const killedAt = pub.acked;

    // The pipeline keeps going with one node down: publishes are acknowledged by the other two.
    await publisherReached(pub, Math.min(MIX.total, killedAt + MIX.total * 0.3));
    if (role === "leader") {
      const next = await cluster.streamLeader(jsm, s.alerts.stream);
      assert.is.not(next.name, victim.name, "a new OPS_ALERTS leader took over");
    }
    await victim.restart();
    await pub.done;
    await waitDrained(client, jsm, s, MIX.total, DRAIN_TIMEOUT_MS);

    for (const w of workers) assert.ok(w.child.exitCode === null && w.child.signalCode === null, `worker survived the node loss: ${w.output().slice(-2000)}`);
    await assertAlertInvariants(client, jsm, s, MIX, pub.acked);
    // The restarted node caught up on the alert pipeline's streams and consumers. (Idle ones, such as
    // the graph and job consumers with no worker here, can stay "not current" on 2.9 until used.)
    const pipeline = [s.alerts.stream, s.alerts.workStream, s.events.stream, `${s.alerts.stream}/${s.alerts.ingestConsumer}`, `${s.alerts.workStream}/${s.alerts.workConsumer}`];
    await waitFor(async () => {
      const view = await raftView(jsm);
      return pipeline.every((what) => view[what] && view[what].leader !== "-" && view[what].behind.length === 0);
    }, {
      timeoutMs: 60_000,
      intervalMs: 500,
      message: `every alert-pipeline replica current after ${victim.name} restarted`,
    }).catch(async (err: Error) => {
      throw new Error(`${err.message}: ${JSON.stringify(await raftView(jsm))}`);
    });
    const healthz = await victim.healthz();
    const reconnects = workers.map((w) => `${w.child.spawnargs.at(-1)}: ${(w.output().match(/nats reconnect/g) ?? []).length}`);
    console.log(
      `  ${role} ${victim.name} killed at ${killedAt}/${MIX.total} acked; it led [${led.join(", ")}], held [${held.join(", ")}]; ` +
        `publish retries ${pub.retries}; its /healthz: ${healthz}; worker reconnects ${reconnects.join(", ")}; ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
  } catch (err) {
    for (const w of workers) console.error(w.output().slice(-3000));
    throw err;
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
    await closeObserver();
    await cluster.cleanup();
    await db.drop();
  }
}

test(`R3: kill -9 an OPS_ALERTS follower mid-stream, restart it → ${MIX.total} alerts stored once, ${MIX.signatures} incidents`, () => failover("follower"));

test(`R3: kill -9 the OPS_ALERTS leader mid-stream, restart it → ${MIX.total} alerts stored once, ${MIX.signatures} incidents`, () => failover("leader"));

test.run();
