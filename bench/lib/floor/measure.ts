/**
 * The floor of the Alertmanager intake: the same workload through the least a durable pipeline of
 * opsbus's shape does (floor/gateway.ts → one JetStream message per POST → floor/worker.ts → one
 * Postgres transaction per window, acked after the commit), on its own nats-server and database.
 * Its CPU per 100,000 alerts, beside Alertmanager's, shows what a stored-rate target leaves for the
 * checks, lifecycle and receipts opsbus adds to every alert.
 */
import { AckPolicy, DeliverPolicy, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import { nanos } from "@nats-io/nats-core";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { createTestDatabase } from "../../../test/harness/postgres.js";
import { freePort } from "../../../test/harness/ports.js";
import { sendBatches } from "../../../test/harness/prometheus-sender.js";
import { waitFor } from "../../../test/harness/wait.js";
import type { AmWorkload } from "../am-workload.js";
import { crashGuard, spawnNode, type NodeChild } from "../child.js";
import { Cleanup } from "../cleanup.js";
import { cpuTicks, ownTicks, secondsPer100k, watchBackends } from "../cpu.js";
import { waitForDrain } from "../drain.js";
import { benchServer } from "../server.js";
import { FLOOR_SCHEMA } from "./worker.js";

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = resolve(HERE, "../../..");
const STREAM = "FLOOR";
const CONSUMER = "floor";
const SUBJECT = "floor.alerts";

export interface FloorFigures {
  gateway: number;
  worker: number;
  postgres: number;
  nats: number;
  bench: number;
  answeredRate: number;
  storedRate: number;
}

async function ready(child: NodeChild, what: string): Promise<void> {
  const guard = crashGuard(child);
  try {
    await Promise.race([guard.promise, waitFor(() => child.logTail().includes(`${what} ready`), { timeoutMs: 60_000, intervalMs: 50, message: `${child.name} to start` })]);
  } finally {
    guard.cancel();
  }
}

export async function measureFloor(label: string, alerts: number, w: { warm?: AmWorkload; measured: AmWorkload }): Promise<FloorFigures> {
  const cleanup = new Cleanup();
  const tmpRoot = mkdtempSync(join(tmpdir(), "opsbus-bench-floor-"));
  cleanup.defer("remove temp dir", () => rmSync(tmpRoot, { recursive: true, force: true }));
  try {
    const { nats, jsm } = await benchServer(cleanup);
    await jsm.streams.add({ name: STREAM, subjects: [SUBJECT], retention: RetentionPolicy.Limits, storage: StorageType.File, duplicate_window: nanos(120_000) });
    await jsm.consumers.add(STREAM, { durable_name: CONSUMER, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, ack_wait: nanos(30_000), max_ack_pending: 10_000 });
    const db = await createTestDatabase();
    cleanup.defer(`drop database ${db.name}`, () => db.drop());
    const client = new pg.Client({ connectionString: db.url });
    client.on("error", () => {});
    await client.connect();
    cleanup.defer("close Postgres client", () => client.end());
    await client.query(FLOOR_SCHEMA);

    const port = await freePort();
    const env = { NATS_URL: nats.url, FLOOR_PORT: String(port), FLOOR_SUBJECT: SUBJECT, FLOOR_STREAM: STREAM, FLOOR_CONSUMER: CONSUMER, DATABASE_URL: db.url };
    const spawn = (role: "gateway" | "worker") => {
      const child = spawnNode({ name: `floor ${role} (${label})`, args: [join(HERE, `${role}.ts`)], cwd: REPO_ROOT, env, logFile: join(tmpRoot, `${role}.log`) });
      cleanup.defer(`stop floor ${role}`, () => child.stop());
      return child;
    };
    const gateway = spawn("gateway");
    const worker = spawn("worker");
    await Promise.all([ready(gateway, "floor gateway"), ready(worker, "floor worker")]);

    const url = `http://127.0.0.1:${port}`;
    const post = async (work: AmWorkload, what: string) => {
      const t0 = performance.now();
      const r = await sendBatches(url, work.bodies, { inflight: 8 });
      const answeredMs = performance.now() - t0;
      if (r.answered.length !== work.bodies.length) throw new Error(`floor ${what}: ${work.bodies.length - r.answered.length} POSTs not answered 200 (${JSON.stringify(r.failures)})`);
      const total = (await jsm.streams.info(STREAM)).state.last_seq;
      const drained = await waitForDrain(jsm, { stream: STREAM, consumer: CONSUMER, total, label: `floor ${what}: waiting for the worker` });
      return { answeredMs, storedMs: drained.at - t0 };
    };
    if (w.warm) await post(w.warm, "warm-up");
    const procs = { gateway: gateway.pid, worker: worker.pid, nats: nats.pid };
    const before = Object.fromEntries(Object.entries(procs).map(([k, pid]) => [k, cpuTicks(pid) ?? 0]));
    const backends = watchBackends(client);
    await backends.begin();
    const sender = process.cpuUsage();
    const wall = await post(w.measured, `${label}: ${alerts} alerts`);
    const senderTicks = ownTicks(sender);
    const pgTicks = await backends.end();
    const stored = (await client.query<{ n: string }>("SELECT coalesce(sum(alerts), 0) AS n FROM floor_receipts")).rows[0]!.n;
    const expected = w.measured.count + (w.warm?.count ?? 0);
    if (Number(stored) !== expected) throw new Error(`floor: ${stored} alerts stored, ${expected} sent`);
    const per100k = (ticks: number) => secondsPer100k(ticks, alerts);
    const cpu = (k: keyof typeof procs) => per100k((cpuTicks(procs[k]) ?? 0) - before[k]!);
    return {
      gateway: cpu("gateway"),
      worker: cpu("worker"),
      nats: cpu("nats"),
      postgres: per100k(pgTicks),
      bench: per100k(senderTicks),
      answeredRate: Math.round(alerts / (wall.answeredMs / 1000)),
      storedRate: Math.round(alerts / (wall.storedMs / 1000)),
    };
  } finally {
    await cleanup.run();
  }
}
