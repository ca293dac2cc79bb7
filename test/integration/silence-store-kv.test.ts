/**
 * The KV silence store on a real nats-server, with separate connections standing for separate
 * processes: a write on one reaches the other's live copy within 1 s, compare-and-set holds across
 * them, a store opened later loads everything, retention's purge reaches every copy, and after a
 * kill -9 of nats-server (same store dir) the silences are intact, an expired one still expired,
 * and the watches carry on.
 */
// test-lane: alone (asserts a silence reaches another copy within 1 s)
import { test } from "uvu";
import * as assert from "uvu/assert";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { connectNats } from "../../src/nats/connect.js";
import { silenceState, type Silence } from "../../src/silences/silence.js";
import { SilenceConflict, type SilenceChange, type SilenceStore } from "../../src/silences/store.js";
import { openKvSilenceStore, SILENCE_HISTORY, silenceBucketName } from "../../src/stores/silences/kv.js";
import { captureLogger } from "../harness/logs.js";
import { startNatsServer, type NatsServerHandle } from "../harness/nats.js";
import { waitFor } from "../harness/wait.js";

const BUCKET = silenceBucketName("OPS");
let nats: NatsServerHandle;
const conns: NatsConnection[] = [];
const stores: SilenceStore[] = [];
const logs = captureLogger("warn");

async function open(): Promise<SilenceStore> {
  const nc = await connectNats({ url: nats.url, name: `silence-kv-${conns.length}`, logger: logs.logger });
  conns.push(nc);
  const store = await openKvSilenceStore({ js: jetstream(nc), jsm: await jetstreamManager(nc), bucket: BUCKET, replicas: 1, logger: logs.logger });
  stores.push(store);
  return store;
}

const silence = (id: string, endsInMin: number, over: Partial<Silence> = {}): Silence => ({
  id,
  matchers: [{ name: "alertname", value: "X", is_regex: false, is_equal: true }],
  starts_at: new Date(Date.now() - 60_000).toISOString(),
  ends_at: new Date(Date.now() + endsInMin * 60_000).toISOString(),
  created_by: "helion",
  comment: "test",
  updated_at: new Date().toISOString(),
  ...over,
});
const uuid = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`;

/** Resolves with the first change on `store` that `pred` accepts, and the ms it took from now. */
function nextChange(store: SilenceStore, pred: (c: SilenceChange) => boolean, timeoutMs = 5000): Promise<{ change: SilenceChange; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => (off(), reject(new Error(`no matching change within ${timeoutMs} ms`))), timeoutMs);
    const off = store.onChange((change) => {
      if (!pred(change)) return;
      clearTimeout(timer);
      off();
      resolve({ change, ms: performance.now() - t0 });
    });
  });
}

test.before(async () => {
  nats = await startNatsServer();
});
test.after(async () => {
  for (const s of stores) await s.close();
  for (const nc of conns) await nc.close().catch(() => undefined);
  await nats?.cleanup();
});

test("the bucket is made at open with history and the configured replicas", async () => {
  await open();
  const nc = conns[0]!;
  const info = await (await jetstreamManager(nc)).streams.info(`KV_${BUCKET}`);
  assert.equal([info.config.max_msgs_per_subject, info.config.num_replicas], [SILENCE_HISTORY, 1]);
});

test("a write on one connection is in the other's live copy within 1 s; each sees its own write at once", async () => {
  const [a] = stores as [SilenceStore];
  const b = await open();
  const seen = nextChange(b, (c) => c.kind === "put" && c.silence.id === uuid(1));
  const rev = await a.put(silence(uuid(1), 60), 0);
  assert.ok(a.current().some((s) => s.id === uuid(1)), "read-your-write on the writer");
  const { ms } = await seen;
  assert.ok(ms < 1000, `seen after ${ms.toFixed(0)} ms`);
  assert.equal(b.list().find((s) => s.silence.id === uuid(1))?.revision, rev);
});

test("compare-and-set across connections: a create of an existing id and a stale update are refused", async () => {
  const [a, b] = stores as [SilenceStore, SilenceStore];
  assert.instance(await b.put(silence(uuid(1), 30), 0).catch((err: unknown) => err), SilenceConflict);
  const stored = (await b.get(uuid(1)))!;
  await a.put({ ...stored.silence, comment: "changed by a" }, stored.revision);
  assert.instance(await b.put({ ...stored.silence, comment: "stale write by b" }, stored.revision).catch((err: unknown) => err), SilenceConflict);
  assert.is((await a.get(uuid(1)))!.silence.comment, "changed by a");
});

test("a store opened later loads every stored silence before it answers", async () => {
  const [a] = stores as [SilenceStore];
  for (let i = 10; i < 40; i++) await a.put(silence(uuid(i), 60), 0);
  const late = await open();
  const ids = new Set(late.current().map((s) => s.id));
  for (let i = 10; i < 40; i++) assert.ok(ids.has(uuid(i)), uuid(i));
  assert.ok(ids.has(uuid(1)));
});

test("retention's purge reaches every live copy, and get answers null", async () => {
  const [a, b] = stores as [SilenceStore, SilenceStore];
  const stored = (await a.get(uuid(39)))!;
  const gone = nextChange(b, (c) => c.kind === "removed" && c.id === uuid(39));
  assert.is(await a.remove(uuid(39), stored.revision - 1), false, "a stale revision removes nothing");
  assert.is(await a.remove(uuid(39), stored.revision), true);
  await gone;
  assert.is(await b.get(uuid(39)), null);
  assert.not.ok(b.current().some((s) => s.id === uuid(39)));
});

test("kill -9 of nats-server: silences intact, an expired one still expired, and changes flow again after the restart", async () => {
  const [a, b] = stores as [SilenceStore, SilenceStore];
  const active = (await a.get(uuid(1)))!;
  const expired = { ...active.silence, ends_at: new Date().toISOString(), updated_at: new Date().toISOString() };
  await a.put(expired, active.revision);
  await waitFor(async () => (b.current().find((s) => s.id === uuid(1))?.ends_at === expired.ends_at ? true : undefined), { message: "expiry seen by b" });
  await a.put(silence(uuid(2), 60), 0);

  const following = async () => {
    const l = await b.liveCopy!().catch(() => undefined);
    return l?.watching && l.applied === l.stored ? l : undefined;
  };
  await waitFor(following, { message: "b's live copy follows the bucket (health's check)" });

  await nats.kill9();
  const whileDown = await b.liveCopy!().then(() => "answered", (err: Error) => err.message);
  assert.is.not(whileDown, "answered", "with the server gone the copy cannot be compared: health says so");
  await nats.restart();

  const after = await waitFor(async () => (await b.get(uuid(1)).catch(() => undefined)) ?? undefined, { timeoutMs: 20_000, message: "b reads again after the restart" });
  assert.is(silenceState(after.silence, new Date()), "expired");
  assert.is(after.silence.ends_at, expired.ends_at);
  assert.is(silenceState((await b.get(uuid(2)))!.silence, new Date()), "active");
  // The watches were recreated: a write after the restart reaches the other copy.
  const seen = nextChange(b, (c) => c.kind === "put" && c.silence.id === uuid(3), 20_000);
  await waitFor(async () => a.put(silence(uuid(3), 60), 0).then(() => true, () => undefined), { timeoutMs: 20_000, message: "a writes after the restart" });
  await seen;
  await waitFor(following, { timeoutMs: 20_000, message: "b's live copy follows the bucket again" });
  // A fresh process after the crash loads the same state.
  const fresh = await open();
  assert.is(silenceState(fresh.current().find((s) => s.id === uuid(1))!, new Date()), "expired");
  assert.ok(fresh.current().some((s) => s.id === uuid(3)));
});

test.run();
