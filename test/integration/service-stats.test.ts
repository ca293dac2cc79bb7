/**
 * $SRV.STATS of the tool service over a real nats-server: error replies (sent with the
 * services-API error headers, never thrown) count as errors, and processing time covers the
 * whole async handler, not only its synchronous start.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/nats-core";
import { Svcm, type ServiceStats } from "@nats-io/services";
import { z } from "zod";
import { OpsError } from "../../src/errors.js";
import { startToolService, type ToolService } from "../../src/gateway/index.js";
import { SERVICE_NAME, subjects as makeSubjects, type ToolReply } from "../../src/subjects/index.js";
import { action, type ToolDef } from "../../src/tools/types.js";
import { startNatsServer, type NatsServerHandle } from "../harness/nats.js";
import { harness } from "../unit/gateway-fixtures.js";

const SLOW_MS = 120;
const subjects = makeSubjects();

/** `wait` answers after SLOW_MS of async work; `refuse` answers with a conflict error. */
const slowTool: ToolDef = {
  name: "slow_tool",
  description: "test tool",
  actions: {
    wait: action({
      entitlement: "tools.echo.read",
      description: "answers after a delay",
      params: z.looseObject({}),
      async handler() {
        await new Promise((r) => setTimeout(r, SLOW_MS));
        return { waited: SLOW_MS };
      },
    }),
    refuse: action({
      entitlement: "tools.echo.read",
      description: "always a conflict",
      params: z.looseObject({}),
      async handler() {
        throw new OpsError("conflict", "already done");
      },
    }),
  },
};

let server: NatsServerHandle;
let nc: NatsConnection;
let service: ToolService;
const h = harness({ tools: [slowTool] });

test.before(async () => {
  server = await startNatsServer({ jetstream: false });
  nc = await connect({ servers: server.url });
  service = await startToolService({ ...h.deps, nc, subjects, version: "0.0.0-test" });
});

test.after(async () => {
  await service?.stop();
  await h.writer.close();
  await nc?.close();
  await server?.cleanup();
});

async function call(act: string): Promise<ToolReply> {
  return (await nc.request(subjects.tools.of("slow_tool"), JSON.stringify({ action: act, params: {} }), { timeout: 5000 })).json<ToolReply>();
}

async function endpointStats(): Promise<NonNullable<ServiceStats["endpoints"]>[number]> {
  const all: ServiceStats[] = [];
  for await (const s of await new Svcm(nc).client().stats(SERVICE_NAME)) all.push(s);
  assert.is(all.length, 1);
  const ep = all[0]!.endpoints?.find((e) => e.name === "slow_tool");
  assert.ok(ep, "slow_tool in $SRV.STATS");
  return ep;
}

test("$SRV.STATS counts an error reply as an error, with its code and message", async () => {
  const before = await endpointStats();
  const reply = await call("refuse");
  assert.equal([reply.ok, reply.ok ? "" : reply.error.code], [false, "conflict"]);
  const after = await endpointStats();
  assert.is(after.num_requests - before.num_requests, 1);
  assert.is(after.num_errors - before.num_errors, 1);
  assert.is(after.last_error, "409 already done");
});

test("$SRV.STATS times the whole async handler, not only its synchronous start", async () => {
  const before = await endpointStats();
  const reply = await call("wait");
  assert.ok(reply.ok, JSON.stringify(reply));
  const after = await endpointStats();
  assert.is(after.num_requests - before.num_requests, 1);
  assert.is(after.num_errors, before.num_errors, "a success is not an error");
  const nanos = after.processing_time - before.processing_time;
  assert.ok(nanos >= (SLOW_MS - 5) * 1e6, `processing time ${nanos / 1e6} ms covers the ${SLOW_MS} ms of async work`);
  assert.ok(after.average_processing_time > 0);
});

test.run();
