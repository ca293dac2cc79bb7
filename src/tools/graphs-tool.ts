import { z } from "zod";
import { notFound } from "../errors.js";
import type { GraphRuns } from "../incidents/graph-runs.js";
import { GRAPHS } from "../incidents/store.js";
import { action, type ToolDef } from "./types.js";

const IncidentId = z
  .string()
  .regex(/^inc_\d{8}_\d{4}_[0-9a-f]+$/, "an incident id such as inc_20260223_1000_ab12cd")
  .describe("the incident the graph runs for, e.g. inc_20260223_1000_ab12cd");

/** `graphs_tool`: queue a triage report or postmortem draft for an incident, read its status. */
export function createGraphsTool(deps: { runs: GraphRuns }): ToolDef {
  return {
    name: "graphs_tool",
    description: "Graph runs: incident_triage and postmortem_draft, executed by graph workers; md + json artifacts on the incident.",
    actions: {
      run: action({
        entitlement: "tools.graphs.run",
        description: "Queue a run; answers at once with its run_id and status queued.",
        params: z.strictObject({
          graph: z.enum(GRAPHS).describe("incident_triage (a triage report) or postmortem_draft (a postmortem draft)"),
          incident_id: IncidentId,
        }),
        async handler(p, h) {
          const run = await deps.runs.enqueue(p.graph, p.incident_id, h.caller.agent_id);
          return { run_id: run.id, status: run.status, graph: run.graph, incident_id: run.incident_id };
        },
      }),
      get_run: action({
        entitlement: "tools.graphs.read",
        description: "A run's status (queued, running, succeeded, failed), error and artifacts.",
        params: z.strictObject({ run_id: z.string().min(1).max(128).describe("the run_id run answered") }),
        async handler(p) {
          const run = await deps.runs.get(p.run_id);
          if (!run) throw notFound(`graph run ${p.run_id} not found`);
          return run;
        },
      }),
    },
  };
}
