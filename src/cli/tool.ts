import { parseArgs } from "node:util";
import { headers } from "@nats-io/nats-core";
import { TOOL_NAMES } from "../subjects/index.js";
import { loadEnv } from "../config/env.js";
import { loadPolicy } from "../config/load.js";
import { cliConnection } from "./client.js";

const HELP = `opsbus tool <tool> <action> [--params JSON] [--agent ID] [--key KEY] [--timeout MS]

Calls ops.tools.<tool> with {"action", "params", "agent_id"} and prints the reply.
The key defaults to $OPSBUS_KEY (sent as Authorization: Bearer <key>). Exit 1 when the reply is an error.
Without --agent or a key the call is anonymous (the RBAC default role, dev only): a warning says so.
Example: opsbus tool alert_ingest_tool list --params '{"window_minutes":60}' --agent sofiia`;

/** Said on stderr when a call names nobody: it runs as the RBAC default role, which is easy to miss. */
function anonymousWarning(): string {
  let role = "agent_default";
  try {
    role = loadPolicy(loadEnv().CONFIG_DIR, "rbac").default_role;
  } catch {
    // An unreadable config is the gateway's to report; the warning keeps the shipped default.
  }
  return `opsbus tool: no --agent and no key ($OPSBUS_KEY or --key): calling as an anonymous agent with role ${role} (dev only; staging and prod refuse calls without a key)`;
}

export async function runTool(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      params: { type: "string", default: "{}" },
      agent: { type: "string" },
      key: { type: "string" },
      timeout: { type: "string", default: "10000" },
      help: { type: "boolean", short: "h" },
    },
  });
  const [tool, action] = positionals;
  if (values.help || !tool || !action) {
    console.log(HELP);
    return values.help ? 0 : 2;
  }
  let params: unknown;
  try {
    params = JSON.parse(values.params);
  } catch {
    console.error(`--params is not valid JSON: ${values.params}`);
    return 2;
  }
  const key = values.key ?? process.env.OPSBUS_KEY;
  if (!values.agent && !key) console.error(anonymousWarning());
  const { nc, subjects } = await cliConnection();
  try {
    const h = headers();
    if (key) h.set("Authorization", `Bearer ${key}`);
    const body = JSON.stringify({ action, params, ...(values.agent ? { agent_id: values.agent } : {}) });
    const reply = await nc.request(subjects.tools.of(tool), body, { timeout: Number(values.timeout), headers: h });
    const parsed = reply.json<{ ok: boolean }>();
    console.log(JSON.stringify(parsed, null, 2));
    return parsed.ok ? 0 : 1;
  } catch (err) {
    const msg = (err as Error).message;
    console.error(/no responders/i.test(msg) ? `nothing answers on ${subjects.tools.of(tool)}: ${(TOOL_NAMES as readonly string[]).includes(tool) ? "no gateway is running (npm start, or opsbus worker gateway)" : `no tool "${tool}" (tools: ${TOOL_NAMES.join(", ")})`}` : msg);
    return 1;
  } finally {
    await nc.close();
  }
}

export async function runHealth(_args: string[]): Promise<number> {
  const { nc, subjects } = await cliConnection();
  try {
    const reply = await nc.request(subjects.tools.health, "", { timeout: 5000 });
    const report = reply.json<{ ok: boolean }>();
    console.log(JSON.stringify(report, null, 2));
    return report.ok ? 0 : 1;
  } catch (err) {
    const msg = (err as Error).message;
    console.error(/no responders/i.test(msg) ? `no opsbus answers on ${subjects.tools.health}; is it running (npm start)?` : `no answer on ${subjects.tools.health}: ${msg}`);
    return 1;
  } finally {
    await nc.close();
  }
}
