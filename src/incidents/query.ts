/** Store reads beyond one page: every incident of a query, every event of a set of incidents. */
import type { IncidentEvent, IncidentEventKind, IncidentQuery, IncidentRecord, IncidentStore } from "./store.js";

const PAGE = 1000;

/** Newest started_at first, then by id (timestamps compared as instants, whatever their ISO spelling). */
export function newestFirst(a: IncidentRecord, b: IncidentRecord): number {
  return Date.parse(b.started_at) - Date.parse(a.started_at) || a.id.localeCompare(b.id);
}
const EVENT_PAGE = 100_000;
/** Ids per events() call, so a query never carries an unbounded id list. */
const ID_CHUNK = 500;

/**
 * Every incident matching `q` (newest started_at first), paging backwards by started_at; stops
 * at `cap`. Pages end at an exclusive `until`, so the boundary instant is read on its own first.
 */
export async function listAllIncidents(store: IncidentStore, q: Omit<IncidentQuery, "limit">, cap = 100_000): Promise<IncidentRecord[]> {
  const out = new Map<string, IncidentRecord>();
  let until = q.until;
  while (out.size < cap) {
    const page = await store.list({ ...q, ...(until ? { until } : {}), limit: PAGE });
    for (const inc of page) out.set(inc.id, inc);
    if (page.length < PAGE) break;
    const oldest = page.at(-1)!.started_at;
    // Incidents sharing the oldest instant may straddle the page end: read that instant alone.
    const ties = await store.list({ ...q, since: oldest, until: new Date(Date.parse(oldest) + 1).toISOString(), limit: PAGE });
    for (const inc of ties) out.set(inc.id, inc);
    if (until === oldest) break; // no progress possible
    until = oldest;
  }
  return [...out.values()].sort(newestFirst).slice(0, cap);
}

/** Every event of the incidents (optionally of one type), oldest first. */
export async function eventsOf(store: IncidentStore, incidentIds: string[], type?: IncidentEventKind): Promise<IncidentEvent[]> {
  const out: IncidentEvent[] = [];
  for (let i = 0; i < incidentIds.length; i += ID_CHUNK) {
    const ids = incidentIds.slice(i, i + ID_CHUNK);
    out.push(...(await store.events({ incident_ids: ids, ...(type ? { type } : {}), limit: EVENT_PAGE })));
  }
  // Stable by ts only: events of one instant keep the store's order (e.g. `created` before `alert`).
  return incidentIds.length <= ID_CHUNK ? out : out.sort((a, b) => a.ts.localeCompare(b.ts));
}
