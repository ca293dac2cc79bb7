import { parseArgs } from "node:util";
import { jetstream } from "@nats-io/jetstream";
import { loadEnv } from "../config/env.js";
import { loadTaskRegistry } from "../config/jobs-policy.js";
import { renderCrontab } from "../jobs/crontab.js";
import { slotIso } from "../jobs/ledger-rules.js";
import { cliConnection } from "./client.js";

const HELP = `opsbus crontab [--cwd DIR] [--command CMD]
opsbus crontab trigger <task_id> [--slot ISO]

Prints the task registry (TASK_REGISTRY, default ops/task_registry.yml) as a system crontab.
"trigger" publishes a task's scheduled trigger for the current minute (or --slot), the way the
scheduler does; that is what the crontab lines run.`;

export async function runCrontab(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { cwd: { type: "string" }, command: { type: "string", default: "npx opsbus" }, slot: { type: "string" }, help: { type: "boolean", short: "h" } },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const env = loadEnv();
  const tasks = loadTaskRegistry(env.TASK_REGISTRY);
  if (positionals[0] !== "trigger") {
    process.stdout.write(renderCrontab(tasks, { cwd: values.cwd ?? process.cwd(), command: values.command, source: env.TASK_REGISTRY }));
    return 0;
  }
  const taskId = positionals[1];
  if (!taskId || !tasks.has(taskId)) {
    console.error(`opsbus crontab trigger: name a task of ${env.TASK_REGISTRY}: ${[...tasks.keys()].join(", ")}`);
    return 2;
  }
  const at = values.slot ? new Date(values.slot) : new Date(Math.floor(Date.now() / 60_000) * 60_000);
  if (Number.isNaN(at.getTime())) {
    console.error(`--slot is not an ISO time: ${values.slot}`);
    return 2;
  }
  const { nc, subjects } = await cliConnection();
  try {
    const slot = slotIso(at);
    const body = JSON.stringify({ trigger: "schedule", task_id: taskId, slot, scheduler: "crontab" });
    const ack = await jetstream(nc).publish(subjects.jobs.trigger(taskId), body, { msgID: subjects.jobs.slotMsgId(taskId, slot) });
    console.log(`${taskId}@${slot}: ${ack.duplicate ? "already triggered" : "triggered"}`);
    return 0;
  } finally {
    await nc.close();
  }
}
