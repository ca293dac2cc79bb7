/**
 * Issue 11, finding 6 as reproduced: a gateway under `ulimit -n 1024` with 1,100 connections that
 * never send a byte. The connection cap keeps descriptors for the rest of the process (tool calls
 * over NATS store alerts and audit records meanwhile, never EMFILE), the idle timeout closes the
 * held ones, and HTTP answers again afterwards.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { headers as natsHeaders } from "@nats-io/nats-core";
import { HTTP_EDGE_DEFAULTS, STORE_ENV_PREFIX } from "../../src/config/env.js";
import { subjects } from "../../src/subjects/index.js";
import type { ToolReply } from "../../src/subjects/index.js";
import { startNatsServer, type NatsServerHandle } from "../harness/nats.js";
import { freePort } from "../harness/ports.js";
import { holdSocket, openFileLimit, within } from "../harness/raw-http.js";
import { reapAtExit, stopChild } from "../harness/reaper.js";
import { waitFor } from "../harness/wait.js";

const FD_LIMIT = 1024;
const SILENT = 1100;
const IDLE_MS = 4000;

let nats: NatsServerHandle;
let nc: NatsConnection;
let child: ChildProcess;
let output = "";
let port: number;
let dataDir: string;

test.before(async () => {
  nats = await startNatsServer();
  port = await freePort();
  dataDir = mkdtempSync(join(tmpdir(), "opsbus-fd-"));
  const backends = Object.fromEntries(Object.values(STORE_ENV_PREFIX).map((p) => [`${p}_BACKEND`, "jsonl"]));
  // The gateway alone, with the descriptor limit the finding was reproduced under.
  child = spawn("sh", ["-c", `ulimit -n ${FD_LIMIT} && exec "$0" "$@"`, process.execPath, "--import", "tsx", "src/cli.ts", "worker", "gateway"], {
    env: {
      ...process.env,
      ...backends,
      NATS_URL: nats.url,
      DATA_DIR: dataDir,
      OPS_ENV: "prod",
      OPSBUS_API_KEYS: "helion=k-helion",
      OPSBUS_START_NATS: "0",
      HTTP_PORT: String(port),
      HTTP_IDLE_TIMEOUT_MS: String(IDLE_MS),
      LOG_LEVEL: "warn",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  reapAtExit(child);
  for (const s of [child.stdout!, child.stderr!]) s.on("data", (d: Buffer) => void (output += d.toString()));
  nc = await connect({ servers: nats.url });
  await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/healthz`, { headers: { connection: "close" } })).status > 0, { timeoutMs: 60_000, message: `the gateway's HTTP listener; output: ${output}` });
});

test.after(async () => {
  await nc?.close();
  if (child) await stopChild(child, "SIGTERM", 10_000);
  await nats?.cleanup();
  rmSync(dataDir, { recursive: true, force: true });
});

async function toolCall(action: string, params: Record<string, unknown>): Promise<ToolReply> {
  const h = natsHeaders();
  h.set("Authorization", "Bearer k-helion");
  const subject = subjects().tools.of("alert_ingest_tool");
  return (await nc.request(subject, JSON.stringify({ action, params }), { timeout: 10_000, headers: h })).json<ToolReply>();
}

test(`${SILENT} silent connections under ulimit -n ${FD_LIMIT}: capped, closed after the idle timeout, tool calls unharmed`, async () => {
  assert.ok(openFileLimit() > SILENT + 200, "this test process needs room for its own sockets");
  const held = [];
  for (let i = 0; i < SILENT; i += 100) {
    const batch = Array.from({ length: Math.min(100, SILENT - i) }, () => holdSocket(port));
    await Promise.all(batch.map((h) => h.connected));
    held.push(...batch);
  }
  let closedAfter: number[];
  try {
    // While every connection the cap allows is held: calls that append to JSONL stores and the audit log.
    for (let i = 0; i < 20; i++) {
      const reply = await toolCall("ingest", { service: "fd", title: `alert ${i}`, kind: "error_rate", fingerprint: `fd-${i}` });
      assert.ok(reply.ok && (reply.result as { accepted: boolean }).accepted, JSON.stringify(reply));
    }
    const listed = await toolCall("list", { service: "fd" });
    assert.ok(listed.ok, JSON.stringify(listed));
    closedAfter = await within(Promise.all(held.map((h) => h.closed)), IDLE_MS + 15_000, "the gateway closing every silent connection");
  } finally {
    for (const h of held) h.socket.destroy();
  }
  const dropped = closedAfter.filter((ms) => ms < IDLE_MS / 2).length;
  const idled = closedAfter.filter((ms) => ms >= IDLE_MS - 100);
  console.log(`http-fd-limit: ${dropped} dropped at the cap, ${idled.length} closed by the idle timer after ${Math.min(...idled)}-${Math.max(...idled)} ms`);
  assert.ok(dropped >= SILENT - HTTP_EDGE_DEFAULTS.maxConnections, `${dropped} dropped; cap ${HTTP_EDGE_DEFAULTS.maxConnections}`);
  assert.is(dropped + idled.length, SILENT);
  const res = await fetch(`http://127.0.0.1:${port}/v1/tools/execute`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer k-helion" },
    body: JSON.stringify({ tool: "alert_ingest_tool", action: "list", params: { service: "fd" } }),
  });
  assert.is(res.status, 200);
  assert.not.match(output, /EMFILE/);
});

test.run();
