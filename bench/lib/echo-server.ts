/**
 * Bench helper process (not a library): a services-API service with one endpoint that replies
 * its input, the floor any tool call's latency is compared with. Prints `ready` when listening.
 * Usage: node --import tsx bench/lib/echo-server.ts <nats-url> <subject>
 */
import { connect } from "@nats-io/transport-node";
import { Svcm } from "@nats-io/services";

const [url, subject] = process.argv.slice(2);
if (!url || !subject) {
  console.error("usage: echo-server.ts <nats-url> <subject>");
  process.exit(2);
}
const nc = await connect({ servers: url, name: "bench-echo", noAsyncTraces: true });
const service = await new Svcm(nc).add({ name: "bench-echo", version: "1.0.0" });
service.addEndpoint("echo", { subject, handler: (_err, msg) => void msg.respond(msg.data) });
await nc.flush();
console.log("ready");
process.once("SIGTERM", () => {
  void service.stop().then(() => nc.close()).then(() => process.exit(0));
});
