/**
 * Jobs: the task registry with each task's state (enabled, next slot, latest run) and the recent
 * run ledger (status, times, who or what triggered it). "Run now" (jobs_tool.start_task) and
 * "Cancel" for a queued or running run (jobs_tool.cancel) are rendered only for a role that may;
 * the page refreshes on every `job.*` event, so a run is seen going queued → running → done.
 */
import type { TaskDef } from "../../../config/jobs-policy.js";
import { JOB_STATUSES, type JobRun } from "../../../jobs/ledger-store.js";
import { html, time, type Html } from "./html.js";
import { failed, toolForm, type Page, type PageContext } from "./layout.js";

const RUNS_SHOWN = 50;
const TASK_ID = /^[a-z][a-z0-9_]{0,63}$/;

/**
 * A jobs_tool.list_tasks task: the registry's task with its next slot and a brief of its latest run.
 * The tool builds this reply and exports no type for it, so it is put together here from the types it is built from.
 */
type TaskRow = Pick<TaskDef, "id" | "description" | "cron" | "tool" | "action" | "enabled" | "dry_run" | "requires" | "service_account"> & {
  next_slot?: string;
  last_run: Pick<JobRun, "id" | "status" | "trigger" | "requested_by" | "created_at" | "finished_at" | "error_message"> | null;
};

/** What the ledger table reads of a jobs_tool.list_runs run (the stored run). */
type RunRow = Pick<
  JobRun,
  "id" | "task_id" | "trigger" | "status" | "dry_run" | "requested_by" | "rerun_of" | "created_at" | "started_at" | "finished_at" | "duration_ms" | "reason" | "error_code" | "error_message" | "cancel_requested"
>;

const state = (status: string): Html => html`<span class="state state-${status}">${status}</span>`;

const duration = (ms: number | undefined): string => (ms === undefined ? "" : ms < 1000 ? `${ms} ms` : ms < 120_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 60_000)} min`);

function runNow(t: TaskRow): Html {
  return toolForm("jobs_tool", "start_task", html`<input type="hidden" name="task_id" value="${t.id}"><button type="submit">Run now</button>`, { label: `Run ${t.id} now` });
}

function taskTable(ctx: PageContext, tasks: TaskRow[]): Html {
  if (tasks.length === 0) {
    return html`<p class="empty">No tasks in the registry. Add them to <code>ops/task_registry.yml</code> (or the file <code>TASK_REGISTRY</code> names) and restart the scheduler and the job runner.</p>`;
  }
  const canRun = ctx.may("jobs_tool", "start_task");
  return html`<table class="tasks"><thead><tr><th scope="col">Task</th><th scope="col">Schedule (UTC)</th><th scope="col">Runs</th><th scope="col">Latest run</th>${canRun ? html`<th scope="col"><span class="muted">Action</span></th>` : ""}</tr></thead><tbody>
${tasks.map((t) => {
  const last = t.last_run;
  return html`<tr data-task="${t.id}"><td><a href="/console/jobs?task=${encodeURIComponent(t.id)}"><code>${t.id}</code></a>${t.description ? html`<div class="muted small">${t.description}</div>` : ""}</td>
<td><code>${t.cron}</code><div class="muted small">${t.enabled ? html`next ${time(t.next_slot, ctx.now)}` : html`<span class="state state-disabled">disabled</span>`}</div></td>
<td><code>${t.tool}.${t.action}</code><div class="muted small">as ${t.service_account}${t.requires.length ? html` · after ${t.requires.map((r) => `${r.task} (${r.within})`).join(", ")}` : ""}</div></td>
<td>${last ? html`${state(last.status)} ${time(last.finished_at ?? last.created_at, ctx.now)}<div class="muted small">${last.trigger} · ${last.requested_by}</div>${last.error_message ? html`<div class="error small">${last.error_message}</div>` : ""}` : html`<span class="muted">never run</span>`}</td>
${canRun ? html`<td>${t.enabled ? runNow(t) : html`<span class="muted small">disabled: a manual run would be skipped</span>`}</td>` : ""}</tr>`;
})}</tbody></table>`;
}

function runTable(ctx: PageContext, runs: RunRow[], filtered: boolean): Html {
  if (runs.length === 0) {
    return filtered
      ? html`<p class="empty">No runs match these filters. <a href="/console/jobs">Clear the filters</a>.</p>`
      : html`<p class="empty">No runs yet. The scheduler (<code>opsbus worker scheduler</code>) triggers each task at its slot${ctx.may("jobs_tool", "start_task") ? html`, or press <strong>Run now</strong> above` : ""}; the job runner (<code>opsbus worker jobs</code>) executes them.</p>`;
  }
  const canCancel = ctx.may("jobs_tool", "cancel");
  return html`<table class="runs"><thead><tr><th scope="col">Run</th><th scope="col">Status</th><th scope="col">Triggered</th><th scope="col">Started</th><th scope="col">Finished</th>${canCancel ? html`<th scope="col"><span class="muted">Action</span></th>` : ""}</tr></thead><tbody>
${runs.map((r) => {
  const open = r.status === "queued" || r.status === "running";
  return html`<tr data-run="${r.id}" data-task="${r.task_id}" data-status="${r.status}"><td><code>${r.task_id}</code>${r.dry_run ? html` <span class="state">dry run</span>` : ""}<div class="muted small">${r.id}${r.rerun_of ? ` · re-run of ${r.rerun_of}` : ""}</div></td>
<td>${state(r.status)}${r.cancel_requested && open ? html` <span class="muted small">cancel requested</span>` : ""}${r.reason && r.reason !== r.status ? html`<div class="muted small">${r.reason}</div>` : ""}${r.error_message ? html`<div class="error small">${r.error_code ? `${r.error_code}: ` : ""}${r.error_message}</div>` : ""}</td>
<td>${time(r.created_at, ctx.now)}<div class="muted small">${r.trigger} · ${r.requested_by}</div></td>
<td>${time(r.started_at, ctx.now)}</td>
<td>${time(r.finished_at, ctx.now)}${r.duration_ms !== undefined ? html`<div class="muted small">${duration(r.duration_ms)}</div>` : ""}</td>
${canCancel ? html`<td>${open && !r.cancel_requested ? toolForm("jobs_tool", "cancel", html`<input type="hidden" name="run_id" value="${r.id}"><button type="submit">Cancel</button>`, { label: `Cancel run ${r.id}` }) : ""}</td>` : ""}</tr>`;
})}</tbody></table>`;
}

export async function jobsPage(ctx: PageContext): Promise<Page> {
  if (!ctx.may("jobs_tool", "list_runs")) {
    return { title: "Jobs", page: "jobs", live: [], body: html`<p class="empty">Your role (${ctx.caller.role}) does not read jobs: that needs <code>tools.jobs.read</code> in config/rbac_tools_matrix.yml.</p>` };
  }
  const task = TASK_ID.test(ctx.query.task ?? "") ? ctx.query.task : undefined;
  const status = (JOB_STATUSES as readonly string[]).includes(ctx.query.status ?? "") ? ctx.query.status : undefined;
  const [t, r] = await Promise.all([
    ctx.call("jobs_tool", "list_tasks"),
    ctx.call("jobs_tool", "list_runs", { limit: RUNS_SHOWN, ...(task ? { task_id: task } : {}), ...(status ? { status: [status] } : {}) }),
  ]);
  const tasks = t.ok ? ((t.result.tasks ?? []) as TaskRow[]) : [];
  const registry = t.ok ? taskTable(ctx, tasks) : failed("the task registry", t);
  const ledger = r.ok ? runTable(ctx, (r.result.runs ?? []) as RunRow[], Boolean(task || status)) : failed("runs", r);
  const filters = html`<form class="filters" method="get" action="/console/jobs">
<label for="task">Task</label> <select id="task" name="task"><option value="">all</option>${tasks.map((x) => html`<option value="${x.id}"${x.id === task ? html` selected` : ""}>${x.id}</option>`)}</select>
<label for="status">Status</label> <select id="status" name="status"><option value="">all</option>${JOB_STATUSES.map((s) => html`<option value="${s}"${s === status ? html` selected` : ""}>${s}</option>`)}</select>
<button type="submit">Filter</button></form>`;
  const body = html`<section aria-labelledby="h-tasks" id="job-tasks" data-live><h2 id="h-tasks">Tasks</h2>${registry}</section>
<section aria-labelledby="h-runs"><h2 id="h-runs">Recent runs <span class="muted small">(newest ${RUNS_SHOWN})</span></h2>${filters}<div id="job-runs" data-live>${ledger}</div></section>`;
  return { title: "Jobs", page: "jobs", live: ["job."], body };
}
