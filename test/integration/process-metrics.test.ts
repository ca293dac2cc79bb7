/**
 * One role per process (the compose layout): a worker-only process started with METRICS_PORT
 * serves its own /metrics (what it did: alerts it ingested) and /healthz (its own consumers only).
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/nats-core";
import { jetstream } from "@nats-io/jetstream";
import type { HealthReport } from "../../src/observability/health.js";
import { naming, subjects as makeSubjects } from "../../src/subjects/index.js";
import { startNatsServer, type NatsServerHandle } from "../harness/nats.js";
import { freePort } from "../harness/ports.js";
import { spawnOpsbus, type OpsbusProcess } from "../harness/process.js";
import { threadNices } from "../harness/threads.js";
import { waitFor } from "../harness/wait.js";

const subjects = makeSubjects(naming("ops"));
let nats: NatsServerHandle;
let nc: NatsConnection;
let worker: OpsbusProcess;
let base: string;
let dataDir: string;

test.before(async () => {
  nats = await startNatsServer();
  nc = await connect({ servers: nats.url });
  dataDir = mkdtempSync(join(tmpdir(), "opsbus-procmetrics-"));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const memory = Object.fromEntries(["ALERT", "AUDIT", "INCIDENT", "RISK", "JOB", "BACKLOG"].map((p) => [`${p}_BACKEND`, "memory"]));
  const env = { NATS_URL: nats.url, OPSBUS_START_NATS: "0", DATA_DIR: dataDir, CONFIG_DIR: "config", METRICS_PORT: String(port), OPSBUS_INGEST_NICE: "3", ...memory };
  worker = spawnOpsbus(["worker", "alerts-in"], env);
  await waitFor(async () => (await fetch(`${base}/healthz`).catch(() => null))?.status === 200, {
    timeoutMs: 60_000,
    message: "the alerts-in process to answer /healthz",
  }).catch((err: Error) => {
    throw new Error(`${err.message}\n${worker.output()}`);
  });
});

test.after(async () => {
  await worker?.stop();
  await nc?.close();
  await nats?.cleanup();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

async function scrape(): Promise<string> {
  const res = await fetch(`${base}/metrics`);
  assert.is(res.status, 200);
  assert.is(res.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  return res.text();
}

const sample = (text: string, series: string) => {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

test("the alerts-in process's /metrics counts the alerts it ingested", async () => {
  const before = await scrape();
  assert.is(sample(before, "opsbus_alerts_ingested_total"), 0);
  const js = jetstream(nc);
  for (const fp of ["pm-1", "pm-1", "pm-2"]) await js.publish(subjects.alerts.in("procmetrics"), JSON.stringify({ service: "procmetrics", title: `t ${fp}`, kind: "custom", fingerprint: fp }));
  const after = await waitFor(async () => {
    const text = await scrape();
    return sample(text, "opsbus_alerts_ingested_total") === 3 ? text : null;
  }, { message: "3 alerts ingested in the worker's own /metrics" });
  assert.is(sample(after, "opsbus_alerts_deduped_total"), 1);
  // Its own consumer only, read at scrape time; process metrics come with prom-client.
  assert.is(sample(after, 'opsbus_consumer_pending{stream="OPS_ALERTS",consumer="alerts-ingest"}'), 0);
  assert.is(sample(after, 'opsbus_consumer_missing{stream="OPS_ALERTS",consumer="alerts-ingest"}'), 0);
  assert.not.ok(after.includes('consumer="alerts-work"'), "alerts-work is the triage processes' business");
  assert.ok((sample(after, "process_resident_memory_bytes") ?? 0) > 0);
});

test("a process running only the ingest worker keeps its priority for NATS-native alerts, and runs every thread OPSBUS_INGEST_NICE below once an HTTP intake's batch arrives", async () => {
  if (!existsSync("/proc/self/task")) return;
  const own = threadNices(process.pid)[0]!;
  const before = threadNices(worker.child.pid!);
  assert.ok(before.length > 1);
  assert.equal(before, before.map(() => own), `NATS-native alerts only: threads at ${before.join(", ")}`);
  const batch = { v: 1, via: "alertmanager", received_at: new Date().toISOString(), format: "alertmanager-v2", alerts: [{ labels: { alertname: "PM", service: "procmetrics" } }] };
  await jetstream(nc).publish(subjects.alerts.batch("alertmanager"), JSON.stringify(batch));
  const nices = await waitFor(() => {
    const n = threadNices(worker.child.pid!);
    return n.every((x) => x === Math.min(19, own + 3)) ? n : undefined;
  }, { message: `every thread at ${Math.min(19, own + 3)} after the intake's batch` });
  assert.ok(nices.length > 1);
});

test("the alerts-in process's /healthz answers for its own consumer, not for work waiting on others", async () => {
  // The 2 work items the ingest made wait on alerts-work with no triage worker anywhere: the
  // gateway's health would say so; this process has nothing to do with it.
  const res = await fetch(`${base}/healthz`);
  assert.is(res.status, 200);
  const h = (await res.json()) as HealthReport;
  assert.equal([h.ok, h.roles], [true, ["alerts-in"]]);
  assert.equal(Array.isArray(h.queues) && h.queues.map((q) => [q.consumer, q.state]), [["alerts-ingest", "ok"]]);
});

test.run();
