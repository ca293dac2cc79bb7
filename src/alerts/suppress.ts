/**
 * Suppression at ingest and its release. A new firing that a silence, a maintenance window or an
 * inhibiting alert holds back is stored and counted like any other, but with status `suppressed`
 * and no work item: no incident, no triage, no page. The release sweep looks at the suppressed
 * alerts that still fire once per tick; one nothing holds back any more gets its work item and its
 * `alert.accepted` as if it had just arrived. Two sweepers may race: the work item's message id is
 * the same from both, and the guarded store update lets one of them flip the status.
 */
import type { Logger } from "../log.js";
import type { EventPublisher } from "../nats/events.js";
import { indexInhibitionSources, inhibitedByIndex, type InhibitAlert, type InhibitRule } from "../silences/inhibit.js";
import { alertLabels, senderLabels, type Labels } from "../silences/labels.js";
import { matchesAll } from "../silences/matchers.js";
import { isSuppressed, mutedBy, silencedBy, type MaintenanceWindow, type SilenceIndex } from "../silences/suppression.js";
import type { AlertRecord, AlertSuppression, Subjects } from "../subjects/index.js";
import { everyTick } from "../util/tick.js";
import type { AlertStore, NewAlert } from "./store.js";

/** What can hold an alert back right now; the silence index is the live one (rebuilt when a silence changes). */
export interface SuppressionRules {
  silences: SilenceIndex;
  windows: readonly MaintenanceWindow[];
  inhibitRules: readonly InhibitRule[];
}

export interface SuppressDeps {
  store: AlertStore;
  rules(): SuppressionRules;
  now(): Date;
}

/** A firing that would open work: just created, or fired again after it was resolved. */
export interface NewFiring {
  alert_ref: string;
  alert: Pick<NewAlert, "fingerprint" | "service" | "env" | "kind" | "severity" | "source" | "labels">;
}

/** Firing alerts looked at as inhibition sources per target group (one store read per env/service pair). */
const SOURCE_LIMIT = 500;
/** How far back a still-firing alert may have been seen last and still inhibit or be released. */
const FIRING_WINDOW_MINUTES = 7 * 24 * 60;

const NOTHING: AlertSuppression = { silenced_by: [], inhibited_by: [], muted_by: [] };

/**
 * The values of `field` every rule's sources must have (the union over rules whose source matchers
 * say `field="v"`); undefined when some rule's sources may have any value.
 */
function sourceValues(rules: readonly InhibitRule[], field: "severity" | "kind"): string[] | undefined {
  const values = new Set<string>();
  for (const r of rules) {
    const m = r.source_matchers.find((x) => x.name === field && x.type === "=");
    if (!m) return undefined;
    values.add(m.value);
  }
  return [...values];
}

/**
 * The firing alerts that could inhibit `targets`: read per (env, service) of the targets, since
 * opsbus rules compare those in `equal`; a rule without them reads the env as a whole. Only the
 * severities and kinds the rules' sources name are read (the fields the matchers see are the
 * stored ones), so a service's many firing targets cannot crowd its sources out of the read.
 */
async function firingSources(d: SuppressDeps, rules: readonly InhibitRule[], targets: ReadonlyArray<NewFiring>, now: Date): Promise<InhibitAlert[]> {
  const byService = rules.every((r) => r.equal.includes("service"));
  const groups = new Map<string, { env: string; service?: string }>();
  for (const t of targets) {
    const key = byService ? `${t.alert.env}\u0000${t.alert.service}` : t.alert.env;
    groups.set(key, byService ? { env: t.alert.env, service: t.alert.service } : { env: t.alert.env });
  }
  const severities = sourceValues(rules, "severity");
  const kinds = sourceValues(rules, "kind");
  const narrow = { ...(severities ? { severity_in: severities } : {}), ...(kinds ? { kind_in: kinds } : {}) };
  const found = await Promise.all(
    [...groups.values()].map((g) => d.store.list({ ...g, ...narrow, state: "firing", window_minutes: FIRING_WINDOW_MINUTES, limit: SOURCE_LIMIT }, now)),
  );
  return found.flat().map((a) => ({ fingerprint: a.fingerprint, labels: alertLabels(a) }));
}

/** What holds each of `firings` back now; the ones nothing holds are left out. */
export async function evaluateSuppression(d: SuppressDeps, firings: ReadonlyArray<NewFiring>): Promise<Map<string, AlertSuppression>> {
  const out = new Map<string, AlertSuppression>();
  if (!firings.length) return out;
  const now = d.now();
  const rules = d.rules();
  // The sender's labels are matched only by silences and windows: with none, they are not built.
  const bySender = rules.silences.size > 0 || rules.windows.length > 0;
  const labelled = firings.map((f) => {
    const labels: Labels = alertLabels(f.alert);
    return { f, labels, sent: bySender ? senderLabels(f.alert, labels) : undefined };
  });
  const targets = rules.inhibitRules.length ? labelled.filter((x) => rules.inhibitRules.some((r) => matchesAll(r.target_matchers, x.labels))) : [];
  const inhibition = targets.length
    ? indexInhibitionSources(rules.inhibitRules, await firingSources(d, rules.inhibitRules, targets.map((x) => x.f), now))
    : undefined;
  // Silences and windows match the alert as opsbus maps it or as its sender labelled it (labels.ts).
  const either = (find: (l: Labels) => string[], labels: Labels, sent: Labels | undefined) => (sent ? [...new Set([...find(labels), ...find(sent)])].sort() : find(labels));
  for (const { f, labels, sent } of labelled) {
    const s: AlertSuppression = {
      silenced_by: either((l) => silencedBy(rules.silences, l, now), labels, sent),
      inhibited_by: inhibition ? inhibitedByIndex(inhibition, { fingerprint: f.alert.fingerprint, labels }) : [],
      muted_by: either((l) => mutedBy(rules.windows, l, now), labels, sent),
    };
    if (isSuppressed(s)) out.set(f.alert_ref, s);
  }
  return out;
}

/** Ingest's step: evaluates the batch's new firings and stores the held ones as suppressed. */
export function makeSuppressAtIngest(d: SuppressDeps) {
  return async function suppress(firings: ReadonlyArray<NewFiring>): Promise<Map<string, AlertSuppression>> {
    const held = await evaluateSuppression(d, firings);
    if (held.size) await d.store.updateStates([...held].map(([alert_ref, suppression]) => ({ alert_ref, patch: { status: "suppressed", suppression } })));
    return held;
  };
}

export interface ReleaseDeps extends SuppressDeps {
  events: EventPublisher;
  subjects: Subjects;
  /** Publishes one work item with a message id (JetStream dedupes a repeat inside its window). */
  publishWork(subject: string, data: Uint8Array, msgID: string): Promise<void>;
  logger: Logger;
}

const enc = new TextEncoder();
/** Suppressed alerts looked at per sweep call; the sweep repeats while a call comes back full. */
const PAGE = 500;

/** Work and event ids of a release: the firing (its occurrence count) and the fact that it was released. */
export const releaseId = (a: Pick<AlertRecord, "alert_ref" | "occurrences">) => `${a.alert_ref}:${a.occurrences}:released`;

/** One sweep: releases every suppressed, still-firing alert nothing holds back now; returns how many. */
export async function sweepSuppressed(d: ReleaseDeps): Promise<number> {
  const held = await d.store.list({ status_in: ["suppressed"], state: "firing", window_minutes: FIRING_WINDOW_MINUTES, limit: PAGE }, d.now());
  if (!held.length) return 0;
  const still = await evaluateSuppression(d, held.map((a) => ({ alert_ref: a.alert_ref, alert: a })));
  let released = 0;
  for (const a of held) {
    const now = still.get(a.alert_ref);
    if (now) {
      // Still held, maybe by something else now (a silence replaced, a window begun): keep the reasons true.
      if (JSON.stringify(now) !== JSON.stringify(a.suppression ?? NOTHING)) await d.store.updateState(a.alert_ref, { status: "suppressed" }, { suppression: now });
      continue;
    }
    // Work first, then the status: a sweeper dying in between leaves the alert suppressed with its
    // work queued, and the next sweep republishes the same message id (deduplicated) and flips it.
    const id = releaseId(a);
    await d.publishWork(d.subjects.alerts.work(a.service), enc.encode(JSON.stringify({ alert_ref: a.alert_ref })), `work:${id}`);
    const flipped = await d.store.updateState(a.alert_ref, { status: "suppressed" }, { status: "new", suppression: null });
    if (!flipped) continue;
    released += 1;
    await d.events.publish(
      "alert.accepted",
      { alert_ref: a.alert_ref, fingerprint: a.fingerprint, service: a.service, kind: a.kind, severity: a.severity, env: a.env, title: a.title, source: a.source },
      id,
    );
  }
  return released;
}

/** Sweeps every `tickSeconds`; returns a stop function. */
export function startReleaseSweep(d: ReleaseDeps, tickSeconds: number): () => void {
  return everyTick(
    tickSeconds,
    async () => {
      const n = await sweepSuppressed(d);
      if (n) d.logger.info({ released: n }, "suppressed alerts released: nothing holds them back any more");
    },
    (err) => d.logger.warn({ err }, "release sweep failed; retried next tick"),
  );
}
