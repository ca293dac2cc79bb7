import { parseArgs } from "node:util";
import { headers } from "@nats-io/nats-core";
import { TOOL_NAMES } from "../subjects/index.js";
import { cliConnection } from "./client.js";

const HELP = `opsbus tool <tool> <action> [--params JSON] [--agent ID] [--key KEY] [--timeout MS]

Calls ops.tools.<tool> with {"action", "params", "agent_id"} and prints the reply.
The key defaults to $OPSBUS_KEY (sent as Authorization: Bearer <key>). Exit 1 when the reply is an error.
Example: opsbus tool alert_ingest_tool list --params '{"window_minutes":60}' --agent sofiia`;

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
  const { nc, subjects } = await cliConnection();
  try {
    const h = headers();
    const key = values.key ?? process.env.OPSBUS_KEY;
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
