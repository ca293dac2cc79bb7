/**
 * Write helpers of the memory (and so JSONL) incident store: a planner's write as rows, and the
 * signature-slot guard Postgres gets from its unique index on incidents(signature_key).
 */
import { conflict } from "../../errors.js";
import type { IncidentWrite } from "../../incidents/write-plans.js";
import type { IncidentRecord, IncidentRow } from "../../incidents/store.js";

export function writeRows(w: IncidentWrite): IncidentRow[] {
  const rows: IncidentRow[] = [{ kind: "incident", data: w.incident }, { kind: "event", data: w.event }];
  if (w.state) rows.push({ kind: "signature", data: w.state });
  return rows;
}

/** Refuses a write that would leave two incidents holding one signature slot (`slots`: signature_key → holder). */
export function checkSlots(rows: IncidentRow[], slots: ReadonlyMap<string, string>): void {
  const writes = new Map<string, IncidentRecord>();
  for (const r of rows) if (r.kind === "incident") writes.set(r.data.id, r.data);
  const claimed = new Map<string, string>();
  for (const rec of writes.values()) {
    const key = rec.signature_key;
    if (key === undefined) continue;
    const holder = claimed.get(key) ?? slots.get(key);
    const released = holder !== undefined && writes.has(holder) && writes.get(holder)!.signature_key !== key;
    if (holder !== undefined && holder !== rec.id && !released) {
      throw conflict(`signature ${key} already has open incident ${holder}`, { signature: key, incident_id: holder });
    }
    claimed.set(key, rec.id);
  }
}
