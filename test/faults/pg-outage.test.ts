/**
 * Postgres goes away mid-stream: ingest and triage (each with its own `auto` stores, as separate
 * processes would be) run against a throwaway cluster; we stop it while alerts keep arriving (the
 * stores fall back to JSONL) and the triage worker restarts meanwhile, then start it again. After
 * the retry Postgres must hold every alert with the right occurrence counts and every alert on
 * exactly one incident, nothing doubled. FAULT_SCALE=full holds the outage 30 s, ci 8 s.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import pg from "pg";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { loadEnv, STORE_ENV_PREFIX } from "../../src/config/env.js";
import { loadPolicies } from "../../src/config/load.js";
import { run, type Running } from "../../src/main.js";
import { captureLogger, type CapturedLogger } from "../harness/logs.js";
import { startNatsServer, type NatsServerHandle } from "../harness/nats.js";
import { startPgCluster, type PgClusterHandle } from "../harness/pgCluster.js";
import { waitFor } from "../harness/wait.js";
import { testPool } from "../harness/postgres.js";

const FULL = process.env.FAULT_SCALE === "full";
const OUTAGE_MS = FULL ? 30_000 : 8_000;
/** Alerts per second while the test runs: steady traffic before, during and after the outage. */
const RATE_PER_SEC = 20;
const BURST = 100;
const SERVICES = ["checkout", "payments", "search", "auth"];

let cluster: PgClusterHandle;
let nats: NatsServerHandle;
let ingest: Running;
let triage: Running;
let logs: CapturedLogger;
let db: pg.Pool;
let dataDir: string;
const published = new Map<string, number>(); // "service/title" → publishes
let pub: ReturnType<typeof publisher> | undefined;

test.before(async () => {
  [cluster, nats] = await Promise.all([startPgCluster(), startNatsServer()]);
  db = testPool(cluster.url);
  db.on("error", () => {}); // idle clients die with the cluster
  dataDir = mkdtempSync(join(tmpdir(), "opsbus-pg-outage-"));
  logs = captureLogger("info");
  ingest = await start("alerts-in");
  triage = await start("incident-bridge");
});

/** A role with its own stores and fallback directory, like a process of its own. */
function start(role: "alerts-in" | "incident-bridge"): Promise<Running> {
  const auto = Object.fromEntries(Object.values(STORE_ENV_PREFIX).map((p) => [`${p}_BACKEND`, "auto"]));
  const env = loadEnv({ NATS_URL: nats.url, DATA_DIR: join(dataDir, role), CONFIG_DIR: "config", DATABASE_URL: cluster.url, STORE_RETRY_INTERVAL_SEC: "2", LOG_LEVEL: "info", OPSBUS_START_NATS: "0", ...auto });
  const policies = loadPolicies("config");
  // Short, many retries for triage (60 s in all, over the longest outage plus a restart), so work
  // retried over the outage comes back within the test instead of minutes later.
  policies.alertRouting.work.backoff_seconds = [2, 4, 6, 8];
  policies.alertRouting.work.max_deliver = 10;
  // A pull whose heartbeats a loaded machine misses is given up with a delivery possibly on its way:
  // JetStream hands that one out again only after ack_wait (600 s by default). Short here, so such a
  // delivery comes back inside the test; what the test checks is that nothing is lost or doubled.
  policies.alertRouting.work.ack_wait_seconds = 15;
  return run([role], { env, policies, logger: logs.logger.child({ role }) });
}

test.after(async () => {
  await pub?.stop(); // a failed test must not leave traffic running into a closed connection
  await triage?.stop();
  await ingest?.stop();
  await db?.end();
  await Promise.all([cluster?.destroy(), nats?.cleanup()]);
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

/** Publishes alerts at RATE_PER_SEC until stop() (pacing is the traffic's shape, not a wait); burst() sends some at once. */
function publisher(): { count(): number; burst(k: number): Promise<void>; stop(): Promise<void> } {
  const { js, subjects } = ingest.ctx;
  let n = 0;
  let stopping = false;
  const one = async () => {
    const k = n++;
    const service = SERVICES[k % SERVICES.length]!;
    // Each alert is sent twice, 4 publishes apart: new alerts and dedupes all along the outage.
    const title = `queue lag #${Math.floor(k / (2 * SERVICES.length))}`;
    const alert = { service, title, kind: "latency", severity: "high", env: "prod", source: "monitor@pg-outage" };
    await js.publish(subjects.alerts.in(service), JSON.stringify(alert), { msgID: `pg-outage-${k}` });
    published.set(`${service}/${title}`, (published.get(`${service}/${title}`) ?? 0) + 1);
  };
  const loop = (async () => {
    const started = Date.now();
    for (let tick = 1; !stopping; tick++) {
      await one();
      const ahead = started + (tick * 1000) / RATE_PER_SEC - Date.now();
      if (ahead > 0) await delay(ahead);
    }
  })();
  return {
    count: () => n,
    burst: async (k) => void (await Promise.all(Array.from({ length: k }, one))),
    stop: async () => void ((stopping = true), await loop.catch(() => undefined)),
  };
}

const backends = () => [ingest.ctx.stores.alerts, triage.ctx.stores.alerts, triage.ctx.stores.incidents].map((s) => s.backendName).join();
const ON_POSTGRES = "PostgresAlertStore,PostgresAlertStore,PostgresIncidentStore";
const ON_FALLBACK = "JsonlAlertStore,JsonlAlertStore,JsonlIncidentStore";
const rows = async <T extends pg.QueryResultRow>(sql: string) => (await db.query<T>(sql)).rows;
/** waitFor, failing with where the stores are and the last warnings, to say why it did not happen. */
async function until(probe: () => unknown, message: string, timeoutMs: number): Promise<void> {
  await waitFor(probe, { timeoutMs, message }).catch(async (err: Error) => {
    const lines = logs.lines();
    const warnings = lines.filter((l) => (l.level as number) >= 40).slice(-8).map((l) => `${l.msg} ${(l.err as { message?: string })?.message ?? ""}`);
    // Where the stores went and what they replayed or quarantined, and whether the alerts whose work
    // keeps coming back unknown are in Postgres at all: the two ways such a stall can happen.
    const switches = lines.filter((l) => /replay|quarantin|using /.test(String(l.msg))).map((l) => `${l.role ?? ""} ${l.msg}`);
    const unknown = [...new Set(lines.filter((l) => l.msg === "work for an unknown alert; retried later").map((l) => String(l.alert_ref)))].slice(-5);
    const inPg = unknown.length ? await rows<{ alert_ref: string }>(`SELECT alert_ref FROM alerts WHERE alert_ref IN (${unknown.map((r) => `'${r.replace(/'/g, "''")}'`).join(",")})`).catch((e: Error) => [{ alert_ref: `query failed: ${e.message}` }]) : [];
    const consumers = await consumerStates().catch((e: Error) => `consumer info failed: ${e.message}`);
    if (process.env.PG_OUTAGE_DUMP) writeFileSync(process.env.PG_OUTAGE_DUMP, logs.text());
    throw new Error(`${err.message}\nconsumers: ${consumers}\nbackends: ${backends()}\n${warnings.join("\n")}\nstore switches:\n${switches.join("\n")}\nlast unknown refs ${unknown.join(",")}; in Postgres: ${inPg.map((r) => r.alert_ref).join(",") || "none"}`);
  });
}

/** Pending, held and redelivered counts of the ingest and work consumers: where a stall sits. */
async function consumerStates(): Promise<string> {
  const { jsm, subjects: s } = ingest.ctx;
  const out: string[] = [];
  for (const [stream, consumer] of [[s.alerts.stream, s.alerts.ingestConsumer], [s.alerts.workStream, s.alerts.workConsumer]] as const) {
    const c = await jsm.consumers.info(stream, consumer);
    out.push(`${consumer}: pending ${c.num_pending}, ack_pending ${c.num_ack_pending}, redelivered ${c.num_redelivered}, waiting pulls ${c.num_waiting}`);
  }
  return out.join("; ");
}

/** Ingest and triage have settled everything published (nothing pending, nothing held). */
async function drained(): Promise<boolean> {
  const { jsm, subjects: s } = ingest.ctx;
  for (const [stream, consumer] of [[s.alerts.stream, s.alerts.ingestConsumer], [s.alerts.workStream, s.alerts.workConsumer]] as const) {
    const c = await jsm.consumers.info(stream, consumer);
    if (c.num_pending > 0 || c.num_ack_pending > 0) return false;
  }
  return true;
}

test("alerts and incidents written during a Postgres outage reach Postgres once it is back", async () => {
  const started = Date.now();
  pub = publisher();
  await waitFor(async () => Number((await rows<{ n: string }>("SELECT count(*) AS n FROM incident_events WHERE dedupe_key LIKE 'alert:%'"))[0]!.n) >= 20, {
    timeoutMs: 30_000, message: "incidents in Postgres before the outage",
  });
  assert.is(backends(), ON_POSTGRES);

  // Triage goes down; a burst is stored in Postgres while its work waits; then Postgres goes, and
  // triage comes back during the outage, on its fallback, with work for alerts only Postgres has.
  await triage.stop();
  await pub.burst(BURST);
  await waitFor(async () => {
    const c = await ingest.ctx.jsm.consumers.info(ingest.ctx.subjects.alerts.stream, ingest.ctx.subjects.alerts.ingestConsumer);
    return c.num_pending === 0 && c.num_ack_pending === 0;
  }, { message: "the burst stored in Postgres" });
  await cluster.stop();
  const stoppedAt = Date.now();
  const before = pub!.count();
  triage = await start("incident-bridge");
  await until(() => backends() === ON_FALLBACK, "every store on its JSONL fallback", 20_000);
  // Traffic keeps flowing through the fallback for the whole outage.
  await delay(Math.max(0, OUTAGE_MS - (Date.now() - stoppedAt))); // the outage itself: a deliberate hold
  const during = pub!.count() - before;

  await cluster.start();
  const restartedAt = Date.now();
  await until(() => backends() === ON_POSTGRES, "every store back on Postgres", 30_000);
  const backAfter = Date.now() - restartedAt;
  const target = pub!.count() + RATE_PER_SEC; // another second of traffic on Postgres
  await until(() => pub!.count() >= target, "traffic after the outage", 10_000);
  await pub!.stop();
  await until(drained, "every alert ingested and triaged", 60_000);
  const retried = logs.lines().filter((l) => l.msg === "work for an unknown alert; retried later").length;
  console.log(`pg-outage: ${pub!.count()} alerts (${during} during a ${OUTAGE_MS / 1000} s outage), back on Postgres ${backAfter} ms after restart, ${retried} work items retried, ${Date.now() - started} ms in all`);

  // Every publish counted once: occurrences per (service, title) add up to what was sent.
  const sums = await rows<{ key: string; n: string }>("SELECT service || '/' || title AS key, sum(occurrences) AS n FROM alerts GROUP BY 1 ORDER BY 1");
  assert.equal(Object.fromEntries(sums.map((r) => [r.key, Number(r.n)])), Object.fromEntries([...published].sort()));
  // Every stream message has exactly one receipt (stream path: batch rows of sequences).
  const [r] = await rows<{ n: string; d: string }>("SELECT count(*) AS n, count(DISTINCT s) AS d FROM alert_receipt_batches, unnest(seqs) AS s");
  assert.equal([Number(r!.n), Number(r!.d)], [pub!.count(), pub!.count()], "one receipt per stream message");

  // Every alert is on exactly one incident's timeline, and every one was triaged.
  const alertRefs = (await rows<{ alert_ref: string; status: string }>("SELECT alert_ref, status FROM alerts"));
  const onTimeline = await rows<{ ref: string; n: string }>("SELECT split_part(substr(dedupe_key, 7), '@', 1) AS ref, count(*) AS n FROM incident_events WHERE dedupe_key LIKE 'alert:%' GROUP BY 1");
  const timeline = new Map(onTimeline.map((r) => [r.ref, Number(r.n)]));
  const missing = alertRefs.filter((a) => !timeline.has(a.alert_ref));
  assert.equal(missing, [], `${missing.length} of ${alertRefs.length} alerts are on no incident`);
  assert.ok([...timeline.values()].every((n) => n === 1), "no alert on two timelines");
  assert.equal(alertRefs.filter((a) => a.status !== "acked"), [], "every alert triaged");

  // One incident per signature takes alerts; nothing is left behind in the fallback.
  const open = await rows<{ signature_key: string; n: string }>("SELECT signature_key, count(*) AS n FROM incidents WHERE signature_key IS NOT NULL GROUP BY 1");
  assert.is(open.length, SERVICES.length);
  assert.ok(open.every((r) => Number(r.n) === 1));
  const incidents = Number((await rows<{ n: string }>("SELECT count(*) AS n FROM incidents"))[0]!.n);
  console.log(`pg-outage: ${alertRefs.length} alerts on ${incidents} incidents for ${open.length} signatures`);
  const leftovers = readdirSync(dataDir, { recursive: true, encoding: "utf8" })
    .filter((f) => f.includes("fallback") && f.endsWith(".jsonl") && readFileSync(join(dataDir, f), "utf8").trim() !== "");
  assert.equal(leftovers, [], "fallback files emptied by the replay");
  for (const store of ["alert", "incident"]) {
    assert.ok(logs.lines().some((l) => String(l.msg).startsWith(`${store}_store: replayed `)), `${store} store replayed its fallback`);
  }
});

test.run();
