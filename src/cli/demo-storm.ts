/**
 * The alert storm `opsbus demo` publishes: several services, one flapping, an SLO breach, and
 * duplicates. Fingerprints carry the demo's tag, so each demo counts only its own alerts.
 */

export interface StormAlert {
  service: string;
  title: string;
  kind: string;
  severity: string;
  env: string;
  source: string;
  fingerprint: string;
  message?: string;
  labels: Record<string, string>;
}

export interface Storm {
  tag: string;
  alerts: StormAlert[];
  summary: { services: number; duplicates: number; flapping: number; slo_breach: number };
}

interface Lane {
  share: number;
  service: string;
  kind: string;
  severity: string;
  title: string;
  /** Distinct fingerprints the lane cycles through (every alert new when absent). */
  distinct?: number;
  role?: "flapping" | "slo_breach";
}

/**
 * Shares of the storm. Duplicate lanes repeat a few fingerprints; the flapping and SLO lanes send
 * new alerts (distinct fingerprints) that pile onto one incident each and escalate it.
 */
const LANES: Lane[] = [
  { share: 0.15, service: "checkout", kind: "latency", severity: "high", title: "p95 latency over SLO (1.8 s)", distinct: 1 },
  { share: 0.15, service: "auth", kind: "error_rate", severity: "warning", title: "5xx rate 3.2% on /token", distinct: 2 },
  { share: 0.25, service: "search", kind: "crash", severity: "high", title: "search-indexer restarted", role: "flapping" },
  { share: 0.12, service: "payments", kind: "slo_breach", severity: "critical", title: "availability SLO burn rate 14x (1h window)", role: "slo_breach" },
  { share: 0.06, service: "payments", kind: "error_rate", severity: "high", title: "card authorisation 5xx at 7%", distinct: 3 },
  { share: 0.06, service: "payments", kind: "latency", severity: "high", title: "p99 capture latency 4 s", distinct: 3 },
  { share: 0.06, service: "payments", kind: "crash", severity: "critical", title: "payments-api pods OOMKilled", distinct: 3 },
  { share: 0.05, service: "payments", kind: "resource", severity: "high", title: "DB connection pool exhausted", distinct: 2 },
  { share: 0.05, service: "inventory", kind: "resource", severity: "warning", title: "disk 91% on db-2", distinct: 1 },
  { share: 0.05, service: "notifications", kind: "latency", severity: "info", title: "queue lag 40 s", distinct: 1 },
];
const FLAPPING = 2;
const SLO = 3;

/** Below this, some lanes get no alert. */
export const MIN_STORM = 20;

export function buildStorm(total: number, env: string, tag: string): Storm {
  const counts = LANES.map((l) => Math.floor(l.share * total));
  // Rounding leftovers go to the flapping lane, so the storm has exactly `total` alerts.
  counts[FLAPPING]! += total - counts.reduce((a, b) => a + b, 0);
  const perLane = LANES.map((lane, li) =>
    Array.from({ length: counts[li]! }, (_, i): StormAlert => {
      const n = lane.distinct ? i % lane.distinct : i;
      return {
        service: lane.service,
        title: lane.role === "flapping" ? `${lane.title} (flap ${i + 1})` : lane.title,
        kind: lane.kind,
        severity: lane.severity,
        env,
        source: `demo@${tag}`,
        fingerprint: `demo-${tag}-${lane.service}-${lane.kind}-${n}`,
        ...(lane.role === "slo_breach" ? { message: `error budget for checkout-to-payment availability exhausted in ${i + 5} min` } : {}),
        labels: { demo: tag, ...(lane.role ? { pattern: lane.role } : {}) },
      };
    }),
  );
  // Interleave the lanes, the way a real storm arrives.
  const alerts: StormAlert[] = [];
  for (let i = 0; alerts.length < total; i++) for (const lane of perLane) if (lane[i]) alerts.push(lane[i]!);
  return {
    tag,
    alerts,
    summary: {
      services: new Set(alerts.map((a) => a.service)).size,
      duplicates: LANES.reduce((n, l, i) => n + (l.distinct ? Math.max(0, counts[i]! - l.distinct) : 0), 0),
      flapping: counts[FLAPPING]!,
      slo_breach: counts[SLO]!,
    },
  };
}
