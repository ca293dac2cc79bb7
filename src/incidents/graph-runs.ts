/**
 * Graph runs (triage report, postmortem draft): the run record lives in the incident store, the
 * work item on the graph-runs work queue, so a run is answered at once with its id and executed
 * by whichever graph worker takes it; a worker that dies mid-run leaves it to be redelivered.
 *
 * The record is written first, then the work item published with the run id as Nats-Msg-Id: a
 * repair sweep republishes queued runs whose publish was lost, and the stream's duplicate window
 * drops the ones that were not.
 */
import type { JetStreamClient } from "@nats-io/jetstream";
import { notFound } from "../errors.js";
import { newId } from "../ids.js";
import type { Logger } from "../log.js";
import type { GraphName, GraphRun, IncidentStore } from "./store.js";
import type { Subjects } from "../subjects/index.js";

/** Inside the graph stream's 15-minute duplicate window, with margin. */
const REPAIR_WINDOW_MS = 10 * 60_000;
/** Younger runs may still have their publish in flight. */
const REPAIR_MIN_AGE_MS = 30_000;
const enc = new TextEncoder();

export interface GraphRunsDeps {
  incidents: IncidentStore;
  js: JetStreamClient;
  subjects: Subjects;
  logger: Logger;
  now(): Date;
}

export class GraphRuns {
  constructor(private readonly d: GraphRunsDeps) {}

  /** Records a queued run and hands it to the graph workers. */
  async enqueue(graph: GraphName, incidentId: string, requestedBy: string): Promise<GraphRun> {
    if (!(await this.d.incidents.get(incidentId))) throw notFound(`incident ${incidentId} not found`);
    const now = this.d.now().toISOString();
    const run = await this.d.incidents.createRun({
      id: newId("run"),
      graph,
      incident_id: incidentId,
      status: "queued",
      requested_by: requestedBy,
      trigger: "manual",
      created_at: now,
      updated_at: now,
      attempts: 0,
      artifacts: [],
    });
    await this.publish(run.id, graph);
    return run;
  }

  /** Idempotent inside the duplicate window: the run id is the Nats-Msg-Id. */
  async publish(runId: string, graph: GraphName): Promise<void> {
    const g = this.d.subjects.graphs;
    await this.d.js.publish(g.run(graph), enc.encode(JSON.stringify({ run_id: runId })), { msgID: runId });
  }

  get(runId: string): Promise<GraphRun | null> {
    return this.d.incidents.getRun(runId);
  }

  /** Republishes queued runs whose work item may never have reached JetStream. */
  async republishStale(): Promise<number> {
    const now = this.d.now().getTime();
    const queued = await this.d.incidents.listRuns({
      status: ["queued"],
      updated_before: new Date(now - REPAIR_MIN_AGE_MS).toISOString(),
      limit: 500,
    });
    const young = queued.filter((r) => now - Date.parse(r.created_at) < REPAIR_WINDOW_MS && r.attempts === 0);
    let repaired = 0;
    for (const r of young) {
      const g = this.d.subjects.graphs;
      const ack = await this.d.js.publish(g.run(r.graph), enc.encode(JSON.stringify({ run_id: r.id })), { msgID: r.id });
      if (!ack.duplicate) repaired++;
    }
    if (repaired) this.d.logger.warn({ repaired }, "republished graph runs whose work item was missing");
    return repaired;
  }
}
