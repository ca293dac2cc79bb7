/**
 * A seeded governance dataset for the risk and pressure tests: incidents, follow-ups and alerts in
 * memory stores at fixed instants, so every score can be worked out by hand (see the tests).
 */
import { RiskAttribution, RiskPolicy, ArchitecturePressure } from "../../src/config/risk-policy.js";
import { MemoryAlertStore } from "../../src/stores/alerts/memory.js";
import type { IngestItem } from "../../src/alerts/store.js";
import { MemoryRiskHistoryStore } from "../../src/stores/risk/memory.js";
import { riskSnapshotId, type RiskSnapshot } from "../../src/risk/store.js";
import { at, followup, MemoryIncidentStore, seed } from "./incident-fixtures.js";

/** Tuesday of ISO week 2026-11; the last complete week is 2026-10 (ends 2026-03-09T00:00Z). */
export const NOW = new Date("2026-03-10T12:00:00.000Z");
export const HOUR_MS = 3_600_000;
export const minus = (hours: number) => new Date(NOW.getTime() - hours * HOUR_MS);

export const riskPolicy = RiskPolicy.parse({ services: ["search"] });
export const attribution = RiskAttribution.parse({});
export const pressurePolicy = ArchitecturePressure.parse({});

let fp = 0;
function alert(service: string, kind: string): IngestItem {
  fp++;
  return {
    alert: {
      fingerprint: `fp-${service}-${kind}-${fp}`,
      service,
      title: `${kind} on ${service}`,
      kind,
      severity: "P2",
      env: "prod",
      source: "monitor@node1",
      labels: {},
      meta: {},
      starts_at: NOW.toISOString(),
    },
    dedupe_ttl_minutes: 30,
  };
}
/** `n` occurrences of one alert (the same fingerprint in one batch). */
const times = (n: number, item: IngestItem) => Array.from({ length: n }, () => item);

export interface Dataset {
  incidents: MemoryIncidentStore;
  alerts: MemoryAlertStore;
  history: MemoryRiskHistoryStore;
}

export async function seedDataset(): Promise<Dataset> {
  const incidents = new MemoryIncidentStore();
  const alerts = new MemoryAlertStore();
  const history = new MemoryRiskHistoryStore();

  // gateway (prod)
  const g1 = await seed(incidents, { service: "gateway", severity: "P0", started_at: "2026-03-09T10:00:00Z", signature: "gw-5xx" });
  const g2 = await seed(incidents, { service: "gateway", severity: "P2", started_at: "2026-03-08T10:00:00Z", signature: "gw-latency" });
  await seed(incidents, { service: "gateway", severity: "P2", started_at: "2026-03-05T10:00:00Z", closed_at: "2026-03-05T12:00:00Z", signature: "gw-latency" });
  const g4 = await seed(incidents, { service: "gateway", severity: "P3", started_at: "2026-02-20T10:00:00Z", closed_at: "2026-02-20T11:00:00Z" });
  await followup(incidents, g4.id, { followup_id: "fu1", title: "add canary", owner: "ops", due_date: "2026-03-01", status: "open" }, "2026-02-20T12:00:00Z");
  await followup(incidents, g1.id, { followup_id: "fu2", title: "raise limits", owner: "ops", due_date: "2026-03-20", status: "open" }, "2026-03-09T11:00:00Z");
  await followup(incidents, g1.id, { followup_id: "fu3", title: "rollback test", owner: "ops", due_date: "2026-03-05", status: "open" }, "2026-03-09T11:00:00Z");
  await followup(incidents, g1.id, { followup_id: "fu3", status: "done" }, "2026-03-09T12:00:00Z");
  await followup(incidents, g2.id, { followup_id: "fu4", title: "tune pool", owner: "ops", due_date: "2026-03-09", status: "open" }, "2026-03-08T11:00:00Z");
  await alerts.ingestBatch([alert("gateway", "slo_breach")], minus(30)); // outside every 24 h window
  await alerts.ingestBatch(times(3, alert("gateway", "slo_breach")), minus(2));
  await alerts.ingestBatch(times(9, alert("gateway", "latency")), minus(1));

  // auth (prod)
  await seed(incidents, { service: "auth", severity: "P1", started_at: "2026-03-10T08:00:00Z" });
  await alerts.ingestBatch([1, 2, 3, 4].map(() => alert("auth", "slo_breach")), minus(3));
  await alerts.ingestBatch(times(44, alert("auth", "error_rate")), minus(5));

  // billing (staging)
  await seed(incidents, { service: "billing", env: "staging", severity: "P3", started_at: "2026-03-10T00:00:00Z" });

  // payments (prod): many recurring signatures in week 2026-10, all closed
  const pay = [
    ["P0", "pay-a"], ["P0", "pay-a"], ["P0", "pay-a"], ["P1", "pay-b"], ["P1", "pay-b"],
    ["P1", "pay-c"], ["P1", "pay-c"], ["P2", "pay-d"], ["P2", "pay-d"],
  ] as const;
  for (const [i, [severity, signature]] of pay.entries()) {
    const day = String(2 + i % 6).padStart(2, "0");
    await seed(incidents, { service: "payments", severity, signature, started_at: `2026-03-${day}T0${i}:00:00Z`, closed_at: `2026-03-${day}T0${i}:30:00Z` });
  }
  return { incidents, alerts, history };
}

/** A stored snapshot of `service` at the hour starting at `hour`. */
export function historyRow(service: string, hour: string, score: number, env = "prod"): RiskSnapshot {
  return {
    id: riskSnapshotId(env, service, new Date(hour).toISOString()),
    env,
    service,
    hour: new Date(hour).toISOString(),
    ts: hour,
    score,
    band: score >= 75 ? "critical" : score >= 50 ? "high" : score >= 20 ? "medium" : "low",
    attribution: [],
  };
}

export { at };
