/** Builders shared by the store conformance suites: fixed clock, alerts, audit records. */
import type { AlertRow, IngestItem, NewAlert } from "../../src/alerts/store.js";
import type { AuditRecord } from "../../src/audit/store.js";

export interface StoreHandle<S> {
  store: S;
  cleanup(): Promise<void>;
}
export type MakeStore<S> = () => Promise<StoreHandle<S>>;

export const T0 = new Date("2026-03-01T12:00:00.000Z");
/** T0 plus `minutes`. */
export const at = (minutes: number): Date => new Date(T0.getTime() + minutes * 60_000);
export const isoAt = (minutes: number): string => at(minutes).toISOString();

export function newAlert(fingerprint: string, over: Partial<NewAlert> = {}): NewAlert {
  return {
    fingerprint,
    service: "gateway",
    title: `latency high (${fingerprint})`,
    kind: "latency",
    severity: "P2",
    env: "prod",
    source: "monitor@node1",
    labels: { region: "eu", replicas: 3, canary: false },
    meta: { runbook: "https://runbooks/x", nested: { a: [1, 2] } },
    starts_at: T0.toISOString(),
    ...over,
  };
}

export function item(fingerprint: string, opts: { key?: string; ttl?: number; alert?: Partial<NewAlert> } = {}): IngestItem {
  const it: IngestItem = { alert: newAlert(fingerprint, opts.alert), dedupe_ttl_minutes: opts.ttl ?? 30 };
  if (opts.key !== undefined) it.receipt_key = opts.key;
  return it;
}

/** Rows in a stable order, so two exports compare with `equal`. */
export function sortRows(rows: AlertRow[]): AlertRow[] {
  const key = (r: AlertRow) => (r.kind === "alert" ? `a:${r.data.alert_ref}` : `r:${r.data.receipt_key}`);
  return [...rows].sort((a, b) => (key(a) < key(b) ? -1 : 1));
}

let auditSeq = 0;
export function auditRecord(over: Partial<AuditRecord> = {}): AuditRecord {
  auditSeq++;
  return {
    id: `aud_${String(auditSeq).padStart(6, "0")}`,
    ts: isoAt(auditSeq % 100),
    agent_id: "sofiia",
    role: "agent_cto",
    tool: "alert_ingest_tool",
    action: "list",
    decision: "allow",
    status: "ok",
    duration_ms: 12.5,
    params: { window_minutes: 240, filter: { env: "prod" } },
    channel: "nats",
    node_id: "node1",
    ...over,
  };
}
