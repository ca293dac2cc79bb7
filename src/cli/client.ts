/** A light NATS client for CLI commands: no streams, stores or workers. */
import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/nats-core";
import { loadEnv } from "../config/env.js";
import { naming, subjects, type Subjects } from "../subjects/index.js";

export async function cliConnection(): Promise<{ nc: NatsConnection; subjects: Subjects; url: string }> {
  const env = loadEnv();
  try {
    const nc = await connect({ servers: env.NATS_URL.split(","), name: "opsbus-cli", timeout: 3000 });
    return { nc, subjects: subjects(naming(env.OPS_SUBJECT_PREFIX)), url: env.NATS_URL };
  } catch {
    throw new Error(`cannot reach NATS at ${env.NATS_URL}; is opsbus running (npm start)? Set NATS_URL otherwise.`);
  }
}
