/**
 * Every metric opsbus exports, one object per process (`ctx.metrics`). Workers record into it;
 * the HTTP listener renders it at `GET /metrics`; monitor status reads the alert-loop window.
 *
 * Alert-loop latency: from the alert's `created_at` (stamped when the ingest worker first
 * accepted it) to the moment the triage worker has committed its incident, marked the alert
 * acked in the store and acked the delivery. Retries and redeliveries are inside the loop.
 */
import type { AuditSink } from "../../gateway/auditWriter.js";
import type { QueueDepth } from "../health.js";
import type { AuditRecord } from "../../audit/store.js";
import { collectDefaultMetrics } from "prom-client";
import { Counter, Gauge, Histogram, Registry } from "./registry.js";
import { LatencyWindow } from "./window.js";

/** A durable consumer as health sees it (see `src/health.ts`); the gauges below mirror it. */
export interface ConsumerGaugeInput {
  stream: string;
  consumer: string;
  pending: number;
  ack_pending: number;
  waiting: number;
  state: "ok" | "missing" | "stalled";
  /** Seconds the ack floor has not moved while work was pending (0 when it moves or nothing waits). */
  stuck_s: number;
}

/** An audit writer's counts (`AuditWriter.stats()`), by writer (gateway, jobs). */
export interface AuditGaugeInput {
  writer: string;
  backlog: number;
  deadLettered: number;
}

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
  readonly alertsDeadLettered = this.registry.register(
    new Counter("opsbus_alerts_dead_lettered_total", "Alerts the store refused for good (isolated from their batch, terminated, written to the dead-letter file).", []),
  );
  readonly toolCalls = this.registry.register(
    new Counter("opsbus_tool_calls_total", "Tool calls through the gateway on every channel, by tool, action and reply code (ok or error code).", ["tool", "action", "code"]),
  );
  readonly consumerPending = this.registry.register(
    new Gauge("opsbus_consumer_pending", "Messages not yet delivered on a durable consumer this process watches, read at scrape time.", ["stream", "consumer"]),
  );
  readonly consumerAckPending = this.registry.register(
    new Gauge("opsbus_consumer_ack_pending", "Messages delivered and not yet acked on a durable consumer this process watches.", ["stream", "consumer"]),
  );
  readonly consumerWaiting = this.registry.register(
    new Gauge("opsbus_consumer_waiting_pulls", "Pull requests waiting on a durable consumer (0 with pending work: nobody is pulling).", ["stream", "consumer"]),
  );
  readonly consumerMissing = this.registry.register(
    new Gauge("opsbus_consumer_missing", "1 when a consumer has work pending and no worker pulling from it, else 0.", ["stream", "consumer"]),
  );
  readonly consumerStalled = this.registry.register(
    new Gauge("opsbus_consumer_stalled", "1 when a consumer's ack floor has not moved for HEALTH_STALL_SECONDS while work was pending, else 0.", ["stream", "consumer"]),
  );
  readonly consumerStuckSeconds = this.registry.register(
    new Gauge("opsbus_consumer_ack_floor_stuck_seconds", "Seconds a consumer's ack floor has not moved while work was pending (0 when it moves or nothing waits).", ["stream", "consumer"]),
  );
  readonly auditBacklog = this.registry.register(
    new Gauge("opsbus_audit_backlog", "Audit records waiting for the audit store in this process, by writer.", ["writer"]),
  );
  readonly auditDeadLetters = this.registry.register(
    new Counter("opsbus_audit_dead_letters_total", "Audit records the store refused for good, set aside in the dead-letter file, by writer.", ["writer"]),
  );
  readonly notifications = this.registry.register(
    new Counter("opsbus_notifications_total", "Notification send attempts by this process, by receiver, integration and outcome (delivered, retry, failed, skipped).", ["receiver", "integration", "outcome"]),
  );
  readonly notificationLatency = this.registry.register(
    new Histogram("opsbus_notification_latency_seconds", "Incident moment to the receiver's answer for delivered notifications (retries and waits included).", ["integration"], LOOP_BUCKETS),
  );
  readonly notificationQueueDepth = this.registry.register(
    new Gauge("opsbus_notification_queue_depth", "Notifications in the outbox not yet settled (pending + ack pending on the notifier consumer), read at scrape time.", []),
  );
  /** The recent alert-loop latencies in ms, for monitor status' p95. */
  readonly alertLoopWindow = new LatencyWindow();
  private queueReader: (() => Promise<QueueDepth[]>) | undefined;
  private consumerReader: (() => Promise<ConsumerGaugeInput[]>) | undefined;
  private auditReader: (() => AuditGaugeInput[]) | undefined;

  constructor() {
    // Process CPU, memory (RSS), event-loop lag and GC, under their standard names.
    collectDefaultMetrics({ register: this.registry.prom });
    this.registry.onCollect(() => this.collectQueues());
    this.registry.onCollect(() => this.collectConsumers());
    this.registry.onCollect(() => this.collectAudit());
  }

  recordAlertLoop(ms: number): void {
    const bounded = Math.max(0, ms);
    this.alertLoopLatency.observe(undefined, bounded / 1000);
    this.alertLoopWindow.push(bounded);
  }

  /**
   * Refreshes the queue-depth gauge from `read` at every scrape (a failed read keeps the last
   * values). One reader per process: a later call replaces the earlier one.
   */
  watchQueues(read: () => Promise<QueueDepth[]>): void {
    this.queueReader = read;
  }

  /** Refreshes the consumer-health gauges from `read` at every scrape; a later call replaces it. */
  watchConsumers(read: () => Promise<ConsumerGaugeInput[]>): void {
    this.consumerReader = read;
  }

  /** Refreshes the audit gauges from `read` at every scrape; a later call replaces it. */
  watchAudit(read: () => AuditGaugeInput[]): void {
    this.auditReader = read;
  }

  private async collectQueues(): Promise<void> {
    if (!this.queueReader) return;
    const queues = await this.queueReader();
    this.queueDepth.reset();
    for (const q of queues) this.queueDepth.set({ stream: q.stream, consumer: q.consumer }, q.depth);
    const outbox = queues.find((q) => q.stream.endsWith("_NOTIFY"));
    this.notificationQueueDepth.reset();
    if (outbox) this.notificationQueueDepth.set(undefined, outbox.depth);
  }

  private async collectConsumers(): Promise<void> {
    if (!this.consumerReader) return;
    const consumers = await this.consumerReader();
    const gauges = [this.consumerPending, this.consumerAckPending, this.consumerWaiting, this.consumerMissing, this.consumerStalled, this.consumerStuckSeconds];
    for (const g of gauges) g.reset();
    for (const c of consumers) {
      const labels = { stream: c.stream, consumer: c.consumer };
      this.consumerPending.set(labels, c.pending);
      this.consumerAckPending.set(labels, c.ack_pending);
      this.consumerWaiting.set(labels, c.waiting);
      this.consumerMissing.set(labels, c.state === "missing" ? 1 : 0);
      this.consumerStalled.set(labels, c.state === "stalled" ? 1 : 0);
      this.consumerStuckSeconds.set(labels, c.stuck_s);
    }
  }

  private collectAudit(): void {
    if (!this.auditReader) return;
    const writers = this.auditReader();
    this.auditBacklog.reset();
    // The writer keeps the running total; the counter is set to it at each scrape.
    this.auditDeadLetters.reset();
    for (const w of writers) {
      this.auditBacklog.set({ writer: w.writer }, w.backlog);
      this.auditDeadLetters.inc({ writer: w.writer }, w.deadLettered);
    }
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
