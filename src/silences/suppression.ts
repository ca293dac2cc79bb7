/**
 * Whether an alert is suppressed, and by what: active silences (`silenced_by`, silence ids),
 * inhibition by firing alerts (`inhibited_by`, their fingerprints) and recurring maintenance
 * windows (`muted_by`, window names), the three lists Alertmanager reports in an alert's status.
 *
 * Ingest asks once per alert, with up to a thousand silences live, so silences are indexed once:
 * each under one of its equality matchers (`alertname="X"`, `service="checkout"`), picking the
 * label name most silences share, so an alert is compared only with the silences whose indexed
 * value it carries; silences with only regexes are grouped by label name and their regexes run
 * once per distinct value.
 */
import { inhibitedByIndex, indexInhibitionSources, type InhibitAlert, type InhibitionIndex, type InhibitRule } from "./inhibit.js";
import type { Labels } from "./labels.js";
import { matchesAll, type Matcher } from "./matchers.js";
import type { CompiledSilence } from "./silence-rules.js";
import { containsAny, type TimeInterval } from "./time-intervals.js";

/** A recurring maintenance window (config/maintenance_windows.yml): its matchers, muted inside its intervals. */
export interface MaintenanceWindow {
  name: string;
  matchers: readonly Matcher[];
  /** Inside any one of them. */
  time_intervals: readonly TimeInterval[];
}

/** Silences grouped under a positive regex matcher on one label name, with the answers for recent values. */
interface RegexGroup {
  readonly members: ReadonlyArray<{ silence: CompiledSilence; matcher: Matcher }>;
  /** Label value → the members whose grouping regex matches it. */
  readonly memo: Map<string, readonly CompiledSilence[]>;
}

export interface SilenceIndex {
  /** Label name → value → silences indexed under that equality matcher. */
  readonly byLabel: ReadonlyMap<string, ReadonlyMap<string, readonly CompiledSilence[]>>;
  /** Label name → silences with no equality matcher, grouped under one `=~` matcher on that name. */
  readonly byRegex: ReadonlyMap<string, RegexGroup>;
  /** Silences with only negative matchers: checked against every alert. */
  readonly unindexed: readonly CompiledSilence[];
  readonly size: number;
}

/** Values a regex group remembers; longer values are matched afresh (they rarely repeat). */
const GROUP_MEMO_ENTRIES = 1024;
const GROUP_MEMO_VALUE_CHARS = 256;

/** The matcher of `type` to index `s` under: the one whose name the most silences share. */
function indexMatcher(s: CompiledSilence, type: "=" | "=~", nameCounts: ReadonlyMap<string, number>): Matcher | undefined {
  let best: Matcher | undefined;
  for (const m of s.matchers) if (m.type === type && (!best || nameCounts.get(m.name)! > nameCounts.get(best.name)!)) best = m;
  return best;
}

function countNames(silences: readonly CompiledSilence[], type: "=" | "=~"): Map<string, number> {
  const counts = new Map<string, number>();
  for (const s of silences) {
    for (const name of new Set(s.matchers.filter((m) => m.type === type).map((m) => m.name))) counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return counts;
}

/**
 * Index `silences` (any state: time is checked per alert, so a pending one needs no re-index when
 * it starts). A silence goes under an equality matcher when it has one; else under a regex
 * matcher, where the group's regexes run once per distinct label value, not once per alert.
 */
export function indexSilences(silences: Iterable<CompiledSilence>): SilenceIndex {
  const all = [...silences];
  const equalCounts = countNames(all, "=");
  const regexCounts = countNames(all, "=~");
  const byLabel = new Map<string, Map<string, CompiledSilence[]>>();
  const byRegex = new Map<string, { members: Array<{ silence: CompiledSilence; matcher: Matcher }>; memo: Map<string, readonly CompiledSilence[]> }>();
  const unindexed: CompiledSilence[] = [];
  for (const s of all) {
    const eq = indexMatcher(s, "=", equalCounts);
    if (eq) {
      let values = byLabel.get(eq.name);
      if (!values) byLabel.set(eq.name, (values = new Map()));
      const bucket = values.get(eq.value);
      if (bucket) bucket.push(s);
      else values.set(eq.value, [s]);
      continue;
    }
    const re = indexMatcher(s, "=~", regexCounts);
    if (!re) {
      unindexed.push(s);
      continue;
    }
    let group = byRegex.get(re.name);
    if (!group) byRegex.set(re.name, (group = { members: [], memo: new Map() }));
    group.members.push({ silence: s, matcher: re });
  }
  return { byLabel, byRegex, unindexed, size: all.length };
}

function regexCandidates(group: RegexGroup, value: string): readonly CompiledSilence[] {
  const known = group.memo.get(value);
  if (known) return known;
  const found = group.members.filter((m) => m.matcher.matches(value)).map((m) => m.silence);
  if (value.length <= GROUP_MEMO_VALUE_CHARS) {
    if (group.memo.size >= GROUP_MEMO_ENTRIES) group.memo.clear();
    group.memo.set(value, found);
  }
  return found;
}

const labelValue = (labels: Labels, name: string) => (Object.hasOwn(labels, name) ? labels[name]! : "");

/** Ids of the silences active at `now` whose matchers all hold on `labels`, sorted. */
export function silencedBy(index: SilenceIndex, labels: Labels, now: Date): string[] {
  if (index.size === 0) return [];
  const t = now.getTime();
  const out: string[] = [];
  const check = (s: CompiledSilence) => {
    if (s.activeAt(t) && s.matches(labels)) out.push(s.id);
  };
  for (const [name, values] of index.byLabel) {
    const bucket = values.get(labelValue(labels, name));
    if (bucket) for (const s of bucket) check(s);
  }
  for (const [name, group] of index.byRegex) for (const s of regexCandidates(group, labelValue(labels, name))) check(s);
  for (const s of index.unindexed) check(s);
  return out.length > 1 ? out.sort() : out;
}

/** Names of the windows `labels` fall under at `now`, in config order. */
export function mutedBy(windows: readonly MaintenanceWindow[], labels: Labels, now: Date): string[] {
  const out: string[] = [];
  for (const w of windows) if (containsAny(w.time_intervals, now) && matchesAll(w.matchers, labels)) out.push(w.name);
  return out;
}

export interface SuppressionInput {
  /** Compiled silences; pending and expired ones are allowed and never match. */
  silences: Iterable<CompiledSilence>;
  windows: readonly MaintenanceWindow[];
  inhibitRules: readonly InhibitRule[];
  /**
   * Firing alerts that may inhibit others (their label sets from `alertLabels`). As in
   * Alertmanager, a silenced or inhibited alert still inhibits: pass every firing alert.
   */
  firing: Iterable<InhibitAlert>;
}

/** Everything prepared once. Parts may be swapped on their own (e.g. a new `inhibition` per batch). */
export interface Suppressor {
  silences: SilenceIndex;
  windows: readonly MaintenanceWindow[];
  inhibition: InhibitionIndex;
}

export function prepareSuppression(input: SuppressionInput): Suppressor {
  return {
    silences: indexSilences(input.silences),
    windows: input.windows,
    inhibition: indexInhibitionSources(input.inhibitRules, input.firing),
  };
}

export interface Suppression {
  /** Silence ids. */
  silenced_by: string[];
  /** Fingerprints of inhibiting alerts. */
  inhibited_by: string[];
  /** Maintenance window names. */
  muted_by: string[];
}

/** What suppresses `alert` (its fingerprint and `alertLabels`) at `now`. */
export function suppressionOf(s: Suppressor, alert: { fingerprint: string; labels: Labels }, now: Date): Suppression {
  return {
    silenced_by: silencedBy(s.silences, alert.labels, now),
    inhibited_by: inhibitedByIndex(s.inhibition, alert),
    muted_by: mutedBy(s.windows, alert.labels, now),
  };
}

export function isSuppressed(r: Suppression): boolean {
  return r.silenced_by.length > 0 || r.inhibited_by.length > 0 || r.muted_by.length > 0;
}
