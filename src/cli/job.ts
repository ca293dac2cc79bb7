/** `opsbus job …`: start, cancel, list and export governance job runs through jobs_tool. */
import { parseArgs } from "node:util";
import type { JobRun } from "../jobs/ledger-store.js";
import { TERMINAL_STATUSES } from "../jobs/ledger-store.js";
import { JOB_STATUSES, type JobStatus } from "../subjects/index.js";
import { cliConnection } from "./client.js";
import { exportToDir } from "./job-export.js";
import { intOption, jsonObjectOption, toolCaller, UsageError, type ToolCaller } from "./job-client.js";
import { waitForRun } from "./job-wait.js";

const HELP = `opsbus job <subcommand> [options]

Governance job runs (tasks of ops/task_registry.yml) through jobs_tool; the job runner
(opsbus worker jobs, part of npm start) executes them.

  job run <task_id> [--inputs JSON] [--dry-run] [--wait] [--token T] [--wait-timeout S]
      queue a run; --inputs merges over the task's inputs; --dry-run plans and writes nothing;
      --token makes the start idempotent (same token, same run); --wait follows the run's
      job.* events until it ends (exit 0 succeeded, 1 failed or canceled, 3 skipped)
  job cancel <run_id>        cancel a queued or running run (idempotent)
  job get <run_id>           one run with its status transitions
  job runs [--task T] [--status S[,S]] [--since ISO] [--limit N]
      runs, newest first (statuses: ${JOB_STATUSES.join(", ")})
  job export --from ISO --to ISO --out DIR [--page N]
      write the run ledger of [from, to) as NDJSON plus a manifest with its sha256

Common: --agent ID (default sofiia; the runner itself runs as the scheduler account)
        --key KEY (default $OPSBUS_KEY; required in staging/prod)  --json (raw JSON)
Examples:
  opsbus job run hourly_risk_snapshot --wait
  opsbus job run weekly_backlog_generate --dry-run --wait
  opsbus job runs --task hourly_risk_snapshot --status succeeded,failed --limit 5
  opsbus job export --from 2026-01-01T00:00:00Z --to 2026-02-01T00:00:00Z --out ./ledger-export`;

const OPTIONS = {
  inputs: { type: "string" },
  "dry-run": { type: "boolean" },
  wait: { type: "boolean" },
  token: { type: "string" },
  "wait-timeout": { type: "string" },
  task: { type: "string" },
  status: { type: "string" },
  since: { type: "string" },
  limit: { type: "string" },
  from: { type: "string" },
  to: { type: "string" },
  out: { type: "string" },
  page: { type: "string" },
  agent: { type: "string", default: "sofiia" },
  key: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>["values"];

export async function runJob(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, options: OPTIONS });
  } catch (err) {
    console.error(`opsbus job: ${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [sub, arg] = positionals;
  if (values.help || !sub) {
    console.log(HELP);
    return values.help ? 0 : 2;
  }
  if (!["run", "cancel", "get", "runs", "export"].includes(sub)) {
    console.error(`opsbus job: unknown subcommand "${sub}"; one of run, cancel, get, runs, export (opsbus job --help)`);
    return 2;
  }
  try {
    checkArgs(sub, arg, values);
    const { nc, subjects } = await cliConnection();
    try {
      const call = toolCaller(nc, subjects, { agent: values.agent, ...(values.key ? { key: values.key } : {}) });
      switch (sub) {
        case "run":
          return await start(call, arg!, values, () => waitForRun(nc, subjects, call, intOption("--wait-timeout", values["wait-timeout"], 600) * 1000));
        case "cancel":
          return show(values, (await call<{ run: JobRun }>("jobs_tool", "cancel", { run_id: arg })).run);
        case "get":
          return show(values, (await call<{ run: JobRun }>("jobs_tool", "get_run", { run_id: arg })).run, true);
        case "runs":
          return await list(call, values);
        default:
          return await exportToDir(call, { from: values.from!, to: values.to!, out: values.out!, page: intOption("--page", values.page, 200) });
      }
    } finally {
      await nc.close();
    }
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`opsbus job ${sub}: ${err.message} (opsbus job --help)`);
      return 2;
    }
    console.error(`opsbus job ${sub}: ${(err as Error).message}`);
    return 1;
  }
}

function checkArgs(sub: string, arg: string | undefined, v: Values): void {
  if (sub === "run" && !arg) throw new UsageError("name a task id (see ops/task_registry.yml or opsbus crontab)");
  if ((sub === "cancel" || sub === "get") && !arg) throw new UsageError("name a run id (job_…, from opsbus job runs)");
  if (sub === "export") {
    for (const k of ["from", "to", "out"] as const) if (!v[k]) throw new UsageError(`--${k} is required`);
    for (const k of ["from", "to"] as const) if (Number.isNaN(Date.parse(v[k]!))) throw new UsageError(`--${k} is not an ISO time: ${v[k]}`);
  }
}

async function start(call: ToolCaller, taskId: string, v: Values, wait: () => (run: JobRun) => Promise<JobRun>): Promise<number> {
  const inputs = jsonObjectOption("--inputs", v.inputs);
  // Subscribe before starting, so a fast run's events are not missed.
  const waiter = v.wait ? wait() : undefined;
  const params = { task_id: taskId, ...(inputs ? { inputs } : {}), dry_run: v["dry-run"] ?? false, ...(v.token ? { run_token: v.token } : {}) };
  const { run, created } = await call<{ run: JobRun; created: boolean }>("jobs_tool", "start_task", params);
  if (!v.json) console.error(`${created ? "queued" : "already exists (same --token)"}: ${run.id} (${run.task_id}${run.dry_run ? ", dry run" : ""})`);
  const final = waiter ? await waiter(run) : run;
  show(v, final, Boolean(waiter));
  return exitCode(final.status, Boolean(waiter));
}

function exitCode(status: JobStatus, waited: boolean): number {
  if (!waited) return 0;
  if (status === "succeeded") return 0;
  return status === "skipped" ? 3 : 1;
}

async function list(call: ToolCaller, v: Values): Promise<number> {
  const status = v.status?.split(",").map((s) => s.trim()).filter(Boolean);
  const bad = status?.filter((s) => !(JOB_STATUSES as readonly string[]).includes(s));
  if (bad?.length) throw new UsageError(`--status ${bad.join(",")}: use ${JOB_STATUSES.join(", ")}`);
  const params = { ...(v.task ? { task_id: v.task } : {}), ...(status ? { status } : {}), ...(v.since ? { since: v.since } : {}), limit: intOption("--limit", v.limit, 20) };
  const { runs } = await call<{ runs: JobRun[] }>("jobs_tool", "list_runs", params);
  if (v.json) console.log(JSON.stringify(runs, null, 2));
  else if (runs.length === 0) console.log("no runs match");
  else for (const r of runs) console.log(runLine(r));
  return 0;
}

function show(v: Values, run: JobRun, detail = false): number {
  if (v.json) console.log(JSON.stringify(run, null, 2));
  else {
    console.log(runLine(run));
    if (detail) for (const t of run.transitions) console.log(`  ${t.at}  ${t.status}${t.reason ? ` (${t.reason})` : ""}${t.error_message ? `: ${t.error_message}` : ""}`);
    if (detail && run.outputs !== undefined && TERMINAL_STATUSES.includes(run.status)) console.log(`  outputs: ${JSON.stringify(run.outputs).slice(0, 400)}`);
  }
  return 0;
}

export function runLine(r: JobRun): string {
  const why = r.reason ?? r.error_message ?? r.error_code;
  const took = r.duration_ms !== undefined ? ` ${r.duration_ms} ms` : "";
  return `${r.id}  ${r.task_id.padEnd(32)} ${r.status.padEnd(9)} ${r.trigger.padEnd(8)} ${r.created_at}${took}${r.dry_run ? " dry-run" : ""}${why ? `  ${why}` : ""}`;
}
