/**
 * Inhibition with Alertmanager's semantics (inhibit/inhibit.go): a firing alert matching a rule's
 * `source_matchers` mutes alerts matching its `target_matchers` that carry the same values for
 * every label in `equal` (a label missing on both sides counts as equal, both being empty). An
 * alert that matches both sides is not muted by a source that matches both sides too, so two
 * such alerts cannot mute each other; no alert mutes itself. Resolved alerts inhibit nothing.
 */
import type { Labels } from "./labels.js";
import { matchesAll, type Matcher } from "./matchers.js";

export interface InhibitRule {
  /** Optional, for logs and for naming the rule in `inhibited_by` reasons. */
  name?: string;
  source_matchers: readonly Matcher[];
  target_matchers: readonly Matcher[];
  equal: readonly string[];
}

export interface InhibitAlert {
  fingerprint: string;
  labels: Labels;
  /** A resolved alert is no source; callers may pass only firing alerts instead. */
  resolved?: boolean;
}

interface Source {
  fingerprint: string;
  /** Also matches the rule's target side: it cannot mute an alert that matches both sides. */
  twoSided: boolean;
}

interface IndexedRule {
  rule: InhibitRule;
  /** Firing sources by the values of the rule's `equal` labels. */
  sources: Map<string, Source[]>;
}

/** The firing sources of every rule, indexed by their `equal` values; rebuild when the firing set changes. */
export interface InhibitionIndex {
  readonly rules: readonly IndexedRule[];
}

const valueOf = (labels: Labels, name: string) => (Object.hasOwn(labels, name) ? labels[name]! : "");
const equalKey = (equal: readonly string[], labels: Labels) => JSON.stringify(equal.map((n) => valueOf(labels, n)));

/** Indexes `firing` against `rules` once, so each target costs one lookup per rule whose target side it matches. */
export function indexInhibitionSources(rules: readonly InhibitRule[], firing: Iterable<InhibitAlert>): InhibitionIndex {
  const indexed: IndexedRule[] = rules.map((rule) => ({ rule, sources: new Map() }));
  for (const alert of firing) {
    if (alert.resolved) continue;
    for (const { rule, sources } of indexed) {
      if (!matchesAll(rule.source_matchers, alert.labels)) continue;
      const key = equalKey(rule.equal, alert.labels);
      const source = { fingerprint: alert.fingerprint, twoSided: matchesAll(rule.target_matchers, alert.labels) };
      const bucket = sources.get(key);
      if (bucket) bucket.push(source);
      else sources.set(key, [source]);
    }
  }
  return { rules: indexed };
}

export interface Inhibition {
  /** The inhibiting alert. */
  fingerprint: string;
  /** The rule's name, when it has one. */
  rule?: string;
}

/** Every (source, rule) that inhibits `target`, sources in fingerprint order per rule. */
export function inhibitionsOf(index: InhibitionIndex, target: Pick<InhibitAlert, "fingerprint" | "labels">): Inhibition[] {
  const out: Inhibition[] = [];
  for (const { rule, sources } of index.rules) {
    if (sources.size === 0 || !matchesAll(rule.target_matchers, target.labels)) continue;
    const bucket = sources.get(equalKey(rule.equal, target.labels));
    if (!bucket) continue;
    const targetIsSource = matchesAll(rule.source_matchers, target.labels);
    const found = bucket.filter((s) => s.fingerprint !== target.fingerprint && !(targetIsSource && s.twoSided));
    found.sort((a, b) => (a.fingerprint < b.fingerprint ? -1 : a.fingerprint > b.fingerprint ? 1 : 0));
    for (const s of found) out.push(rule.name === undefined ? { fingerprint: s.fingerprint } : { fingerprint: s.fingerprint, rule: rule.name });
  }
  return out;
}

/** Fingerprints of the alerts that inhibit `target` (Alertmanager's `inhibitedBy`), each once, sorted. */
export function inhibitedByIndex(index: InhibitionIndex, target: Pick<InhibitAlert, "fingerprint" | "labels">): string[] {
  return [...new Set(inhibitionsOf(index, target).map((i) => i.fingerprint))].sort();
}

/** One-off form: indexes `firingSources` for this call. For many targets, index once and use `inhibitedByIndex`. */
export function inhibitedBy(rules: readonly InhibitRule[], target: Pick<InhibitAlert, "fingerprint" | "labels">, firingSources: Iterable<InhibitAlert>): string[] {
  return inhibitedByIndex(indexInhibitionSources(rules, firingSources), target);
}
