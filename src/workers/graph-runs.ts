/**
 * Graph worker: executes queued graph runs (triage report, postmortem draft) from the graph-runs
 * work queue. A run writes its md + json artifacts on the incident, a timeline event, and then
 * marks the run succeeded; a worker killed mid-run leaves the delivery unacked, so another takes
 * it after ack_wait. Re-running is safe: artifacts are replaced by name, the event is keyed by run.
 */
import type { JsMsg } from "@nats-io/jetstream";
import type { Ctx } from "../context.js";
import { writeArtifact } from "../incidents/artifacts.js";
import { incidentPaths } from "../incidents/paths.js";
import { gatherReportInput } from "../incidents/report-input.js";
import { buildPostmortemDraft, buildTriageReport } from "../incidents/reports.js";
import type { Logger } from "../log.js";
import { EventPublisher } from "../nats/events.js";
import type { GraphRun } from "../stores/incidents/types.js";
import { GraphRunItem } from "../subjects/index.js";
import { graphRuns } from "./triage.js";
import { STOPPING_NAK_DELAY_MS, type RunningWorker } from "./types.js";

const MAX_ATTEMPTS = 5;
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

async function handle(ctx: Ctx, m: JsMsg, events: EventPublisher, logger: Logger): Promise<void> {
  let item: GraphRunItem;
  try {
    item = GraphRunItem.parse(JSON.parse(dec.decode(m.data)));
  } catch {
    logger.error({ stream_seq: m.seq }, "graph work item is not {run_id}; terminated");
    return m.term();
  }
  const store = ctx.stores.incidents;
  const run = await store.getRun(item.run_id);
  if (!run || run.status === "succeeded" || run.status === "failed") {
    if (!run) logger.warn({ run_id: item.run_id }, "work for an unknown graph run; terminated");
    return run ? m.ack() : m.term();
  }
  const now = ctx.now().toISOString();
  const started = await store.updateRun(run.id, ["queued", "running"], {
    status: "running",
    attempts: run.attempts + 1,
    started_at: run.started_at ?? now,
    updated_at: now,
  });
  if (!started) return m.ack();
  const log = logger.child({ run_id: run.id, graph: run.graph, incident_id: run.incident_id });
  try {
    await executeRun(ctx, started, events);
    log.info("graph run succeeded");
    m.ack();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (started.attempts >= MAX_ATTEMPTS || m.info.deliveryCount >= MAX_ATTEMPTS) {
      log.error({ err }, "graph run failed for good");
      const at = ctx.now().toISOString();
      await store.updateRun(run.id, ["running"], { status: "failed", error: message, finished_at: at, updated_at: at });
      await events.publish("graph.failed", { run_id: run.id, incident_id: run.incident_id, graph: run.graph, error: message }, run.id);
      m.term();
    } else {
      log.warn({ err, attempt: started.attempts }, "graph run failed; will retry");
      await store.updateRun(run.id, ["running"], { error: message, updated_at: ctx.now().toISOString() });
      m.nak(Math.min(60_000, 2000 * 2 ** (started.attempts - 1)));
    }
  }
}

export async function start(ctx: Ctx): Promise<RunningWorker> {
  const g = ctx.subjects.graphs;
  const logger = ctx.logger.child({ worker: "graph-runs", stream: g.stream, consumer: g.consumer });
  const events = new EventPublisher(ctx.js, ctx.subjects, ctx.env.NODE_ID, ctx.now);
  const runs = graphRuns(ctx, logger);
  const consumer = await ctx.js.consumers.get(g.stream, g.consumer);
  let stopping = false;
  const inflight = new Set<Promise<void>>();
  const messages = await consumer.consume({
    max_messages: 8,
    expires: 5000,
    callback: (m) => {
      if (stopping) return m.nak(STOPPING_NAK_DELAY_MS);
      const p = handle(ctx, m, events, logger)
        .catch((err) => {
          logger.error({ err, stream_seq: m.seq }, "graph run handling failed; nak");
          m.nak(5000);
        })
        .finally(() => inflight.delete(p));
      inflight.add(p);
    },
  });
  const repair = setInterval(() => {
    void runs.republishStale().catch((err) => logger.warn({ err }, "graph run repair sweep failed"));
  }, 30_000);
  repair.unref();
  logger.info("graph worker started");
  return {
    name: "graph-runs",
    async stop() {
      stopping = true;
      clearInterval(repair);
      await messages.close().catch(() => undefined);
      await Promise.all(inflight);
      logger.info("graph worker stopped");
    },
  };
}
