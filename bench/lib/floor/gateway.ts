/**
 * The floor's intake (a child process of bench/lib/floor/measure.ts): `POST /api/v2/alerts` on
 * node:http, the body parsed once (a 400 needs an array), published as one JetStream message with
 * a Nats-Msg-Id from its hash, `200` after the PubAck. No per-alert check, no fastify, no RBAC or
 * audit: the least a durable Alertmanager intake does. FLOOR_PORT, NATS_URL, FLOOR_SUBJECT.
 */
import { createHash } from "node:crypto";
import { createServer } from "node:http";
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";

const nc = await connect({ servers: process.env.NATS_URL!, noAsyncTraces: true });
const js = jetstream(nc);
const subject = process.env.FLOOR_SUBJECT!;

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    const body = Buffer.concat(chunks);
    let alerts: unknown;
    try {
      alerts = JSON.parse(body.toString("utf8"));
    } catch {
      alerts = undefined;
    }
    if (!Array.isArray(alerts)) {
      res.writeHead(400).end();
      return;
    }
    const msgID = createHash("sha256").update(body).digest("hex");
    js.publish(subject, body, { msgID }).then(
      () => res.writeHead(200).end(),
      () => res.writeHead(503).end(),
    );
  });
});
server.listen(Number(process.env.FLOOR_PORT), "127.0.0.1", () => console.log("floor gateway ready"));
