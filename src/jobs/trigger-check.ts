/**
 * Defence in depth for scheduled triggers. Anyone who may publish on the trigger subject (an open
 * server, a leaked scheduler password) could otherwise run any task at any time with any slot. A
 * trigger is taken only when its slot is a slot of the task's own cron (UTC) and is due; anything
 * else is refused: a ledger run `skipped` with reason `forged` under its own key (so the real slot
 * stays free), its job events, and an audit record (decision deny). The run is never executed.
 *
 * Who published a trigger cannot be known from the message, so a scheduled run's `requested_by`
 * never comes from it: it is `scheduler:cron` (the registry's schedule asked for it). Manual runs
 * are unaffected: their trigger names a run jobs_tool recorded through RBAC and the audit.
 */
import type { TaskDef } from "../config/jobs-policy.js";
import { newId } from "../ids.js";
import type { Logger } from "../log.js";
import { inputsHash, slotIso } from "./ledger-rules.js";
import type { JobRun } from "./ledger-store.js";
import type { JobTrigger } from "../subjects/index.js";
import type { JobRuns } from "./runs.js";
import { cronOf } from "./slots.js";
import type { TaskGateway } from "./task-gateway.js";

/** `requested_by` of every scheduled run is `scheduler:<this>`, whatever the message claims. */
export const SCHEDULED_REQUESTER = "cron";
/** The skip reason of a refused trigger. */
export const FORGED = "forged";
/** A slot may arrive this much before its time (clock skew between scheduler and runner hosts). */
export const MAX_EARLY_MS = 5 * 60_000;
/** The audit channel of refused triggers. */
export const TRIGGER_CHANNEL = "job_trigger";
/** Longest claimed scheduler name kept in the audit record. */
const MAX_CLAIM_CHARS = 128;

type ScheduledTrigger = Extract<JobTrigger, { trigger: "schedule" }>;

/** Why `slot` is not a slot the task's schedule would trigger at `now`, or null when it is. */
export function forgeryOf(task: Pick<TaskDef, "id" | "cron">, slot: string, now: Date): string | null {
  const at = new Date(slot);
  if (Number.isNaN(at.getTime()) || at.getUTCMilliseconds() !== 0) return `slot ${slot} is not a whole second`;
  // nextRun is strictly after its argument: one second back lands on `at` only when `at` is a slot.
  const next = cronOf(task.cron).nextRun(new Date(at.getTime() - 1000));
  if (next?.getTime() !== at.getTime()) return `slot ${slotIso(at)} is not a slot of ${task.id}'s cron "${task.cron}" (UTC)`;
  if (at.getTime() - now.getTime() > MAX_EARLY_MS) return `slot ${slotIso(at)} of ${task.id} is not due until then`;
  return null;
}

export interface RefusalDeps {
  runs: JobRuns;
  gateway: Pick<TaskGateway, "auditRefusal">;
  nodeId: string;
}

/**
 * Records a refused trigger. Idempotent per task and slot: a redelivered (or repeated) forgery
 * finds its run already skipped and is neither audited nor announced again.
 */
export async function refuseForged(d: RefusalDeps, task: TaskDef, t: ScheduledTrigger, reason: string, logger: Logger): Promise<JobRun> {
  const store = d.runs.d.store;
  const now = d.runs.d.now();
  const slot = slotIso(new Date(t.slot));
  const { run, created } = await store.createRun({
    id: newId("job"), task_id: task.id, trigger: "schedule", slot, key: `${FORGED}:${task.id}@${slot}`,
    tool: task.tool, action: task.action, inputs: task.inputs, inputs_hash: inputsHash(task.inputs), dry_run: false,
    requested_by: "unverified", created_at: now.toISOString(),
  }, now);
  if (created) await d.runs.announce(run);
  if (run.status !== "queued") return run;
  logger.warn({ task_id: task.id, slot, claimed_scheduler: t.scheduler, reason }, "forged job trigger refused; not run");
  // Audit before the transition: a crash in between audits twice on redelivery, never zero times.
  d.gateway.auditRefusal({
    ts: now.toISOString(), tool: task.tool, action: task.action,
    params: { task_id: task.id, slot, claimed_scheduler: t.scheduler.slice(0, MAX_CLAIM_CHARS) },
    error_message: `forged trigger refused: ${reason}`, channel: TRIGGER_CHANNEL, request_id: run.id,
  });
  const skipped = await store.transition(run.id, ["queued"], { status: "skipped", reason: FORGED, error_message: reason, node_id: d.nodeId }, now);
  if (skipped) await d.runs.announce(skipped);
  return skipped ?? (await store.get(run.id)) ?? run;
}
