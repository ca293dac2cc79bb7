/**
 * Every metric opsbus exports, one object per process (`ctx.metrics`). Workers record into it;
 * the HTTP listener renders it at `GET /metrics`; monitor status reads the alert-loop window.
 *
 * Alert-loop latency: from the alert's `created_at` (stamped when the ingest worker first
 * accepted it) to the moment the triage worker has committed its incident, marked the alert
 * acked in the store and acked the delivery. Retries and redeliveries are inside the loop.
 */
import type { AuditSink } from "../gateway/auditWriter.js";
import type { QueueDepth } from "../health.js";
import type { AuditRecord } from "../stores/audit/types.js";
import { Counter, Gauge, Histogram, Registry } from "./registry.js";
import { LatencyWindow } from "./window.js";

/** Seconds; alert loops span milliseconds (a quiet queue) to minutes (retries). */
const LOOP_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900];
/** Seconds; job runs span a snapshot (sub-second) to a weekly generation (minutes). */
const JOB_BUCKETS = [0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600];
/** Label value for a tool or action the registry does not know: callers cannot mint series. */
export const OTHER = "other";

export class OpsMetrics {
  readonly registry = new Registry();
  readonly jobRuns = this.registry.register(new Counter("opsbus_job_runs_total", "Job runs finished by this process, by task and final status.", ["task", "status"]));
  readonly jobRunDuration = this.registry.register(
    new Histogram("opsbus_job_run_duration_seconds", "Duration of job runs executed by this process (started to finished).", ["task"], JOB_BUCKETS),
  );
  readonly queueDepth = this.registry.register(
    new Gauge("opsbus_queue_depth", "Messages not yet settled on a durable consumer (pending + ack pending), read at scrape time.", ["stream", "consumer"]),
  );
  readonly alertRedeliveries = this.registry.register(
    new Counter("opsbus_alert_redeliveries_total", "Alert deliveries received again (delivery count > 1), by worker.", ["worker"]),
  );
  readonly alertRetries = this.registry.register(
    new Counter("opsbus_alert_retries_total", "Alert deliveries handed back for a retry after a failed batch (nak with delay), by worker.", ["worker"]),
  );
  readonly alertLoopLatency = this.registry.register(
    new Histogram("opsbus_alert_loop_latency_seconds", "Alert accepted by ingest to incident committed and alert acked by the triage worker.", [], LOOP_BUCKETS),
  );
  readonly alertsIngested = this.registry.register(new Counter("opsbus_alerts_ingested_total", "Alerts accepted by the ingest worker, duplicates included.", []));
  readonly alertsDeduped = this.registry.register(new Counter("opsbus_alerts_deduped_total", "Accepted alerts absorbed as a duplicate of an open one.", []));
  readonly alertsRejected = this.registry.register(new Counter("opsbus_alerts_rejected_total", "Alerts refused by the ingest worker (invalid or oversize).", []));
  readonly toolCalls = this.registry.register(
    new Counter("opsbus_tool_calls_total", "Tool calls through the gateway on every channel, by tool, action and reply code (ok or error code).", ["tool", "action", "code"]),
  );
  /** The recent alert-loop latencies in ms, for monitor status' p95. */
  readonly alertLoopWindow = new LatencyWindow();

  recordAlertLoop(ms: number): void {
    const bounded = Math.max(0, ms);
    this.alertLoopLatency.observe(undefined, bounded / 1000);
    this.alertLoopWindow.push(bounded);
  }

  /** Refreshes the queue-depth gauge from `read` at every scrape (a failed read keeps the last values). */
  watchQueues(read: () => Promise<QueueDepth[]>): void {
    this.registry.onCollect(async () => {
      const queues = await read();
      this.queueDepth.reset();
      for (const q of queues) this.queueDepth.set({ stream: q.stream, consumer: q.consumer }, q.depth);
    });
  }

  render(): Promise<string> {
    return this.registry.render();
  }
}

/**
 * An audit sink that also counts the call: every call, allowed or denied, on every channel,
 * leaves exactly one audit record, so counting here counts each call once.
 */
export function countingAudit(sink: AuditSink, metrics: OpsMetrics | undefined, known: { tools: ReadonlyMap<string, { actions: Record<string, unknown> }> }): AuditSink {
  if (!metrics) return sink;
  return {
    write(record: AuditRecord) {
      const tool = known.tools.get(record.tool);
      const action = tool && Object.hasOwn(tool.actions, record.action) ? record.action : OTHER;
      metrics.toolCalls.inc({ tool: tool ? record.tool : OTHER, action, code: record.status });
      sink.write(record);
    },
  };
}
