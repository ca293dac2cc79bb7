/** A light NATS client for CLI commands: no streams, stores or workers. */
import type { NatsConnection } from "@nats-io/nats-core";
import { loadEnv } from "../config/env.js";
import { openNats } from "../nats/connect.js";
import { naming, subjects, type Subjects } from "../subjects/index.js";

export async function cliConnection(): Promise<{ nc: NatsConnection; subjects: Subjects; url: string }> {
  const env = loadEnv();
  try {
    const nc = await openNats({ url: env.NATS_URL, name: "opsbus-cli", timeoutMs: 3000 });
    return { nc, subjects: subjects(naming(env.OPS_SUBJECT_PREFIX)), url: env.NATS_URL };
  } catch (err) {
    // openNats names the URL (password masked), the identity and the server's reason; a refused
    // credential needs no hint, an unreachable server usually means nothing was started.
    const message = err instanceof Error ? err.message : String(err);
    if (/authori[sz]ation|permission/i.test(message)) throw err;
    throw new Error(`${message}; is opsbus running (npm start)? Set NATS_URL otherwise.`, { cause: err });
  }
}
