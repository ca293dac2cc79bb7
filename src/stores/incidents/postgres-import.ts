/**
 * Importing replay rows (from `auto`'s fallback) into Postgres: parents first (incidents, then the
 * rest), each chunk in its own transaction, so a failed import can simply run again. Newer
 * versions win, events are only added, and a signature slot claimed by two incidents goes to the
 * more recently updated one (mergeIncidents).
 */
import type { Pool } from "../pg.js";
import { mergeIncidents, newerOrSame } from "../../incidents/write-plans.js";
import * as SQL from "./postgres-sql.js";
import { tx } from "./postgres-sql.js";
import type { IncidentRow } from "../../incidents/store.js";

const IMPORT_CHUNK = 1000;
const unique = <T>(xs: Iterable<T>): T[] => [...new Set(xs)];

function chunks<T>(xs: T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += IMPORT_CHUNK) out.push(xs.slice(i, i + IMPORT_CHUNK));
  return out;
}

/** One version per key, the newest (one statement must not update a row twice). */
function newest<T>(xs: T[], key: (x: T) => string, newer: (a: T, b: T | undefined) => boolean): T[] {
  const m = new Map<string, T>();
  for (const x of xs) if (newer(x, m.get(key(x)))) m.set(key(x), x);
  return [...m.values()];
}

export async function importIncidentRows(pool: Pool, rows: IncidentRow[]): Promise<void> {
  const of = <K extends IncidentRow["kind"]>(kind: K) =>
    rows.flatMap((r) => (r.kind === kind ? [r.data as Extract<IncidentRow, { kind: K }>["data"]] : []));
  for (const chunk of chunks(of("incident"))) {
    await tx(pool, async (c) => {
      const cur = await c.query("SELECT * FROM incidents WHERE id = ANY($1::text[]) OR signature_key = ANY($2::text[]) FOR UPDATE", [
        unique(chunk.map((i) => i.id)), unique(chunk.flatMap((i) => (i.signature_key === undefined ? [] : [i.signature_key]))),
      ]);
      const stored = cur.rows.map(SQL.toIncident);
      const byId = new Map(stored.map((i) => [i.id, i]));
      const byKey = new Map(stored.flatMap((i) => (i.signature_key === undefined ? [] : [[i.signature_key, i] as const])));
      const merged = mergeIncidents(chunk, (id) => byId.get(id), (k) => byKey.get(k));
      if (merged.length) await c.query(SQL.IMPORT_INCIDENTS, [JSON.stringify(merged)]);
    });
  }
  for (const chunk of chunks(of("event"))) await pool.query(SQL.IMPORT_EVENTS, [SQL.eventsJson(chunk)]);
  const artifacts = newest(of("artifact"), (a) => `${a.incident_id}/${a.name}`, (a, b) => !b || Date.parse(a.created_at) >= Date.parse(b.created_at));
  for (const chunk of chunks(artifacts)) await pool.query(SQL.UPSERT_ARTIFACTS(true), [JSON.stringify(chunk)]);
  for (const chunk of chunks(newest(of("signature"), (s) => s.signature, newerOrSame))) {
    await tx(pool, (c) => c.query(SQL.IMPORT_STATES, [JSON.stringify(chunk)]));
  }
  for (const chunk of chunks(newest(of("run"), (r) => r.id, newerOrSame))) await pool.query(SQL.IMPORT_RUNS, [JSON.stringify(chunk)]);
}
