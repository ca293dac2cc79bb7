/**
 * Reads every incident of a time range in slices sized to hold about 800 incidents each, walking
 * back from `until`. The first page (newest 1000) gives the density; each slice's count adjusts
 * the next slice's length, and a full slice is halved and read again.
 *
 * Why not `listAllIncidents`: its pages are "the next 1000 older than the last one", which a store
 * answers by sorting everything older (the memory store sorts per call), so 100,000 incidents cost
 * ~100 sorts of ~50,000. Bounded slices keep every call's result small: near-linear overall.
 */
import { listAllIncidents } from "../incidents/query.js";
import type { IncidentQuery, IncidentRecord, IncidentStore } from "../incidents/store.js";

const PAGE = 1000;
const TARGET = 800;
/** A runaway guard, far above any real window. */
const MAX_INCIDENTS = 2_000_000;

const iso = (ms: number) => new Date(ms).toISOString();

export async function scanIncidents(
  store: IncidentStore,
  q: Omit<IncidentQuery, "limit" | "since" | "until">,
  range: { since?: Date; until: Date },
): Promise<IncidentRecord[]> {
  const out = new Map<string, IncidentRecord>();
  const add = (page: IncidentRecord[]) => page.forEach((inc) => out.set(inc.id, inc));
  const lower = range.since?.getTime();
  const list = (from: number | undefined, to: number, limit = PAGE) =>
    store.list({ ...q, ...(from !== undefined ? { since: iso(from) } : {}), until: iso(to), limit });

  let end = range.until.getTime();
  const first = await list(lower, end);
  add(first);
  if (first.length < PAGE) return [...out.values()];
  const oldest = Math.min(...first.map((i) => Date.parse(i.started_at)));
  let span = Math.max(1, ((end - oldest) * TARGET) / PAGE);
  // The oldest instant may hold more incidents than the page showed: read it again.
  end = oldest + 1;

  while ((lower === undefined || end > lower) && out.size < MAX_INCIDENTS) {
    const from = lower === undefined ? end - span : Math.max(lower, end - span);
    const page = await list(from, end);
    if (page.length >= PAGE) {
      if (end - from > 1) {
        span = Math.max(1, Math.floor((end - from) / 2));
        continue;
      }
      // One millisecond holds a full page or more: the pager handles ties.
      add(await listAllIncidents(store, { ...q, since: iso(from), until: iso(end) }));
      end = from;
      continue;
    }
    add(page);
    end = from;
    if (page.length === 0 && lower === undefined) {
      // Open-ended: jump over a gap, or stop when nothing older exists.
      const probe = await list(undefined, end, 1);
      if (probe.length === 0) break;
      end = Date.parse(probe[0]!.started_at) + 1;
      continue;
    }
    span = Math.max(1, page.length === 0 ? span * 4 : Math.min(span * 4, (span * TARGET) / page.length));
  }
  return [...out.values()];
}
