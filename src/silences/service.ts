/**
 * What silence_tool and the Alertmanager API do with silences, on the store port: Alertmanager's
 * `Set` (posting an existing id updates it in place only when `canUpdateInPlace`, else a new
 * silence with a new id, and the old one expired if it still held), `Expire` (idempotent: ends_at
 * = now, never a delete), queries with Alertmanager's `filter` semantics, a preview of the firing
 * alerts a set of matchers would silence, and the retention sweep (the only delete).
 *
 * Every write is compare-and-set on the stored revision and is decided again on a conflict, so
 * two processes posting or expiring the same silence at once agree, and an expired silence can
 * never be written back as active. `created_by` is always the caller the gateway authenticated.
 */
import { randomUUID } from "node:crypto";
import type { AlertStore } from "../alerts/store.js";
import { conflict, invalid, notFound } from "../errors.js";
import type { Logger } from "../log.js";
import type { EventPublisher } from "../nats/events.js";
import type { AlertRecord } from "../subjects/index.js";
import { alertLabels, senderLabels } from "./labels.js";
import type { Matcher } from "./matchers.js";
import { canUpdateInPlace, compileSilence, matchType, validateSilence, type SilenceInput } from "./silence-rules.js";
import { silenceState, type Silence, type SilenceMatcher, type SilenceState } from "./silence.js";
import { SilenceConflict, type SilenceStore, type StoredSilence } from "./store.js";

export const SILENCE_NOT_FOUND = "silence not found";
/** Compare-and-set rounds before a write gives up with `conflict` (each round re-reads the store). */
const MAX_ROUNDS = 5;
/** Go's zero time, which amtool sends for an unset start: "start now", as Alertmanager reads it. */
const GO_ZERO_TIME_MS = Date.parse("0001-01-01T00:00:00Z");
/** The firing alerts a preview looks at: last seen within a week, at most the store's page. */
const PREVIEW_WINDOW_MINUTES = 7 * 24 * 60;
const PREVIEW_LIMIT = 500;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface SilenceServiceDeps {
  store: SilenceStore;
  alerts: Pick<AlertStore, "list">;
  events: Pick<EventPublisher, "publish">;
  /** Expired silences are deleted this long after their end (`alerts.silence_retention_hours`). */
  retentionHours: number;
  logger: Logger;
  now(): Date;
  newId?: () => string;
}

/** A posted silence: Alertmanager's postableSilence in opsbus's field names (`created_by` comes from the caller). */
export interface SilencePost {
  id?: string;
  matchers: SilenceMatcher[];
  /** Absent (or Go's zero time): now. */
  starts_at?: string;
  ends_at: string;
  comment: string;
}

export interface SilenceWrite {
  silence: Silence;
  /** `updated`: in place, same id; `created`: a new id (`replaced`: the id it stands in for). */
  action: "created" | "updated";
  replaced?: string;
}

export interface SilenceListQuery {
  /** Alertmanager's `filter`: each must equal (name, type, value) one of the silence's matchers. */
  filter?: ReadonlyArray<Pick<Matcher, "name" | "type" | "value">>;
  /** Default every state. */
  states?: readonly SilenceState[];
}

export interface PreviewedAlert {
  alert_ref: string;
  fingerprint: string;
  service: string;
  env: string;
  severity: string;
  title: string;
  starts_at: string;
  labels: Record<string, string>;
}

const STATE_ORDER: Record<SilenceState, number> = { active: 1, pending: 2, expired: 3 };

/** Alertmanager's order: active (ending soonest first), pending (starting soonest), expired (newest first). */
export function sortSilences(silences: Silence[], now: Date): Silence[] {
  const keyed = silences.map((s) => ({ s, state: silenceState(s, now) }));
  keyed.sort((a, b) => {
    if (a.state !== b.state) return STATE_ORDER[a.state] - STATE_ORDER[b.state];
    if (a.state === "active") return Date.parse(a.s.ends_at) - Date.parse(b.s.ends_at);
    if (a.state === "pending") return Date.parse(a.s.starts_at) - Date.parse(b.s.starts_at);
    return Date.parse(b.s.ends_at) - Date.parse(a.s.ends_at);
  });
  return keyed.map((k) => k.s);
}

/** Alertmanager's CheckSilenceMatchesFilterLabels: every filter matcher is one of the silence's, exactly. */
export function silenceMatchesFilter(s: Silence, filter: ReadonlyArray<Pick<Matcher, "name" | "type" | "value">>): boolean {
  return filter.every((f) => s.matchers.some((m) => m.name === f.name && m.value === f.value && matchType(m) === f.type));
}

/** A silence id as a caller sent it: a UUID, else the caller is told so (never used as a store key). */
export function checkSilenceId(id: string): string {
  if (!UUID.test(id)) throw invalid(`silenceID must be a UUID: ${JSON.stringify(id.slice(0, 80))}`);
  return id.toLowerCase();
}

const iso = (text: string): string => new Date(Date.parse(text)).toISOString();

/** As suppression matches: the alert as opsbus maps it, or as its sender labelled it (labels.ts). */
function matchesEitherView(compiled: { matches(labels: Readonly<Record<string, string>>): boolean }, a: AlertRecord): boolean {
  const mapped = alertLabels(a);
  if (compiled.matches(mapped)) return true;
  const sent = senderLabels(a, mapped);
  return sent !== undefined && compiled.matches(sent);
}

export class SilenceService {
  private readonly log: Logger;
  private readonly newId: () => string;

  constructor(private readonly d: SilenceServiceDeps) {
    this.log = d.logger.child({ component: "silences" });
    this.newId = d.newId ?? randomUUID;
  }

  /** The live copy of every stored silence (ingest matches against it; `store.onChange` says when it moved). */
  current(): readonly Silence[] {
    return this.d.store.current();
  }

  /** Alertmanager's POST /api/v2/silences. */
  async post(input: SilencePost, by: string): Promise<SilenceWrite> {
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const now = this.d.now();
      const startMs = input.starts_at === undefined ? NaN : Date.parse(input.starts_at);
      const next: SilenceInput = {
        matchers: input.matchers.map((m) => ({ name: m.name, value: m.value, is_regex: m.is_regex, is_equal: m.is_equal !== false })),
        starts_at: input.starts_at === undefined || startMs === GO_ZERO_TIME_MS ? now.toISOString() : input.starts_at,
        ends_at: input.ends_at,
        comment: input.comment,
      };
      const reasons = validateSilence(next, now);
      if (reasons.length) throw invalid(`invalid silence: ${reasons.join("; ")}`, { reasons });
      next.starts_at = iso(next.starts_at);
      next.ends_at = iso(next.ends_at);
      try {
        return await this.write(input.id === undefined ? undefined : checkSilenceId(input.id), next, by, now);
      } catch (err) {
        if (!(err instanceof SilenceConflict)) throw err;
        this.log.debug({ id: err.id }, "silence changed while writing it; deciding again");
      }
    }
    throw conflict("the silence kept changing while this request wrote it; try again");
  }

  private async write(id: string | undefined, next: SilenceInput, by: string, now: Date): Promise<SilenceWrite> {
    const prev = id === undefined ? null : await this.d.store.get(id);
    if (id !== undefined && !prev) throw notFound(SILENCE_NOT_FOUND, { id });
    const stamp = now.toISOString();
    if (prev && canUpdateInPlace(prev.silence, next, now)) {
      const silence: Silence = { ...next, id: prev.silence.id, created_by: by, updated_at: stamp };
      const revision = await this.d.store.put(silence, prev.revision);
      await this.publish("silence.updated", silence, revision, by, now);
      return { silence, action: "updated" };
    }
    // A new silence never starts in the past: that would rewrite which alerts were silenced.
    const startsAt = Date.parse(next.starts_at) < now.getTime() ? stamp : next.starts_at;
    const silence: Silence = { ...next, starts_at: startsAt, id: this.newId(), created_by: by, updated_at: stamp };
    if (prev && silenceState(prev.silence, now) !== "expired") await this.expireStored(prev, by, now, silence.id);
    const revision = await this.d.store.put(silence, 0);
    await this.publish("silence.created", silence, revision, by, now, prev ? { replaces: prev.silence.id } : {});
    return { silence, action: "created", ...(prev ? { replaced: prev.silence.id } : {}) };
  }

  /** Alertmanager's DELETE /api/v2/silence/{id}: ends it now; an expired one is left as it is. */
  async expire(id: string, by: string): Promise<{ silence: Silence; changed: boolean }> {
    const key = checkSilenceId(id);
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const stored = await this.d.store.get(key);
      if (!stored) throw notFound(SILENCE_NOT_FOUND, { id });
      const now = this.d.now();
      if (silenceState(stored.silence, now) === "expired") return { silence: stored.silence, changed: false };
      try {
        return { silence: await this.expireStored(stored, by, now), changed: true };
      } catch (err) {
        if (!(err instanceof SilenceConflict)) throw err;
      }
    }
    throw conflict("the silence kept changing while this request expired it; try again");
  }

  private async expireStored(stored: StoredSilence, by: string, now: Date, replacedBy?: string): Promise<Silence> {
    const stamp = now.toISOString();
    const prev = stored.silence;
    // A pending silence ends before it ever started: both times now, as Alertmanager does.
    const pending = silenceState(prev, now) === "pending";
    const silence: Silence = { ...prev, ...(pending ? { starts_at: stamp } : {}), ends_at: stamp, updated_at: stamp };
    const revision = await this.d.store.put(silence, stored.revision);
    await this.publish("silence.expired", silence, revision, by, now, replacedBy ? { replaced_by: replacedBy } : {});
    return silence;
  }

  async get(id: string): Promise<Silence> {
    const stored = await this.d.store.get(checkSilenceId(id));
    if (!stored) throw notFound(SILENCE_NOT_FOUND, { id });
    return stored.silence;
  }

  /** Alertmanager's GET /api/v2/silences, from the live copy, in its order. */
  list(q: SilenceListQuery = {}): Silence[] {
    const now = this.d.now();
    const states = q.states ? new Set(q.states) : null;
    const out = this.d.store
      .list()
      .map((s) => s.silence)
      .filter((s) => (!states || states.has(silenceState(s, now))) && silenceMatchesFilter(s, q.filter ?? []));
    return sortSilences(out, now);
  }

  /** The firing alerts `matchers` would silence now (what a silence with them would hide). */
  async preview(matchers: SilenceMatcher[]): Promise<{ matched: number; examined: number; truncated: boolean; alerts: PreviewedAlert[] }> {
    const now = this.d.now();
    const reasons = validateSilence({ matchers, starts_at: now.toISOString(), ends_at: new Date(now.getTime() + 1).toISOString(), comment: "" });
    if (reasons.length) throw invalid(`invalid matchers: ${reasons.join("; ")}`, { reasons });
    const compiled = compileSilence({ id: "preview", matchers, starts_at: now.toISOString(), ends_at: new Date(now.getTime() + 1).toISOString(), created_by: "", comment: "", updated_at: now.toISOString() });
    const firing = await this.d.alerts.list({ state: "firing", window_minutes: PREVIEW_WINDOW_MINUTES, limit: PREVIEW_LIMIT }, now);
    const alerts = firing.filter((a) => matchesEitherView(compiled, a)).map(previewOf);
    return { matched: alerts.length, examined: firing.length, truncated: firing.length >= PREVIEW_LIMIT, alerts };
  }

  /**
   * Publishes `silence.expired` (by `schedule`) for each silence whose own end passed in
   * (since, now]. An expiry by hand published its event when it was written (its end is its
   * `updated_at`), so it is not announced again. Every gateway may announce the same end: the
   * event's id makes the copies one message.
   */
  async announceEnded(since: Date, now: Date): Promise<number> {
    let announced = 0;
    for (const { silence, revision } of this.d.store.list()) {
      const end = Date.parse(silence.ends_at);
      if (end <= since.getTime() || end > now.getTime() || end <= Date.parse(silence.updated_at)) continue;
      if (!(await this.publish("silence.expired", silence, revision, "schedule", now, {}, `${silence.id}@${revision}:ended`))) throw new Error(`the end of silence ${silence.id} was not announced`);
      announced++;
    }
    return announced;
  }

  /** Deletes silences that ended more than `retentionHours` ago (each once, cluster-wide: compare-and-set). */
  async sweep(): Promise<number> {
    const cutoff = this.d.now().getTime() - this.d.retentionHours * 3_600_000;
    let removed = 0;
    for (const { silence, revision } of this.d.store.list()) {
      if (Date.parse(silence.ends_at) >= cutoff) continue;
      if (await this.d.store.remove(silence.id, revision)) removed++;
    }
    if (removed) this.log.info({ removed, retention_hours: this.d.retentionHours }, "expired silences past retention deleted");
    return removed;
  }

  private async publish(
    type: "silence.created" | "silence.updated" | "silence.expired",
    s: Silence,
    revision: number,
    by: string,
    now: Date,
    extra: { replaces?: string; replaced_by?: string } = {},
    // The revision makes a republish of the same write a duplicate JetStream drops.
    msgId = `${s.id}@${revision}`,
  ): Promise<boolean> {
    const data = { silence_id: s.id, matchers: s.matchers, starts_at: s.starts_at, ends_at: s.ends_at, created_by: s.created_by, comment: s.comment, state: silenceState(s, now), by, ...extra };
    try {
      await this.d.events.publish(type, data, msgId);
      return true;
    } catch (err) {
      // The silence is stored, which is what counts; the event is the notice of it.
      this.log.error({ err, type, silence_id: s.id }, "silence event not published");
      return false;
    }
  }
}

function previewOf(a: AlertRecord): PreviewedAlert {
  const labels = Object.fromEntries(Object.entries(a.labels ?? {}).map(([k, v]) => [k, String(v)]));
  return { alert_ref: a.alert_ref, fingerprint: a.fingerprint, service: a.service, env: a.env, severity: a.severity, title: a.title, starts_at: a.starts_at, labels };
}
