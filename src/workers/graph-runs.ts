/**
 * Graph worker: executes queued graph runs (triage report, postmortem draft) from the graph-runs
 * work queue. A run writes its md + json artifacts on the incident, a timeline event, and then
 * marks the run succeeded; a worker killed mid-run leaves the delivery unacked, so another takes
 * it after ack_wait. Re-running is safe: artifacts are replaced by name, the event is keyed by run.
 */
import type { Ctx } from "../app/context.js";
import { writeArtifact } from "../incidents/artifacts.js";
import { incidentPaths } from "../incidents/paths.js";
import { gatherReportInput } from "../incidents/report-input.js";
import { buildPostmortemDraft, buildTriageReport } from "../incidents/reports.js";
import type { Logger } from "../log.js";
import { consumeEach, UnreadableDelivery, type MessageHelpers } from "../nats/consumer.js";
import { EventPublisher } from "../nats/events.js";
import { retryDelayMs } from "../nats/settle.js";
import type { GraphRun } from "../incidents/store.js";
import { GraphRunItem } from "../subjects/index.js";
import { isTransient, retryTransient } from "../util/transient.js";
import { graphRuns } from "./incident-bridge.js";
import type { RunningWorker } from "./types.js";

const dec = new TextDecoder();

const GRAPHS = {
  incident_triage: { build: buildTriageReport, base: "triage_report", event: "triage", done: "triage.completed" },
  postmortem_draft: { build: buildPostmortemDraft, base: "postmortem_draft", event: "postmortem", done: "postmortem.drafted" },
} as const;

/** Executes one run to completion; throws on failure (the caller decides retry or give up). */
export async function executeRun(ctx: Ctx, run: GraphRun, events: EventPublisher): Promise<GraphRun> {
  const now = ctx.now();
  const g = GRAPHS[run.graph];
  const input = await gatherReportInput(
    { incidents: ctx.stores.incidents, alerts: ctx.stores.alerts, policy: ctx.policies.incidentIntelligence },
    run.incident_id,
    now,
  );
  const report = g.build(input);
  const dir = incidentPaths(ctx.env).artifactsDir;
  const files: Array<[string, string]> = [
    [`${g.base}.md`, report.md],
    [`${g.base}.json`, typeof report.json === "string" ? report.json : JSON.stringify(report.json, null, 2)],
  ];
  const names: string[] = [];
  for (const [name, content] of files) {
    const art = await writeArtifact({ dir, incident_id: run.incident_id, name, content, created_by: `graph:${run.graph}`, run_id: run.id, now });
    await ctx.stores.incidents.putArtifact(art);
    names.push(name);
  }
  await ctx.stores.incidents.appendEvent(
    run.incident_id,
    { type: g.event, message: `${run.graph} run ${run.id} wrote ${names.join(", ")}`, author: `graph:${run.graph}`, meta: { run_id: run.id, artifacts: names }, dedupe_key: `run:${run.id}` },
    now,
  );
  const done = await ctx.stores.incidents.updateRun(run.id, ["running"], { status: "succeeded", finished_at: now.toISOString(), updated_at: now.toISOString(), artifacts: names });
  await events.publish(g.done, { run_id: run.id, incident_id: run.incident_id, graph: run.graph, artifacts: names }, run.id);
  return done ?? run;
}

/** Deterministic failures (a bug, bad data) a run may have before it is failed for good. */
export const MAX_ATTEMPTS = 5;
/**
 * Backstop for a run whose deliveries keep dying without an outcome (it kills its worker every
 * time): kills are not counted as attempts, so without it such a run would never end.
 */
export const MAX_DELIVERIES = 50;

/**
 * One delivery of a run. Attempt accounting (the ledger's `attempts`) counts deterministic
 * failures only: a transient failure (database or bus unreachable, pool exhausted; see
 * util/transient.ts) is retried in place with backoff while the delivery is held, and a
 * redelivery after a killed holder is simply run again. Neither spends the budget.
 */
export async function handleRun(ctx: Ctx, item: GraphRunItem, events: EventPublisher, h: MessageHelpers): Promise<void> {
  const store = ctx.stores.incidents;
  const log = h.logger.child({ run_id: item.run_id });
  const retrying = {
    signal: h.signal,
    onRetry: (err: unknown, retry: number, delayMs: number) => {
      h.working();
      log.warn({ err, retry, delay_ms: delayMs }, "graph run hit a transient failure; retrying (not counted as an attempt)");
    },
  };
  const run = await retryTransient(() => store.getRun(item.run_id), retrying);
  if (!run || run.status === "succeeded" || run.status === "failed") {
    if (!run) log.warn("work for an unknown graph run; terminated");
    return run ? h.ack() : h.term("unknown graph run");
  }
  if (h.deliveryCount > 1 && run.status === "running") {
    log.warn({ deliveries: h.deliveryCount, attempts: run.attempts }, "graph run redelivered (its holder died or gave it back); running it again, not counted");
  }
  if (h.deliveryCount > MAX_DELIVERIES) {
    return giveUp(ctx, h, run, events, log, `no outcome after ${h.deliveryCount - 1} deliveries (each holder died or stopped)`, run.attempts);
  }
  const now = ctx.now().toISOString();
  const started = await retryTransient(() => store.updateRun(run.id, ["queued", "running"], { status: "running", started_at: run.started_at ?? now, updated_at: now }), retrying);
  if (!started) return h.ack();
  try {
    await retryTransient(() => executeRun(ctx, started, events), retrying);
    log.info({ graph: run.graph, incident_id: run.incident_id }, "graph run succeeded");
    h.ack();
  } catch (err) {
    if (isTransient(err)) throw err; // only when stopping: the loop gives the delivery back
    const message = err instanceof Error ? err.message : String(err);
    const attempts = started.attempts + 1;
    if (attempts >= MAX_ATTEMPTS) return giveUp(ctx, h, started, events, log, message, attempts, err);
    log.warn({ err, attempt: attempts }, "graph run failed; will retry");
    await retryTransient(() => store.updateRun(run.id, ["running"], { attempts, error: message, updated_at: ctx.now().toISOString() }), retrying);
    h.nak(retryDelayMs(attempts));
  }
}

async function giveUp(ctx: Ctx, h: MessageHelpers, run: GraphRun, events: EventPublisher, log: Logger, message: string, attempts: number, err?: unknown): Promise<void> {
  log.error({ err, attempts, deliveries: h.deliveryCount, error: message }, "graph run failed for good");
  const at = ctx.now().toISOString();
  await ctx.stores.incidents.updateRun(run.id, ["queued", "running"], { status: "failed", attempts, error: message, finished_at: at, updated_at: at });
  await events.publish("graph.failed", { run_id: run.id, incident_id: run.incident_id, graph: run.graph, error: message }, run.id);
  h.term(message);
}

export function parseRunItem(data: Uint8Array): GraphRunItem {
  try {
    return GraphRunItem.parse(JSON.parse(dec.decode(data)));
  } catch {
    throw new UnreadableDelivery("graph work item is not {run_id}");
  }
}

export async function start(ctx: Ctx): Promise<RunningWorker> {
  const g = ctx.subjects.graphs;
  const logger = ctx.logger.child({ worker: "graph-runs", stream: g.stream, consumer: g.consumer });
  const events = new EventPublisher(ctx.js, ctx.subjects, ctx.env.NODE_ID, ctx.now);
  const runs = graphRuns(ctx, logger);
  const consumer = await consumeEach<GraphRunItem>({
    js: ctx.js,
    stream: g.stream,
    consumer: g.consumer,
    logger,
    label: "graph run handling",
    features: ctx.features,
    concurrency: 8,
    parse: (d) => parseRunItem(d.data),
    handle: (item, h) => handleRun(ctx, item, events, h),
  });
  const repair = setInterval(() => {
    void runs.republishStale().catch((err) => logger.warn({ err }, "graph run repair sweep failed"));
  }, 30_000);
  repair.unref();
  logger.info("graph worker started");
  return {
    name: "graph-runs",
    abandon: () => consumer.abandon(),
    async stop() {
      clearInterval(repair);
      await consumer.stop();
      logger.info("graph worker stopped");
    },
  };
}
