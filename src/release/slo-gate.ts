/**
 * slo_watch: the service's SLO thresholds (config/slo_policy.yml) against every enabled
 * observability source (config/observability_sources.yml). A breach in any source, missing data
 * where data is required, or a source that cannot be read is a problem; never a crash.
 */
import type { ObservabilitySources, SloMetric, SloPolicy } from "../config/release-policy.js";
import { SLO_METRICS } from "../config/release-policy.js";
import { scrubSecrets } from "../log.js";
import type { AlertStore } from "../alerts/store.js";
import { instantQuery, renderQuery, SloSourceError } from "./prometheus.js";
import type { GateFindings } from "./types.js";

/** Active alerts named one by one in the reasons; the rest are counted. */
const MAX_LISTED_ALERTS = 5;
/** The alert store answers at most this many per list call. */
const ALERT_LIST_LIMIT = 500;

export interface SloGateDeps {
  alerts: AlertStore;
  slo: SloPolicy;
  sources: ObservabilitySources;
}

export interface SloReading {
  source: "prometheus";
  service: string;
  metric: SloMetric;
  value: number | null;
  threshold: number;
  breached: boolean;
}

export type Thresholds = Record<SloMetric, number>;

export function thresholdsOf(slo: SloPolicy, service: string): Thresholds {
  return { ...slo.defaults, ...slo.services[service] } as Thresholds;
}

const fmt = (n: number) => String(Math.round(n * 1000) / 1000);
const unit = (m: SloMetric) => (m === "latency_p95_ms" ? " ms" : "%");

export async function sloWatch(
  d: SloGateDeps,
  q: { service?: string; env: string; now: Date; signal?: AbortSignal },
): Promise<GateFindings> {
  const f: GateFindings = { problems: [], notes: [], details: {} };
  const { prometheus, alerts } = d.sources;
  if (!prometheus.enabled && !alerts.enabled) {
    f.problems.push("no slo source enabled in observability_sources.yml");
    return f;
  }
  const services = q.service ? [q.service] : Object.keys(d.slo.services);
  f.details.thresholds = Object.fromEntries(services.map((s) => [s, thresholdsOf(d.slo, s)]));
  if (prometheus.enabled) await readPrometheus(d, services, q, f);
  if (alerts.enabled) await readAlerts(d, q, f);
  return f;
}

async function readPrometheus(d: SloGateDeps, services: string[], q: { env: string; signal?: AbortSignal }, f: GateFindings): Promise<void> {
  const p = d.sources.prometheus;
  if (services.length === 0) {
    f.problems.push("prometheus: no service to read (give `service`, or list services in slo_policy.yml)");
    return;
  }
  const jobs = services.flatMap((service) =>
    SLO_METRICS.flatMap((metric) => {
      const template = p.queries[metric];
      return template ? [{ service, metric, query: renderQuery(template, { service, env: q.env }) }] : [];
    }),
  );
  const settled = await Promise.allSettled(
    jobs.map((j) => instantQuery(p.base_url, j.query, { timeoutMs: p.timeout_ms, ...(q.signal ? { signal: q.signal } : {}) })),
  );
  const readings: SloReading[] = [];
  const unavailable = new Set<string>();
  for (const [i, outcome] of settled.entries()) {
    const j = jobs[i]!;
    if (outcome.status === "rejected") {
      if (!(outcome.reason instanceof SloSourceError)) throw outcome.reason;
      unavailable.add(outcome.reason.message);
      continue;
    }
    const threshold = thresholdsOf(d.slo, j.service)[j.metric];
    const value = outcome.value.value;
    if (value === undefined) {
      const line = `prometheus: no data for ${j.metric} of ${j.service} (${outcome.value.series} series; no traffic or no such service?)`;
      (p.require_data ? f.problems : f.notes).push(line);
      readings.push({ source: "prometheus", service: j.service, metric: j.metric, value: null, threshold, breached: false });
      continue;
    }
    const breached = value > threshold;
    readings.push({ source: "prometheus", service: j.service, metric: j.metric, value, threshold, breached });
    const u = unit(j.metric);
    if (breached) f.problems.push(`${j.service} ${j.metric} ${fmt(value)}${u} > ${fmt(threshold)}${u} (prometheus)`);
    else f.notes.push(`${j.service} ${j.metric} ${fmt(value)}${u} ≤ ${fmt(threshold)}${u} (prometheus)`);
  }
  for (const msg of unavailable) f.problems.push(`slo source unavailable: prometheus: ${msg}`);
  f.details.readings = readings;
}

async function readAlerts(d: SloGateDeps, q: { service?: string; env: string; now: Date }, f: GateFindings): Promise<void> {
  const a = d.sources.alerts;
  let listed;
  try {
    listed = await d.alerts.list(
      {
        window_minutes: a.window_minutes,
        env: q.env,
        ...(q.service ? { service: q.service } : {}),
        // Acked alerts are handled; failed ones still retry unless dead (filtered below).
        status_in: ["new", "processing", "failed"],
        limit: ALERT_LIST_LIMIT,
      },
      q.now,
    );
  } catch (err) {
    f.problems.push(`slo source unavailable: alerts: ${scrubSecrets(err instanceof Error ? err.message : String(err))}`);
    return;
  }
  const active = listed.filter((x) => !x.dead && a.kinds.includes(x.kind));
  f.details.alerts = active.map((x) => ({ alert_ref: x.alert_ref, service: x.service, kind: x.kind, title: x.title, status: x.status, last_seen_at: x.last_seen_at }));
  if (active.length === 0) {
    f.notes.push(`no active ${a.kinds.join("/")} alert${q.service ? ` for ${q.service}` : ""} in ${q.env} within ${a.window_minutes} min (alerts)`);
    return;
  }
  for (const x of active.slice(0, MAX_LISTED_ALERTS)) {
    f.problems.push(`active ${x.kind} alert ${x.alert_ref} on ${x.service}: "${x.title}" (${x.status}, last seen ${x.last_seen_at}) (alerts)`);
  }
  if (active.length > MAX_LISTED_ALERTS) f.problems.push(`… and ${active.length - MAX_LISTED_ALERTS} more active alert(s) (alerts)`);
}
