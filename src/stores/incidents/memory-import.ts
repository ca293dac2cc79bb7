/**
 * Which replay rows (from `auto`'s fallback) the memory/JSONL incident store writes on import,
 * given what it holds: newer versions win (incidents through mergeIncidents, so a signature slot
 * claimed by two incidents goes to the more recently updated one), events are only added (new
 * id and new dedupe key), and rows of incidents it neither holds nor receives are dropped.
 * Postgres applies the same rules in postgres-import.ts.
 */
import { mergeIncidents } from "../../incidents/write-plans.js";
import { incidentRowKey } from "../../incidents/query-rules.js";
import type { IncidentRecord, IncidentRow } from "../../incidents/store.js";

/** What the store holds, as the import asks it. */
export interface ImportView {
  incident(id: string): IncidentRecord | undefined;
  /** The incident holding a signature slot. */
  slotHolder(signatureKey: string): IncidentRecord | undefined;
  incidentIds(): Iterable<string>;
  hasEvent(id: string): boolean;
  hasEventKey(dedupeKey: string): boolean;
  /** The stored version of an artifact, signature or run row. */
  stored(row: IncidentRow): IncidentRow | undefined;
}

const clone = <T>(value: T): T => structuredClone(value);
/** When a row version was written: artifacts by created_at, the rest by updated_at. */
const versionOf = (row: IncidentRow) => Date.parse(row.kind === "artifact" ? row.data.created_at : "updated_at" in row.data ? row.data.updated_at : "");

/** The rows to write, incidents first (fresh copies the store may keep). */
export function importedRows(rows: IncidentRow[], view: ImportView): IncidentRow[] {
  const incoming = rows.flatMap((r) => (r.kind === "incident" ? [r.data] : []));
  const incidents = mergeIncidents(incoming, (id) => view.incident(id), (key) => view.slotHolder(key));
  const changed: IncidentRow[] = incidents.map((data) => ({ kind: "incident", data }));
  const known = new Set([...view.incidentIds(), ...incoming.map((i) => i.id)]);
  const seenIds = new Set<string>();
  const seenKeys = new Set<string>();
  const latest = new Map<string, IncidentRow>();
  for (const row of rows) {
    if (row.kind === "incident" || (row.kind !== "signature" && !known.has(row.data.incident_id))) continue;
    if (row.kind === "event") {
      const e = row.data;
      const key = e.dedupe_key;
      const dup = view.hasEvent(e.id) || seenIds.has(e.id) || (key !== undefined && (view.hasEventKey(key) || seenKeys.has(key)));
      seenIds.add(e.id);
      if (key !== undefined) seenKeys.add(key);
      if (!dup) changed.push(clone(row));
      continue;
    }
    const k = incidentRowKey(row);
    const cur = latest.get(k) ?? view.stored(row);
    if (!cur || versionOf(row) >= versionOf(cur)) latest.set(k, clone(row));
  }
  return [...changed, ...latest.values()];
}
