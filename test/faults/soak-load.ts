/**
 * The soak's load generator, run as its own process so its work is not charged to the stack it
 * measures. Steady mixed load until SIGTERM: alerts published at ALERTS_PER_SEC over a fixed set
 * of fingerprints (and a tenth new ones), a claim + ack cycle and a round of tool reads every second. Prints one JSON
 * line of counts on exit.
 * Usage: node --import tsx test/faults/soak-load.ts <nats-url> <alerts-per-sec>
 */
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { setTimeout as delay } from "node:timers/promises";
import { naming, subjects } from "../../src/subjects/index.js";

const [url, perSecArg] = process.argv.slice(2);
if (!url) {
  console.error("usage: soak-load.ts <nats-url> [alerts-per-sec]");
  process.exit(2);
}
const ALERTS_PER_SEC = Number(perSecArg ?? 100);
const SERVICES = ["checkout", "payments", "search", "auth", "catalog", "orders", "billing", "ledger"];
const S = subjects(naming());
const nc = await connect({ servers: url, name: "soak-load" });
const js = jetstream(nc);
const counts = { published: 0, publish_errors: 0, new_fingerprints: 0, claimed: 0, acked: 0, reads: 0, tool_errors: 0 };

async function call(tool: string, action: string, params: Record<string, unknown>, agent: string): Promise<unknown> {
  const reply = await nc.request(S.tools.of(tool), JSON.stringify({ action, params, agent_id: agent }), { timeout: 10_000 });
  const body = reply.json<{ ok: boolean; result?: unknown }>();
  if (!body.ok) counts.tool_errors += 1;
  return body.result;
}

let seq = 0;
let repeats = 0;
function nextAlert(): { subject: string; body: string; fresh: boolean } {
  const n = seq++;
  // Nine in ten repeat one of 400 fingerprints (dedupes once warm); one in ten is new, so the
  // work queue gets a steady trickle for the claimers.
  const fresh = n % 10 === 0;
  const k = fresh ? n : repeats++ % 400;
  const service = SERVICES[k % SERVICES.length]!;
  const fp = fresh ? `new-${n}` : String(k);
  const alert = {
    service, title: `error rate above SLO on /v1/endpoint-${fp}`, kind: "error_rate", severity: "warning", env: "prod",
    source: "monitor@soak", fingerprint: `soak-${service}-${fp}`, message: `sample ${n}`, labels: { region: "eu-west-1" },
  };
  return { subject: S.alerts.in(service), body: JSON.stringify(alert), fresh };
}

let stopping = false;
process.once("SIGTERM", () => (stopping = true));

async function publishLoop(): Promise<void> {
  const tickMs = 100;
  const perTick = Math.max(1, Math.round((ALERTS_PER_SEC * tickMs) / 1000));
  while (!stopping) {
    const started = Date.now();
    await Promise.all(
      Array.from({ length: perTick }, async () => {
        const a = nextAlert();
        try {
          await js.publish(a.subject, a.body);
          counts.published += 1;
          if (a.fresh) counts.new_fingerprints += 1;
        } catch {
          counts.publish_errors += 1;
        }
      }),
    );
    await delay(Math.max(0, tickMs - (Date.now() - started)));
  }
}

async function toolLoop(): Promise<void> {
  while (!stopping) {
    const started = Date.now();
    try {
      const claimed = (await call("alert_ingest_tool", "claim", { limit: 20, owner: "soak" }, "helion")) as { alerts?: Array<{ alert_ref: string; claim_id: string }> } | undefined;
      for (const a of claimed?.alerts ?? []) {
        counts.claimed += 1;
        await call("alert_ingest_tool", "ack", { alert_ref: a.alert_ref, claim_id: a.claim_id, owner: "soak" }, "helion");
        counts.acked += 1;
      }
      await call("alert_ingest_tool", "list", { limit: 50, window_minutes: 60 }, "sofiia");
      await call("alert_ingest_tool", "dashboard", { window_minutes: 60 }, "sofiia");
      await call("oncall_tool", "incident_list", { status: "open", limit: 50 }, "helion");
      await call("jobs_tool", "list_runs", { limit: 20 }, "sofiia");
      counts.reads += 4;
    } catch {
      counts.tool_errors += 1;
    }
    await delay(Math.max(0, 1000 - (Date.now() - started)));
  }
}

await Promise.all([publishLoop(), toolLoop()]);
console.log(JSON.stringify(counts));
await nc.close();
