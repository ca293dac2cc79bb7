/** Shared seeding for the incident unit tests: a MemoryIncidentStore filled at fixed instants. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { OpsEnv } from "../../src/config/env.js";
import { IncidentIntelligence } from "../../src/config/policies.js";
import { MemoryIncidentStore } from "../../src/stores/incidents/memory.js";
import type { IncidentRecord } from "../../src/incidents/store.js";
import type { Severity } from "../../src/subjects/index.js";

export const policy = IncidentIntelligence.parse({});
export const at = (iso: string) => new Date(iso);
const made: string[] = [];
process.on("exit", () => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});
/** A temp dir removed when the test process exits. */
export function tmpDir(tag: string): string {
  const dir = mkdtempSync(join(tmpdir(), `opsbus-${tag}-`));
  made.push(dir);
  return dir;
}

export interface Seed {
  service?: string;
  env?: OpsEnv;
  severity?: Severity;
  title?: string;
  started_at: string;
  signature?: string;
  kind?: string;
  labels?: Record<string, string | number | boolean>;
  /** Closed at this instant (with a resolution). */
  closed_at?: string;
  resolution?: string;
}

export async function seed(store: MemoryIncidentStore, s: Seed): Promise<IncidentRecord> {
  const inc = await store.create(
    {
      service: s.service ?? "gateway",
      env: s.env ?? "prod",
      severity: s.severity ?? "P2",
      title: s.title ?? `${s.service ?? "gateway"} trouble`,
      started_at: s.started_at,
      created_by: "test",
      labels: { ...(s.kind ? { kind: s.kind } : {}), ...(s.labels ?? {}) },
      ...(s.signature ? { signature: s.signature } : {}),
    },
    at(s.started_at),
  );
  if (!s.closed_at) return inc;
  return store.setStatus(inc.id, "closed", { by: "test", resolution: s.resolution ?? "fixed" }, at(s.closed_at));
}

export async function followup(
  store: MemoryIncidentStore,
  incidentId: string,
  meta: { followup_id: string; title?: string; owner?: string; due_date?: string; status?: "open" | "done" | "cancelled" },
  ts: string,
) {
  return store.appendEvent(incidentId, { type: "followup", message: `follow-up ${meta.followup_id}`, author: "test", meta: { ...meta } }, at(ts));
}

export { MemoryIncidentStore };
