/**
 * The job runner's per-trigger work, without NATS: find or create the run, check it may run
 * (task known and enabled, dry run supported, `requires` met in the ledger), take the per-task
 * lease (overlap → skipped), then execute the task's tool action through the gateway core (its
 * port `TaskGateway`: registry, RBAC, limits and audit) as the task's service account. The lease is
 * renewed while the action runs; a cancel request seen on renewal aborts the action's signal.
 */
import { OpsError } from "../errors.js";
import type { Logger } from "../log.js";
import { slotIso } from "./ledger-rules.js";
import { ABANDONED, type JobRun, type NewTransition } from "./ledger-store.js";
import { JobTrigger } from "../subjects/index.js";
import { JobRuns } from "./runs.js";
import { periodOf } from "./slots.js";
import type { TaskGateway } from "./task-gateway.js";
import { forgeryOf, refuseForged, SCHEDULED_REQUESTER } from "./trigger-check.js";
import { isTransientCode, retryTransient, transientBackoffMs } from "../util/transient.js";

/** Outputs larger than this are recorded as their size and sha256 only. */
export const MAX_OUTPUT_BYTES = 64 * 1024;
/**
 * A scheduled slot whose run was abandoned (its runner died) is re-run automatically, and a re-run
 * abandoned in turn again, up to this many times; after that the slot waits for a human.
 */
export const MAX_AUTOMATIC_RERUNS = 3;
/** How far back a sweep looks for abandoned runs still waiting for their re-run, and how many it reads. */
const ORPHAN_WINDOW_MS = 60 * 60_000;
const ORPHAN_LIMIT = 200;
/** `requested_by` of the runs the sweep starts, so a chain of them can be counted. */
export const AUTOMATIC_RERUN_BY = "runner:abandoned";

export interface RunnerDeps {
  runs: JobRuns;
  gateway: TaskGateway;
  nodeId: string;
  holder: string;
  /** Aborted when the runner stops: transient retries give up and the lease sweep takes over. */
  stopping?: AbortSignal;
}

/** How long a run's tool call is retried while it answers `unavailable`. */
export const TRANSIENT_RETRY_MS = 10 * 60_000;

/** `unavailable` from a backend, as opposed to the call's own deadline (`details.timeout_ms`). */
function isTransientReply(error: { code: string; details?: unknown }): boolean {
  const details = error.details as { timeout_ms?: unknown } | undefined;
  return isTransientCode(error.code) && details?.timeout_ms === undefined;
}

export type TriggerOutcome = { settle: "ack" | "term"; run?: JobRun; reason?: string };

function boundedOutputs(result: unknown): unknown {
  const text = JSON.stringify(result ?? null);
  if (Buffer.byteLength(text) <= MAX_OUTPUT_BYTES) return result ?? null;
  return { truncated: true, bytes: Buffer.byteLength(text) };
}

export class JobRunner {
  constructor(private readonly d: RunnerDeps) {}

  private get store() {
    return this.d.runs.d.store;
  }

  private now(): Date {
    return this.d.runs.d.now();
  }

  /** One trigger, parsed here; never throws for bad input (the caller terms it). */
  async handle(payload: unknown, logger: Logger, onStarted: () => void = () => {}): Promise<TriggerOutcome> {
    const parsed = JobTrigger.safeParse(payload);
    if (!parsed.success) return { settle: "term", reason: `not a job trigger: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}` };
    const t = parsed.data;
    let run: JobRun | null;
    if (t.trigger === "schedule") {
      const task = this.d.runs.d.tasks.get(t.task_id);
      if (!task) return { settle: "term", reason: `unknown task ${t.task_id}` };
      // A slot the task's cron would not trigger now is forged: recorded, audited, never run.
      const forged = forgeryOf(task, t.slot, this.now());
      if (forged) return { settle: "ack", run: await refuseForged(this.d, task, t, forged, logger) };
      run = await this.d.runs.forSlot(task, slotIso(new Date(t.slot)), SCHEDULED_REQUESTER);
    } else {
      run = await this.store.get(t.run_id);
      if (!run) return { settle: "term", reason: `unknown run ${t.run_id}` };
    }
    if (run.status !== "queued") return { settle: "ack", run };
    return { settle: "ack", run: await this.process(run, logger, onStarted) };
  }

  private async finish(run: JobRun, from: JobRun["status"][], t: NewTransition): Promise<JobRun> {
    // The outcome is known: a ledger that cannot be reached right now must not turn it into an abandoned run.
    const done = await retryTransient(() => this.store.transition(run.id, from, { ...t, node_id: this.d.nodeId }, this.now()), { ...(this.d.stopping ? { signal: this.d.stopping } : {}) });
    if (done) await this.d.runs.announce(done);
    return done ?? (await this.store.get(run.id)) ?? run;
  }

  /** Why a queued run must not execute, if it must not. */
  private async refusal(run: JobRun): Promise<NewTransition | null> {
    const task = this.d.runs.d.tasks.get(run.task_id);
    if (!task) return { status: "skipped", reason: "unknown_task", error_message: `task ${run.task_id} is not in the registry` };
    if (!task.enabled) return { status: "skipped", reason: "disabled", error_message: `task ${task.id} is disabled` };
    if (run.dry_run && task.dry_run === "unsupported") {
      return { status: "skipped", reason: "dry_run_unsupported", error_message: `${task.tool}.${task.action} has no dry run (dry_run: unsupported)` };
    }
    for (const req of task.requires) {
      const { start, end } = periodOf(new Date(run.slot), req.within);
      const ok = await this.store.list({ task_id: req.task, status: ["succeeded"], dry_run: false, slot_since: start.toISOString(), slot_until: end.toISOString(), limit: 1 });
      if (!ok.length) {
        return { status: "skipped", reason: "requires_unmet", error_message: `${req.task} has no succeeded run with a slot in [${start.toISOString()}, ${end.toISOString()})` };
      }
    }
    return null;
  }

  private async process(queued: JobRun, logger: Logger, onStarted: () => void): Promise<JobRun> {
    const refused = await this.refusal(queued);
    if (refused) return this.finish(queued, ["queued"], refused);
    const task = this.d.runs.d.tasks.get(queued.task_id)!;
    const leaseMs = task.lease_seconds * 1000;
    const leaseUntil = () => new Date(this.now().getTime() + leaseMs).toISOString();
    const start = await this.store.startRun(queued.id, { holder: this.d.holder, lease_until: leaseUntil(), skipIfRunning: task.overlap === "skip", node_id: this.d.nodeId }, this.now());
    if (!start) return (await this.store.get(queued.id)) ?? queued;
    await this.d.runs.announce(start.run);
    if (!start.started) return start.run;
    onStarted(); // the lease guards the run from here; the trigger need not be held
    return this.execute(start.run, leaseMs, leaseUntil, logger.child({ run_id: queued.id, task_id: task.id }));
  }

  private async execute(run: JobRun, leaseMs: number, leaseUntil: () => string, log: Logger): Promise<JobRun> {
    const task = this.d.runs.d.tasks.get(run.task_id)!;
    const controller = new AbortController();
    let canceled = false;
    let lost = false;
    const heartbeat = setInterval(() => {
      void this.store.renewLease(run.id, this.d.holder, leaseUntil()).then(
        (r) => {
          if (r.cancelRequested && !canceled) {
            canceled = true;
            controller.abort(new OpsError("conflict", `run ${run.id} was canceled`));
          } else if (!r.held && !lost) {
            lost = true;
            controller.abort(new OpsError("unavailable", `run ${run.id} lost its lease`));
          }
        },
        (err) => log.warn({ err }, "could not renew a job lease"),
      );
    }, Math.max(250, Math.floor(leaseMs / 3)));
    const params = run.dry_run ? { ...run.inputs, dry_run: true } : run.inputs;
    try {
      const call = () => this.d.gateway.execute({
        tool: task.tool,
        action: task.action,
        params,
        agent: task.service_account,
        signal: controller.signal,
        requestId: run.id,
      });
      let reply = await call();
      // `unavailable` (a backend down, a pool exhausted) is retried with backoff while the lease is
      // held, up to TRANSIENT_RETRY_MS: it is not the task's failure. A deadline is not retried.
      const retryUntil = Date.now() + TRANSIENT_RETRY_MS;
      for (let n = 1; !reply.ok && isTransientReply(reply.error) && !canceled && !lost && !this.d.stopping?.aborted && Date.now() < retryUntil; n++) {
        const delayMs = transientBackoffMs(n, { maxMs: 30_000 });
        log.warn({ code: reply.error.code, message: reply.error.message, retry: n, delay_ms: delayMs }, "job run hit a transient failure; retrying");
        await new Promise((r) => setTimeout(r, delayMs));
        if (canceled || lost) break;
        reply = await call();
      }
      if (canceled) return this.finish(run, ["running"], { status: "canceled", reason: "canceled", ...(reply.ok ? { outputs: boundedOutputs(reply.result) } : {}) });
      if (reply.ok) {
        log.info("job run succeeded");
        return this.finish(run, ["running"], { status: "succeeded", outputs: boundedOutputs(reply.result) });
      }
      log.warn({ code: reply.error.code, message: reply.error.message }, "job run failed");
      return this.finish(run, ["running"], { status: "failed", error_code: reply.error.code, error_message: reply.error.message });
    } finally {
      clearInterval(heartbeat);
    }
  }

  /**
   * Marks runs whose runner died (lease expired) as failed/abandoned and re-runs their slot when it
   * was scheduled, so every slot still gets its one successful run. Only the sweep that moved a run
   * to failed sees it, and a re-run is keyed by the run it repeats: never two re-runs of one run.
   */
  async sweep(logger?: Logger): Promise<JobRun[]> {
    const swept = await this.store.sweepExpired(this.now(), this.d.nodeId);
    for (const run of swept) {
      await this.d.runs.announce(run);
      await this.rerun(run, logger);
    }
    // A sweeper killed between marking a run abandoned and re-running it left the slot without its
    // run: later sweeps finish that. Creating the re-run is keyed by the run, so racing is harmless.
    for (const run of await this.abandonedWithoutRerun()) await this.rerun(run, logger);
    return swept;
  }

  private async rerun(run: JobRun, logger?: Logger): Promise<void> {
    const depth = await this.automaticDepth(run);
    if (depth === null || depth >= MAX_AUTOMATIC_RERUNS) return;
    const { run: rerun, created } = await this.d.runs.startManual({ task_id: run.task_id, rerun_of: run.id, requested_by: AUTOMATIC_RERUN_BY });
    if (created) logger?.warn({ run_id: run.id, rerun_id: rerun.id, slot: run.slot, attempt: depth + 1 }, "abandoned scheduled run re-run");
  }

  /** Runs abandoned within ORPHAN_WINDOW_MS that have no re-run yet. */
  private async abandonedWithoutRerun(): Promise<JobRun[]> {
    const since = new Date(this.now().getTime() - ORPHAN_WINDOW_MS).toISOString();
    const failed = await this.store.list({ status: ["failed"], since, limit: ORPHAN_LIMIT });
    const out: JobRun[] = [];
    for (const r of failed) if (r.error_code === ABANDONED && !(await this.store.getByKey(`rerun:${r.id}`))) out.push(r);
    return out;
  }

  /** How many automatic re-runs led to `run` from its scheduled slot; null when it is not from a schedule. */
  private async automaticDepth(run: JobRun): Promise<number | null> {
    let depth = 0;
    let cur: JobRun | null = run;
    while (cur && cur.requested_by === AUTOMATIC_RERUN_BY && cur.rerun_of) {
      depth += 1;
      cur = await this.store.get(cur.rerun_of);
    }
    return cur?.trigger === "schedule" ? depth : null;
  }
}
