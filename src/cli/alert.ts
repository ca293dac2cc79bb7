import { parseArgs } from "node:util";
import { jetstream } from "@nats-io/jetstream";
import { makeAlertNormalizer } from "../alerts/normalize.js";
import { loadEnv } from "../config/env.js";
import { loadPolicy } from "../config/load.js";
import { cliConnection } from "./client.js";

const HELP = `opsbus alert publish --service S --title T [options]

Validates the alert as ingest will (kinds and severities from CONFIG_DIR/alert_routing_policy.yml),
then publishes it on ops.alerts.in.<service> (stream OPS_ALERTS) and prints the PubAck.
An alert ingest would reject is not published: the reasons go to stderr, exit 2.
Options: --kind K  --severity P0..P3|critical|high|warning|info  --env dev|staging|prod
         --source S  --message M  --fingerprint F  --label k=v (repeatable)  --msg-id ID
         --json '{...}'  (the whole alert as JSON instead of the flags)`;

export async function runAlert(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      service: { type: "string" },
      title: { type: "string" },
      kind: { type: "string" },
      severity: { type: "string" },
      env: { type: "string" },
      source: { type: "string", default: "opsbus-cli" },
      message: { type: "string" },
      fingerprint: { type: "string" },
      label: { type: "string", multiple: true },
      "msg-id": { type: "string" },
      json: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help || positionals[0] !== "publish") {
    console.log(HELP);
    return values.help ? 0 : 2;
  }
  let alert: Record<string, unknown>;
  if (values.json) {
    try {
      alert = JSON.parse(values.json) as Record<string, unknown>;
    } catch {
      console.error(`--json is not valid JSON: ${values.json}`);
      return 2;
    }
  } else {
    if (!values.service || !values.title) {
      console.error("--service and --title are required (or --json)");
      return 2;
    }
    const labels = Object.fromEntries((values.label ?? []).map((kv) => [kv.split("=")[0], kv.split("=").slice(1).join("=")]));
    alert = Object.fromEntries(
      Object.entries({ service: values.service, title: values.title, kind: values.kind, severity: values.severity, env: values.env, source: values.source, message: values.message, fingerprint: values.fingerprint, labels }).filter(([, v]) => v !== undefined),
    );
  }
  // The server's own validation, before anything is published: a PubAck would only say the alert
  // reached the stream, and the ingest worker would then reject it where nobody is looking.
  const normalize = makeAlertNormalizer(loadPolicy(loadEnv().CONFIG_DIR, "alertRouting"));
  const checked = normalize(alert);
  if (!checked.ok) {
    console.error(`alert not published: it would be rejected by ingest:\n  - ${checked.reasons.join("\n  - ")}`);
    return 2;
  }
  const { nc, subjects } = await cliConnection();
  try {
    const ack = await jetstream(nc).publish(subjects.alerts.in(String(alert.service ?? "unknown")), JSON.stringify(alert), values["msg-id"] ? { msgID: values["msg-id"] } : undefined);
    console.log(JSON.stringify({ stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate }));
    return 0;
  } finally {
    await nc.close();
  }
}
