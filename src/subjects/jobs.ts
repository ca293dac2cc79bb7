import { z } from "zod";
import type { Naming } from "./prefix.js";

/** Job run statuses, also the event types `job.<status>` on `ops.events.job.<status>`. */
export const JOB_STATUSES = ["queued", "running", "succeeded", "failed", "canceled", "skipped"] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

/**
 * A trigger on `ops.jobs.trigger.<task_id>`. Scheduled ones carry the slot (Nats-Msg-Id
 * `<task_id>@<slot>`); manual ones name the run `jobs_tool.start_task` already recorded.
 */
export const JobTrigger = z.discriminatedUnion("trigger", [
  z.strictObject({
    trigger: z.literal("schedule"),
    task_id: z.string().min(1),
    /** The scheduled time, ISO UTC without milliseconds. */
    slot: z.iso.datetime(),
    scheduler: z.string().default("unknown"),
  }),
  z.strictObject({
    trigger: z.literal("manual"),
    task_id: z.string().min(1),
    run_id: z.string().min(1),
  }),
]);
export type JobTrigger = z.infer<typeof JobTrigger>;

export function jobSubjects(n: Naming) {
  return {
    stream: `${n.streamPrefix}_JOBS`,
    wildcard: `${n.prefix}.jobs.trigger.>`,
    /** `ops.jobs.trigger.<task_id>` */
    trigger: (taskId: string) => `${n.prefix}.jobs.trigger.${taskId}`,
    consumer: "jobs",
    /** The Nats-Msg-Id of a scheduled trigger: two schedulers publishing one slot store it once. */
    slotMsgId: (taskId: string, slot: string) => `${taskId}@${slot}`,
  };
}
