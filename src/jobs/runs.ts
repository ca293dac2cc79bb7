/**
 * Creating runs and handing them to the runner: shared by `jobs_tool` (manual starts, re-runs,
 * cancel) and the runner (scheduled triggers). Every status change goes through `record`, which
 * publishes a `job.<status>` event keyed by the run and transition number.
 */
import type { JetStreamClient } from "@nats-io/jetstream";
import type { TaskDef, TaskRegistry } from "../config/jobs-policy.js";
import { conflict, notFound } from "../errors.js";
import { newId } from "../ids.js";
import type { Logger } from "../log.js";
import type { EventPublisher } from "../nats/events.js";
import { inputsHash, slotIso } from "./ledger-rules.js";
import type { JobLedgerStore, JobRun, JobRunHeader } from "./ledger-store.js";
import { jobEventType, type JobTrigger, type Subjects } from "../subjects/index.js";

export interface JobRunsDeps {
  store: JobLedgerStore;
  tasks: TaskRegistry;
  js: JetStreamClient;
  subjects: Subjects;
  events: EventPublisher;
  logger: Logger;
  now(): Date;
}

export interface ManualStart {
  task_id: string;
  inputs?: Record<string, unknown>;
  run_token?: string;
  dry_run?: boolean;
  rerun_of?: string;
  requested_by: string;
}

const enc = new TextEncoder();

export class JobRuns {
  constructor(readonly d: JobRunsDeps) {}

  task(taskId: string): TaskDef {
    const task = this.d.tasks.get(taskId);
    if (!task) throw notFound(`unknown task ${taskId}`, { tasks: [...this.d.tasks.keys()] });
    return task;
  }

  /** Publishes `job.<status>` for the run's latest transition (deduped by run and n). */
  async announce(run: JobRun): Promise<void> {
    const last = run.transitions.at(-1);
    const data = {
      run_id: run.id, task_id: run.task_id, trigger: run.trigger, slot: run.slot, status: run.status, dry_run: run.dry_run,
      ...(run.reason ? { reason: run.reason } : {}), ...(run.error_code ? { error_code: run.error_code } : {}),
      ...(run.duration_ms !== undefined ? { duration_ms: run.duration_ms } : {}),
    };
    await this.d.events.publish(jobEventType(run.status), data, `${run.id}:${last?.n ?? 0}`).catch((err) => {
      this.d.logger.warn({ err, run_id: run.id, status: run.status }, "could not publish a job event");
    });
  }

  private header(task: TaskDef, o: { trigger: JobRunHeader["trigger"]; slot: string; key: string; inputs: Record<string, unknown>; dry_run: boolean; requested_by: string; run_token?: string; rerun_of?: string }): JobRunHeader {
    return {
      id: newId("job"), task_id: task.id, trigger: o.trigger, slot: o.slot, key: o.key, tool: task.tool, action: task.action,
      inputs: o.inputs, inputs_hash: inputsHash(o.inputs), dry_run: o.dry_run, requested_by: o.requested_by,
      created_at: this.d.now().toISOString(),
      ...(o.run_token !== undefined ? { run_token: o.run_token } : {}), ...(o.rerun_of !== undefined ? { rerun_of: o.rerun_of } : {}),
    };
  }

  /** The run of a scheduled slot, created on first sight (key `<task>@<slot>`). */
  async forSlot(task: TaskDef, slot: string, scheduler: string): Promise<JobRun> {
    const key = this.d.subjects.jobs.slotMsgId(task.id, slot);
    const h = this.header(task, { trigger: "schedule", slot, key, inputs: task.inputs, dry_run: false, requested_by: `scheduler:${scheduler}` });
    const { run, created } = await this.d.store.createRun(h, this.d.now());
    if (created) await this.announce(run);
    return run;
  }

  /** `jobs_tool.start_task`: records a queued manual run (idempotent by run_token) and triggers it. */
  async startManual(s: ManualStart): Promise<{ run: JobRun; created: boolean }> {
    let task = this.d.tasks.get(s.task_id);
    let inputs: Record<string, unknown>;
    let slot = slotIso(this.d.now());
    let dryRun = s.dry_run ?? false;
    let key: string;
    if (s.rerun_of !== undefined) {
      const prior = await this.d.store.get(s.rerun_of);
      if (!prior) throw notFound(`run ${s.rerun_of} not found`);
      if (prior.status !== "failed" && prior.status !== "canceled") {
        throw conflict(`run ${prior.id} is ${prior.status}; only failed or canceled runs can be re-run`, { status: prior.status });
      }
      task = this.task(prior.task_id);
      ({ inputs, slot, dry_run: dryRun } = prior);
      key = `rerun:${prior.id}`;
    } else {
      task = this.task(s.task_id);
      inputs = { ...task.inputs, ...(s.inputs ?? {}) };
      key = s.run_token !== undefined ? `token:${s.run_token}` : `manual:${newId("key")}`;
    }
    const h = this.header(task, {
      trigger: "manual", slot, key, inputs, dry_run: dryRun, requested_by: s.requested_by,
      ...(s.run_token !== undefined ? { run_token: s.run_token } : {}), ...(s.rerun_of !== undefined ? { rerun_of: s.rerun_of } : {}),
    });
    const { run, created } = await this.d.store.createRun(h, this.d.now());
    if (!created && (run.task_id !== h.task_id || run.inputs_hash !== h.inputs_hash || run.dry_run !== h.dry_run)) {
      throw conflict(`run_token ${s.run_token} already names run ${run.id} of ${run.task_id} with other inputs`, { run_id: run.id });
    }
    if (created) await this.announce(run);
    if (run.status === "queued") await this.trigger({ trigger: "manual", task_id: run.task_id, run_id: run.id });
    return { run, created };
  }

  /** Publishes a trigger; a scheduled one is deduped by `<task>@<slot>`, a manual one by run id. */
  async trigger(t: JobTrigger): Promise<{ duplicate: boolean }> {
    const j = this.d.subjects.jobs;
    const msgID = t.trigger === "schedule" ? j.slotMsgId(t.task_id, t.slot) : `run:${t.run_id}`;
    const ack = await this.d.js.publish(j.trigger(t.task_id), enc.encode(JSON.stringify(t)), { msgID });
    return { duplicate: ack.duplicate };
  }

  /** `jobs_tool.cancel`: best-effort and idempotent. */
  async cancel(runId: string): Promise<JobRun> {
    const before = await this.d.store.get(runId);
    if (!before) throw notFound(`run ${runId} not found`);
    const after = (await this.d.store.requestCancel(runId, this.d.now()))!;
    if (after.transitions.length > before.transitions.length) await this.announce(after);
    return after;
  }
}
