/**
 * Counts a scale run's stores through the store classes (JSONL files or Postgres alike), so a fast
 * but wrong run (a lost alert, a doubled incident or timeline entry) fails instead of scoring.
 */
import { join } from "node:path";
import { JsonlAlertStore } from "../../src/stores/alerts/jsonl.js";
import { PostgresAlertStore } from "../../src/stores/alerts/postgres.js";
import type { AlertStore } from "../../src/alerts/store.js";
import { JsonlIncidentStore } from "../../src/stores/incidents/jsonl.js";
import { PostgresIncidentStore } from "../../src/stores/incidents/postgres.js";
import type { IncidentStore } from "../../src/incidents/store.js";
import { createPool } from "../../src/stores/pg.js";
import { DataLossError } from "./verify.js";

export type ScaleBackend = "jsonl" | "postgres";

export interface ScaleCounts {
  alerts: number;
  acked: number;
  incidents: number;
  signatures: number;
  alert_count_sum: number;
  timeline_entries: number;
  timeline_refs: number;
  created_events: number;
  triage_runs: number;
  triage_succeeded: number;
}

async function open(backend: ScaleBackend, where: { dataDir: string; dbUrl?: string }): Promise<{ alerts: AlertStore; incidents: IncidentStore }> {
  if (backend === "jsonl") {
    return {
      alerts: new JsonlAlertStore({ path: join(where.dataDir, "alerts.jsonl") }),
      incidents: new JsonlIncidentStore({ path: join(where.dataDir, "incidents.jsonl") }),
    };
  }
  return {
    alerts: new PostgresAlertStore({ pool: createPool(where.dbUrl!) }),
    incidents: new PostgresIncidentStore({ pool: createPool(where.dbUrl!) }),
  };
}

export async function countStores(backend: ScaleBackend, where: { dataDir: string; dbUrl?: string }): Promise<ScaleCounts> {
  const { alerts, incidents } = await open(backend, where);
  try {
    await Promise.all([alerts.init(), incidents.init()]);
    const c: ScaleCounts = { alerts: 0, acked: 0, incidents: 0, signatures: 0, alert_count_sum: 0, timeline_entries: 0, timeline_refs: 0, created_events: 0, triage_runs: 0, triage_succeeded: 0 };
    for (const row of await alerts.exportRows()) {
      if (row.kind !== "alert") continue;
      c.alerts++;
      if (row.data.status === "acked") c.acked++;
    }
    const sigs = new Set<string>();
    const refs = new Set<string>();
    for (const row of await incidents.exportRows()) {
      if (row.kind === "incident") {
        c.incidents++;
        c.alert_count_sum += row.data.alert_count;
        if (row.data.signature) sigs.add(row.data.signature);
      } else if (row.kind === "event") {
        const e = row.data;
        if (e.type === "created") c.created_events++;
        const ref = e.meta.alert_ref;
        if ((e.type === "alert" || e.type === "note") && typeof ref === "string" && e.dedupe_key?.startsWith(`alert:${ref}@`)) {
          c.timeline_entries++;
          refs.add(ref);
        }
      } else if (row.kind === "run" && row.data.graph === "incident_triage") {
        c.triage_runs++;
        if (row.data.status === "succeeded") c.triage_succeeded++;
      }
    }
    c.signatures = sigs.size;
    c.timeline_refs = refs.size;
    return c;
  } finally {
    await Promise.all([alerts.close(), incidents.close()]);
  }
}

/** Every alert stored once, acked, on exactly one incident's timeline; one incident and one triage run per signature. */
export function assertScaleExact(c: ScaleCounts, alerts: number, signatures: number): void {
  const want: Partial<Record<keyof ScaleCounts, number>> = {
    alerts, acked: alerts, incidents: signatures, signatures, alert_count_sum: alerts,
    timeline_entries: alerts, timeline_refs: alerts, created_events: signatures, triage_runs: signatures,
  };
  const wrong = Object.entries(want).filter(([k, n]) => c[k as keyof ScaleCounts] !== n);
  if (wrong.length) {
    throw new DataLossError(`store after the bridge: ${wrong.map(([k, n]) => `${k} = ${String(c[k as keyof ScaleCounts])}, expected ${n}`).join("; ")}`);
  }
}
