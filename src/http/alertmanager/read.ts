/**
 * `GET /api/v2/alerts` and `GET /api/v2/alerts/groups` over the alert store, in Alertmanager's
 * shapes. Only firing alerts are listed (Alertmanager drops an alert once its `endsAt` passed).
 * An alert stored suppressed is `suppressed` with the silences, inhibiting alerts and maintenance
 * windows holding it (as of ingest or the last release sweep); every other one is `active`. The
 * `active`, `silenced`, `inhibited` and `muted` switches leave out what Alertmanager's leave out;
 * `filter` matchers apply to the labels; `receiver` is a fully anchored regex on the one receiver.
 */
import type { FastifyRequest } from "fastify";
import type { AlertRecord } from "../../subjects/index.js";
import { OpsError } from "../../errors.js";
import { makeMatcher, MatcherError, matchesAll, parseMatcher, type Matcher } from "../../silences/matchers.js";
import type { AlertmanagerDeps } from "./deps.js";
import { goBool } from "./access.js";

/** Keys in Alertmanager's order, so a reply diffs cleanly against a real Alertmanager's. */
export interface GettableAlert {
  annotations: Record<string, string>;
  endsAt: string;
  fingerprint: string;
  receivers: Array<{ name: string }>;
  startsAt: string;
  status: { inhibitedBy: string[]; mutedBy: string[]; silencedBy: string[]; state: "active" | "suppressed" | "unprocessed" };
  updatedAt: string;
  generatorURL?: string;
  labels: Record<string, string>;
}

export interface AlertQueryParams {
  matchers: Matcher[];
  active: boolean;
  silenced: boolean;
  inhibited: boolean;
  muted: boolean;
  receiver?: Matcher;
}

const DEFAULT_RESOLVE_TIMEOUT_MINUTES = 5;

/** The alert routing policy's `alerts.resolve_timeout_minutes` where the policy has it, else 5. */
export function resolveTimeoutMinutes(policies: AlertmanagerDeps["policies"]): number {
  const v = (policies.alertRouting.alerts as Record<string, unknown>).resolve_timeout_minutes;
  return typeof v === "number" && v > 0 ? v : DEFAULT_RESOLVE_TIMEOUT_MINUTES;
}

const list = (v: unknown): string[] => (v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)]);

/** The `receiver` regex, refused in Alertmanager's words. */
function receiverMatcher(regex: string): Matcher {
  try {
    return makeMatcher("receiver", "=~", regex);
  } catch (err) {
    if (err instanceof MatcherError) throw new OpsError("invalid_request", `failed to parse receiver param: ${err.message}`);
    throw err;
  }
}

/** The query string of both GETs; throws invalid_request with Alertmanager's wording. */
export function parseAlertQuery(request: FastifyRequest): AlertQueryParams {
  const query = (request.query ?? {}) as Record<string, unknown>;
  try {
    const matchers = list(query.filter).map(parseMatcher);
    // Nothing is ever unprocessed here: `unprocessed` selects nothing more.
    const [active, silenced, inhibited, muted] = ["active", "silenced", "inhibited", "muted"].map((name) => goBool(query[name], true)) as [boolean, boolean, boolean, boolean];
    const receiver = list(query.receiver)[0];
    return { matchers, active, silenced, inhibited, muted, ...(receiver !== undefined ? { receiver: receiverMatcher(receiver) } : {}) };
  } catch (err) {
    if (err instanceof MatcherError) throw new OpsError("invalid_request", err.message);
    throw err;
  }
}

const text = (v: unknown): string => (typeof v === "string" ? v : String(v));

function stringRecord(v: unknown): Record<string, string> {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return {};
  // Sorted keys, as Go renders a map (a Postgres jsonb column keeps its own order).
  return Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, x]) => [k, text(x)]));
}

/** A stored field, or where records stored before the field existed kept it (under `meta`). */
function field(rec: AlertRecord, name: string): unknown {
  const own = (rec as unknown as Record<string, unknown>)[name];
  return own !== undefined ? own : rec.meta?.[name];
}

function statusOf(rec: AlertRecord): GettableAlert["status"] {
  const s = rec.status === "suppressed" ? rec.suppression : undefined;
  if (!s) return { inhibitedBy: [], mutedBy: [], silencedBy: [], state: "active" };
  return { inhibitedBy: [...s.inhibited_by], mutedBy: [...s.muted_by], silencedBy: [...s.silenced_by], state: "suppressed" };
}

/** Alertmanager's alertFilter: each switch set to false leaves out the alerts in that state. */
function passesSwitches(q: AlertQueryParams, status: GettableAlert["status"]): boolean {
  if (!q.active && status.state === "active") return false;
  if (!q.silenced && status.silencedBy.length) return false;
  if (!q.inhibited && status.inhibitedBy.length) return false;
  if (!q.muted && status.mutedBy.length) return false;
  return true;
}

export function makeAlertReader(d: AlertmanagerDeps) {
  const cfg = d.policies.intake.alertmanager;
  const now = d.now ?? (() => new Date());
  const timeoutMs = resolveTimeoutMinutes(d.policies) * 60_000;
  const receivers = [{ name: cfg.receiver }];

  const toGettable = (rec: AlertRecord, endsAt: number): GettableAlert => {
    const generatorURL = field(rec, "generator_url");
    return {
      annotations: stringRecord(field(rec, "annotations")),
      endsAt: new Date(endsAt).toISOString(),
      fingerprint: rec.fingerprint,
      receivers,
      startsAt: rec.starts_at,
      status: statusOf(rec),
      updatedAt: rec.last_seen_at,
      ...(typeof generatorURL === "string" ? { generatorURL } : {}),
      labels: stringRecord(rec.labels),
    };
  };

  /** Firing alerts matching the query, ordered by fingerprint as Alertmanager orders them. */
  return async function readAlerts(q: AlertQueryParams): Promise<GettableAlert[]> {
    if (q.receiver && !q.receiver.matches(cfg.receiver)) return [];
    const at = now();
    const records = await d.alerts.list({ window_minutes: cfg.read_window_minutes, limit: cfg.read_limit }, at);
    const out: GettableAlert[] = [];
    for (const rec of records) {
      if (rec.resolved_at) continue;
      // No end (a PagerDuty trigger, or an alert stored before the lifecycle): firing until resolved, shown as
      // Alertmanager shows a firing alert seen now.
      const endsAt = rec.ends_at ? Date.parse(rec.ends_at) : at.getTime() + timeoutMs;
      if (endsAt <= at.getTime()) continue;
      const alert = toGettable(rec, endsAt);
      if (passesSwitches(q, alert.status) && matchesAll(q.matchers, alert.labels)) out.push(alert);
    }
    return out.sort((a, b) => (a.fingerprint < b.fingerprint ? -1 : a.fingerprint > b.fingerprint ? 1 : 0));
  };
}

/** Alertmanager's groups for a route without `group_by`: one group of every alert, when there are any. */
export function groupsOf(alerts: GettableAlert[], receiver: string): unknown[] {
  return alerts.length ? [{ alerts, labels: {}, receiver: { name: receiver } }] : [];
}
