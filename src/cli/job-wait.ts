/** `job run --wait`: follow a run's `job.<status>` events until it ends. */
import type { NatsConnection } from "@nats-io/nats-core";
import { TERMINAL_STATUSES, type JobRun } from "../jobs/ledger-store.js";
import { EventEnvelope, type Subjects } from "../subjects/index.js";
import type { ToolCaller } from "./job-client.js";

/** Events are best-effort (the ledger is the record), so the run is also re-read this often. */
const RECHECK_MS = 5_000;

/**
 * Subscribes now (before the run is started, so no event is missed) and returns the function that
 * waits for the run to reach a terminal status, reporting each status change on stderr.
 */
export function waitForRun(nc: NatsConnection, subjects: Subjects, call: ToolCaller, timeoutMs: number): (run: JobRun) => Promise<JobRun> {
  const seen = new Map<string, string[]>();
  let wake: (() => void) | undefined;
  const sub = nc.subscribe(subjects.events.domain("job"), {
    callback: (_err, m) => {
      const e = EventEnvelope.safeParse(safeJson(m.data));
      if (!e.success) return;
      const runId = String(e.data.data.run_id ?? "");
      seen.set(runId, [...(seen.get(runId) ?? []), String(e.data.data.status ?? e.data.type.slice("job.".length))]);
      wake?.();
    },
  });
  return async (run) => {
    try {
      const deadline = Date.now() + timeoutMs;
      let reported = run.status;
      let current = run;
      for (;;) {
        if (TERMINAL_STATUSES.includes(current.status)) return current;
        const latest = seen.get(run.id)?.at(-1);
        if (latest && latest !== reported) {
          console.error(`${run.id}: ${latest}`);
          reported = latest as JobRun["status"];
        }
        if (latest && TERMINAL_STATUSES.includes(latest as JobRun["status"])) {
          return (await call<{ run: JobRun }>("jobs_tool", "get_run", { run_id: run.id })).run;
        }
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`run ${run.id} still ${current.status} after ${timeoutMs / 1000} s; is a job runner up (opsbus worker jobs)? Follow it with: opsbus job get ${run.id}`);
        const woke = await new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(false), Math.min(RECHECK_MS, left));
          wake = () => {
            clearTimeout(timer);
            resolve(true);
          };
        });
        wake = undefined;
        if (!woke) current = (await call<{ run: JobRun }>("jobs_tool", "get_run", { run_id: run.id })).run;
      }
    } finally {
      sub.unsubscribe();
    }
  };
}

function safeJson(data: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(data));
  } catch {
    return undefined;
  }
}
