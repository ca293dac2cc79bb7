import { z } from "zod";
import type { Naming } from "./prefix.js";

/**
 * Graph runs (triage reports, postmortem drafts) are work items on a work-queue stream, so a run
 * whose worker dies is redelivered, not lost. The run's state lives in the incident store.
 */
export const GraphRunItem = z.object({ run_id: z.string().min(1) });
export type GraphRunItem = z.infer<typeof GraphRunItem>;

export function graphSubjects(n: Naming) {
  return {
    stream: `${n.streamPrefix}_GRAPH_RUNS`,
    wildcard: `${n.prefix}.graphs.run.>`,
    /** `ops.graphs.run.<graph>` */
    run: (graph: string) => `${n.prefix}.graphs.run.${graph}`,
    consumer: "graph-runs",
  };
}
