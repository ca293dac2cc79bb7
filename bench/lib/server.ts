/** A bench-owned nats-server and a client connection to it, both released by `cleanup`. */
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { startNatsServer } from "../../test/harness/nats.js";
import type { Cleanup } from "./cleanup.js";

export async function benchServer(cleanup: Cleanup) {
  const nats = await startNatsServer();
  cleanup.defer("stop nats-server", () => nats.cleanup());
  // The same client settings as opsbus (src/nats/connect.ts): a handicapped baseline would flatter the ratios.
  const nc = await connect({ servers: nats.url, name: "opsbus-bench", noAsyncTraces: true });
  cleanup.defer("close bench connection", () => nc.close());
  const js = jetstream(nc, { timeout: 30_000 });
  const jsm = await jetstreamManager(nc);
  return { nats, nc, js, jsm };
}
