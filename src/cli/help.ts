/** `--help` texts for the commands whose handlers live in src/cli.ts, and the check for the flag. */
import { ROLES } from "../app/roles.js";

/** True when the arguments ask for help: `-h`, `--help` or `help` first. */
export function wantsHelp(args: readonly string[]): boolean {
  return args.includes("--help") || args.includes("-h") || args[0] === "help";
}

export const START_HELP = `opsbus start

Runs every role (${ROLES.join(", ")}) in this process until SIGINT/SIGTERM,
then drains: in-flight batches finish, undelivered work is nak'd for another worker.
Where no NATS server answers at NATS_URL and a nats-server binary is on PATH, starts one with
JetStream under DATA_DIR/nats (OPSBUS_START_NATS=0 turns that off).
Stores default to auto (Postgres when a DSN is set, else JSONL under DATA_DIR).
The log line "opsbus running" says it is ready. Same as: npm start`;

export const WORKER_HELP = `opsbus worker <role>

Runs one role alone, for scaling out: several processes of a role share one durable consumer
(or the services-API queue group), so add processes to add throughput.
Roles:
  gateway      the tool API (ops.tools.*), ops.health, ops.monitor.status, the dead-alert
               watcher, the nodes poller, and HTTP (/metrics …) when HTTP_PORT is set
  alerts-in    ingest: validate, dedupe, persist, publish work and events
  incident-bridge  the alert -> incident bridge; queues triage runs ("triage", its
               former name, still works and logs a deprecation warning)
  graph-runs   writes triage reports and postmortem drafts
  scheduler    publishes ops/task_registry.yml triggers (run two for HA: one run per slot)
  jobs         runs triggered governance jobs and records the run ledger
  notifier     plans incident moments into notifications and sends them to the receivers of
               config/receivers.yml (run several: each notification is sent once)
Run several processes only with Postgres stores (JSONL stores belong to one process).
Example: ALERT_BACKEND=postgres INCIDENT_BACKEND=postgres DATABASE_URL=postgres://... opsbus worker incident-bridge`;

export const HEALTH_HELP = `opsbus health

Asks ops.health and prints the node, store backends and queue depth per consumer
(pending = not yet delivered, ack_pending = held by workers or claimers). A consumer is
"missing" when work waits and no worker pulls, "stalled" when work waits and neither its ack
floor nor its deliveries move for HEALTH_STALL_SECONDS; the audit writer is reported too.
Exit 0 when the node reports ok, 1 otherwise or when nothing answers.`;

/** Prints a help text; exit code 0. */
export function printHelp(text: string): number {
  console.log(text);
  return 0;
}
