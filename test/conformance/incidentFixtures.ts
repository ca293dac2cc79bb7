/** Builders for the incident store suites: bridge alerts, policies, incidents, artifacts, runs. */
import type {
  AbsorbInput, ArtifactRecord, BridgeAlert, BridgePolicy, GraphRun, IncidentRecord, IncidentRow, NewIncident,
} from "../../src/incidents/store.js";
import { isoAt, T0 } from "./fixtures.js";

export function bridgeAlert(ref: string, over: Partial<BridgeAlert> = {}): BridgeAlert {
  return {
    alert_ref: ref,
    fingerprint: `fp-${ref}`,
    service: "gateway",
    env: "prod",
    kind: "latency",
    severity: "P2",
    title: `latency high (${ref})`,
    source: "monitor@node1",
    occurrences: 1,
    starts_at: "2026-03-01T11:55:00Z", // not in ISO ms form: stored normalised
    last_seen_at: T0.toISOString(),
    ...over,
  };
}

/** An absorb input for `signature`, keyed `alert:<ref>`. */
export function absorbInput(signature: string, ref: string, over: Partial<BridgeAlert> = {}): AbsorbInput {
  return { signature, alert: bridgeAlert(ref, { fingerprint: `fp-${signature}`, ...over }), dedupe_key: `alert:${ref}` };
}

export function bridgePolicy(over: Partial<BridgePolicy> = {}): BridgePolicy {
  return {
    dedupe_window_minutes: 30,
    reopen_window_minutes: 60,
    triage_cooldown_minutes: 15,
    severity_cap: "P1",
    escalation: { occurrences: {}, open_minutes: {} },
    actor: "triage@test",
    ...over,
  };
}

export function newIncident(over: Partial<NewIncident> = {}): NewIncident {
  return { service: "gateway", env: "prod", severity: "P2", title: "checkout errors", created_by: "sofiia", ...over };
}

/** A complete incident record (for imports). */
export function incidentRecord(id: string, over: Partial<IncidentRecord> = {}): IncidentRecord {
  return {
    id, service: "gateway", env: "prod", severity: "P2", title: `incident ${id}`, status: "open",
    started_at: T0.toISOString(), created_at: T0.toISOString(), updated_at: T0.toISOString(), created_by: "sofiia",
    alert_count: 0, reopened_count: 0, labels: {}, ...over,
  };
}

export function artifact(incidentId: string, name: string, over: Partial<ArtifactRecord> = {}): ArtifactRecord {
  return {
    incident_id: incidentId, name, format: "md", path: `${incidentId}/${name}`, bytes: 120,
    sha256: "ab".repeat(32), created_at: isoAt(1), created_by: "triage@test", ...over,
  };
}

let runSeq = 0;
export function graphRun(incidentId: string, over: Partial<GraphRun> = {}): GraphRun {
  runSeq++;
  return {
    id: `run_test${String(runSeq).padStart(4, "0")}`, graph: "postmortem_draft", incident_id: incidentId, status: "queued",
    requested_by: "sofiia", trigger: "manual", created_at: isoAt(2), updated_at: isoAt(2), attempts: 0, artifacts: [], ...over,
  };
}

/** Rows in a stable order, so two exports compare with `equal`. */
export function sortIncidentRows(rows: IncidentRow[]): IncidentRow[] {
  const key = (r: IncidentRow) => {
    switch (r.kind) {
      case "artifact":
        return `artifact:${r.data.incident_id}/${r.data.name}`;
      case "signature":
        return `signature:${r.data.signature}`;
      default:
        return `${r.kind}:${r.data.id}`;
    }
  };
  return [...rows].sort((a, b) => (key(a) < key(b) ? -1 : 1));
}
