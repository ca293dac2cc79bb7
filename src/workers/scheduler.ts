/**
 * Scheduler: for every enabled task of the registry, publishes the task's trigger (subjects.jobs) at
 * each cron slot (UTC) with Nats-Msg-Id `<task_id>@<slot>`, so any number of schedulers side by
 * side store one trigger per slot, with no leader election. Slots are computed from the cron, not
 * from when a timer fired, so every scheduler names a slot identically. At start-up, the latest
 * slot within the task's catch-up window is published once (a slot missed while no scheduler
 * ran); if it already ran, the stream's duplicate window or the ledger's slot key drop it.
 */
import type { TaskDef } from "../config/jobs-policy.js";
import type { JobRuns } from "../jobs/runs.js";
import { cronOf, latestSlotWithin, nextSlot } from "../jobs/slots.js";
import type { Logger } from "../log.js";
import { slotIso } from "../jobs/ledger-rules.js";
import type { RunningWorker } from "./types.js";

/** Timers longer than this are re-planned (setTimeout overflows past ~24.8 days). */
const MAX_TIMER_MS = 3_600_000;

export interface SchedulerDeps {
  /** The tasks to schedule (the enabled ones of the registry). */
  tasks: TaskDef[];
  runs: Pick<JobRuns, "trigger">;
  logger: Logger;
  /** Written in each trigger as the scheduler that published it. */
  name: string;
  now(): Date;
}

function schedule(task: TaskDef, d: SchedulerDeps, logger: Logger): () => void {
  const cron = cronOf(task.cron);
  const log = logger.child({ task_id: task.id });
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const publish = async (slot: Date, why: string) => {
    const iso = slotIso(slot);
    try {
      const { duplicate } = await d.runs.trigger({ trigger: "schedule", task_id: task.id, slot: iso, scheduler: d.name });
      log.debug({ slot: iso, duplicate, why }, "trigger published");
    } catch (err) {
      log.error({ err, slot: iso }, "could not publish a trigger; the next scheduler start catches it up");
    }
  };

  const plan = (after: Date) => {
    if (stopped) return;
    const next = nextSlot(cron, after);
    if (!next) return log.info("cron has no further slots");
    const delay = next.getTime() - d.now().getTime();
    if (delay > MAX_TIMER_MS) {
      timer = setTimeout(() => plan(after), MAX_TIMER_MS);
      return;
    }
    timer = setTimeout(() => {
      void publish(next, "slot");
      plan(next);
    }, Math.max(0, delay));
  };

  const now = d.now();
  const missed = latestSlotWithin(cron, now, task.catchup_window_minutes * 60_000);
  if (missed) void publish(missed, "catch-up");
  plan(now);
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

export async function start(d: SchedulerDeps): Promise<RunningWorker> {
  const logger = d.logger.child({ worker: "scheduler" });
  const stops = d.tasks.map((t) => schedule(t, d, logger));
  logger.info({ tasks: d.tasks.map((t) => t.id) }, "scheduler started");
  return {
    name: "scheduler",
    async stop() {
      for (const stop of stops) stop();
      logger.info("scheduler stopped");
    },
  };
}
