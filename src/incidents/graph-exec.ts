/**
 * Executing one graph run (triage report, postmortem draft): gather the incident's report input,
 * build the report, write its md + json artifacts on the incident, a timeline event keyed by the
 * run, mark the run succeeded and publish its `*.completed`/`*.drafted` event. Re-running is safe:
 * artifacts are replaced by name, the event is keyed by run.
 */
import type { AlertStore } from "../alerts/store.js";
import type { IncidentIntelligence } from "../config/policies.js";
import type { EventPublisher } from "../nats/events.js";
import { writeArtifact } from "./artifacts.js";
import { gatherReportInput } from "./report-input.js";
import { buildPostmortemDraft, buildTriageReport } from "./reports.js";
import type { GraphRun, IncidentStore } from "./store.js";

export const GRAPHS = {
  incident_triage: { build: buildTriageReport, base: "triage_report", event: "triage", done: "triage.completed" },
  postmortem_draft: { build: buildPostmortemDraft, base: "postmortem_draft", event: "postmortem", done: "postmortem.drafted" },
} as const;

export interface GraphExecDeps {
  incidents: IncidentStore;
  alerts: AlertStore;
  policy: IncidentIntelligence;
  artifactsDir: string;
  events: EventPublisher;
  now(): Date;
}

/** Executes one run to completion; throws on failure (the caller decides retry or give up). */
export async function executeRun(d: GraphExecDeps, run: GraphRun): Promise<GraphRun> {
  const now = d.now();
  const g = GRAPHS[run.graph];
  const input = await gatherReportInput({ incidents: d.incidents, alerts: d.alerts, policy: d.policy }, run.incident_id, now);
  const report = g.build(input);
  const files: Array<[string, string]> = [
    [`${g.base}.md`, report.md],
    [`${g.base}.json`, typeof report.json === "string" ? report.json : JSON.stringify(report.json, null, 2)],
  ];
  const names: string[] = [];
  for (const [name, content] of files) {
    const art = await writeArtifact({ dir: d.artifactsDir, incident_id: run.incident_id, name, content, created_by: `graph:${run.graph}`, run_id: run.id, now });
    await d.incidents.putArtifact(art);
    names.push(name);
  }
  await d.incidents.appendEvent(
    run.incident_id,
    { type: g.event, message: `${run.graph} run ${run.id} wrote ${names.join(", ")}`, author: `graph:${run.graph}`, meta: { run_id: run.id, artifacts: names }, dedupe_key: `run:${run.id}` },
    now,
  );
  const done = await d.incidents.updateRun(run.id, ["running"], { status: "succeeded", finished_at: now.toISOString(), updated_at: now.toISOString(), artifacts: names });
  await d.events.publish(g.done, { run_id: run.id, incident_id: run.incident_id, graph: run.graph, artifacts: names }, run.id);
  return done ?? run;
}

/** Marks a run failed for good and publishes `graph.failed`. */
export async function failRun(d: Pick<GraphExecDeps, "incidents" | "events" | "now">, run: GraphRun, message: string, attempts: number): Promise<void> {
  const at = d.now().toISOString();
  await d.incidents.updateRun(run.id, ["queued", "running"], { status: "failed", attempts, error: message, finished_at: at, updated_at: at });
  await d.events.publish("graph.failed", { run_id: run.id, incident_id: run.incident_id, graph: run.graph, error: message }, run.id);
}
