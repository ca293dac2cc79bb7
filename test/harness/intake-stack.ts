/**
 * The gateway (HTTP listener on a free port) and the ingest worker, alerts on a fresh Postgres
 * database, for tests where a real sender (vmalert, Alertmanager) talks to opsbus's intake. The
 * resolve sweep is off, so an alert whose endsAt passed stays unresolved until the sender's own
 * resolve arrives: what a test of that resolve must be able to tell apart.
 */
import { freePort } from "./ports.js";
import { createTestDatabase } from "./postgres.js";
import { startStack, type Stack } from "./stack.js";

export interface IntakeStack {
  stack: Stack;
  /** `http://127.0.0.1:<port>`: the gateway's HTTP listener. */
  url: string;
  stop(): Promise<void>;
}

export async function startIntakeStack(env: Record<string, string> = {}): Promise<IntakeStack> {
  const db = await createTestDatabase();
  const port = await freePort();
  const stack = await startStack({
    roles: ["gateway", "alerts-in"],
    policies: { alertRouting: { alerts: { resolve_sweep_seconds: 3600 } } },
    env: { HTTP_PORT: String(port), ALERT_BACKEND: "postgres", DATABASE_URL: db.url, ...env },
  });
  return {
    stack,
    url: `http://127.0.0.1:${port}`,
    async stop() {
      await stack.stop();
      await db.drop();
    },
  };
}
