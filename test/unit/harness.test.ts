import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import pg from "pg";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { captureLogger } from "../harness/logs.js";
import { startNatsServer, type NatsServerHandle } from "../harness/nats.js";
import { startPgCluster, type PgClusterHandle } from "../harness/pgCluster.js";
import { canConnect, freePort } from "../harness/ports.js";
import { createTestDatabase, type TestDatabase } from "../harness/postgres.js";
import { waitFor } from "../harness/wait.js";

let nats: NatsServerHandle | undefined;
let database: TestDatabase | undefined;
let cluster: PgClusterHandle | undefined;

test.after(async () => {
  await nats?.cleanup();
  await database?.drop();
  await cluster?.destroy();
});

async function queryOne(url: string, sql: string): Promise<Record<string, unknown>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query(sql);
    return rows[0] as Record<string, unknown>;
  } finally {
    await client.end();
  }
}

test("nats-server: JetStream answers, survives kill -9, restarts on the same port", async () => {
  nats = await startNatsServer();
  assert.match(nats.url, /^nats:\/\/127\.0\.0\.1:\d+$/);
  const firstPid = nats.pid;

  const nc = await connect({ servers: nats.url });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: "HARNESS", subjects: ["harness.>"] });
  assert.ok((await jsm.getAccountInfo()).streams >= 1);
  await nc.close();

  await nats.kill9();
  assert.not.ok(await canConnect(nats.port), "nothing listens after kill9");
  await nats.restart();
  assert.is.not(nats.pid, firstPid);

  const again = await connect({ servers: nats.url });
  const info = await (await jetstreamManager(again)).streams.info("HARNESS");
  assert.is(info.config.name, "HARNESS", "the stream survived the crash via the store dir");
  await again.close();
});

test("createTestDatabase: fresh database, dropped afterwards", async () => {
  database = await createTestDatabase();
  const row = await queryOne(database.url, "select current_database() as db");
  assert.is(row.db, database.name);
  await database.drop();
  const base = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
  const gone = await queryOne(base, `select count(*)::int as n from pg_database where datname = '${database.name}'`);
  assert.is(gone.n, 0);
  await database.drop(); // idempotent
});

test("startPgCluster: stop makes it unreachable, start brings it back with its data", async () => {
  cluster = await startPgCluster();
  await queryOne(cluster.url, "create table survives as select 42 as v");
  await cluster.stop();
  assert.not.ok(await canConnect(cluster.port), "nothing listens after stop");
  await cluster.start();
  const row = await queryOne(cluster.url, "select v from survives");
  assert.is(row.v, 42);
});

test("small helpers: freePort, waitFor, captureLogger", async () => {
  assert.ok((await freePort()) > 0);
  let calls = 0;
  assert.is(await waitFor(() => ++calls >= 3 && "done", { intervalMs: 1 }), "done");
  try {
    await waitFor(() => 0, { timeoutMs: 30, message: "never" });
    assert.unreachable("waitFor should time out");
  } catch (err) {
    assert.match((err as Error).message, /waiting for never; last value: 0/);
  }

  const { logger, lines, text } = captureLogger();
  logger.info({ password: "hunter2", worker: "harness" }, "hello");
  assert.equal(lines()[0]?.msg, "hello");
  assert.is(lines()[0]?.password, "***");
  assert.not.ok(text().includes("hunter2"));
});

test.run();
