/**
 * A silence created over alerts that are already on an open incident leaves them there (the
 * incident is real; the silence only holds back what comes next) and says so on each such
 * incident's timeline: which silence, by whom, until when, for which of its alerts. One note per
 * silence and incident (the dedupe key), however often the silence is posted again.
 */
import type { IncidentStore } from "./store.js";

export interface SilenceNoteDeps {
  incidents: Pick<IncidentStore, "list" | "alertRefs" | "appendEvent">;
  now(): Date;
}

export interface NotedSilence {
  id: string;
  created_by: string;
  comment: string;
  ends_at: string;
}

/** Open incidents read per call: the newest, as the silence matters most to those being worked. */
const OPEN_LIMIT = 500;

/** Notes the silence on every open incident holding one of `alertRefs`; returns those incidents' ids. */
export async function noteSilenceOnIncidents(d: SilenceNoteDeps, silence: NotedSilence, alertRefs: readonly string[]): Promise<string[]> {
  if (!alertRefs.length) return [];
  const wanted = new Set(alertRefs);
  const open = await d.incidents.list({ status: ["open", "mitigating"], limit: OPEN_LIMIT });
  if (!open.length) return [];
  const held = await d.incidents.alertRefs(open.map((i) => i.id));
  const noted: string[] = [];
  for (const [incidentId, refs] of held) {
    const matched = refs.filter((r) => wanted.has(r));
    if (!matched.length) continue;
    const { replayed } = await d.incidents.appendEvent(
      incidentId,
      {
        type: "note",
        message: `silence ${silence.id} by ${silence.created_by} until ${silence.ends_at} matches ${matched.length} of this incident's alerts; they stay here, new firings it matches are held back (${silence.comment})`,
        author: silence.created_by,
        meta: { silence_id: silence.id, alert_refs: matched },
        dedupe_key: `silence:${silence.id}:${incidentId}`,
      },
      d.now(),
    );
    if (!replayed) noted.push(incidentId);
  }
  return noted;
}
