/**
 * The Alertmanager bench's workload: alerts as Prometheus posts them to `POST /api/v2/alerts`
 * (labels identify, annotations describe), `count` of them over `labelSets` label sets in a seeded
 * random order, cut into request bodies once, before any clock starts, so both servers get the
 * same bytes. Every alert has its own startsAt, as an HA pair's replicas or restarted rules send
 * them, while its label set fires: both servers merge each into that firing (its start compared,
 * its end moved on), one occurrence per label set.
 */
import { batchBodies, PROMETHEUS_BATCH, type PostableAlert } from "../../test/harness/prometheus-sender.js";
import { prng, SERVICES } from "./alerts.js";

const ALERTNAMES = ["HighLatency", "ErrorRateHigh", "SLOBurn", "DiskAlmostFull", "PodCrashLooping"] as const;
const SEVERITIES = ["critical", "warning", "warning", "info"] as const;
const REGIONS = ["eu-west-1", "eu-central-1", "us-east-1", "ap-south-1"] as const;

export interface AmWorkload {
  count: number;
  labelSets: number;
  /** Request bodies of at most 256 alerts (Prometheus's batch). */
  bodies: string[];
  /** Alerts per body, in body order. */
  sizes: number[];
  meanBytes: number;
}


function alertFor(set: number, startsAt: Date, endsAt: string, extra: Record<string, string>): PostableAlert {
  const service = SERVICES[set % SERVICES.length]!;
  const alertname = ALERTNAMES[set % ALERTNAMES.length]!;
  return {
    labels: {
      alertname,
      service,
      severity: SEVERITIES[set % SEVERITIES.length]!,
      env: "prod",
      region: REGIONS[set % REGIONS.length]!,
      cluster: `k8s-prod-${set % 5}`,
      instance: `10.0.${(set >> 8) & 255}.${set & 255}:9100`,
      job: "node",
      ...extra,
    },
    annotations: {
      summary: `${alertname} on ${service} /v1/endpoint-${set % 37}`,
      description: `p99 above 1200ms for 5m on ${service} (label set ${set})`,
    },
    startsAt: startsAt.toISOString(),
    endsAt,
    generatorURL: `http://prometheus.example:9090/graph?g0.expr=${alertname}`,
  };
}

/** `count` alerts over `labelSets` label sets (count a multiple of labelSets), shuffled with `seed`. */
export function buildAmWorkload(count: number, labelSets: number, seed = 42): AmWorkload {
  if (count % labelSets !== 0) throw new Error(`count ${count} is not a multiple of labelSets ${labelSets}`);
  const order = Array.from({ length: count }, (_, i) => i % labelSets);
  const rand = prng(seed);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const base = Date.now() - count; // startsAt strictly increasing in send order, all in the past
  const endsAt = new Date(Date.now() + 6 * 3600_000).toISOString();
  return finish(count, labelSets, order.map((set, i) => alertFor(set, new Date(base + i), endsAt, {})));
}

/**
 * Prometheus's steady state: `labelSets` firing alerts re-sent once per evaluation round, `count`
 * in all. Each label set keeps its startsAt (one firing, so the first round opens it and every later
 * one only refreshes it) and every round carries a new endsAt, as Prometheus sets it from the
 * evaluation time.
 */
export function buildResendWorkload(count: number, labelSets: number, seed = 42): AmWorkload {
  if (count % labelSets !== 0) throw new Error(`count ${count} is not a multiple of labelSets ${labelSets}`);
  const rand = prng(seed);
  const base = Date.now() - 3600_000;
  const alerts: PostableAlert[] = [];
  for (let round = 0; round < count / labelSets; round++) {
    const order = Array.from({ length: labelSets }, (_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    const endsAt = new Date(Date.now() + 4 * 60_000 + round * 1000).toISOString();
    for (const set of order) alerts.push(alertFor(set, new Date(base + set), endsAt, {}));
  }
  return finish(count, labelSets, alerts);
}

/**
 * The kill -9 set: `count` alerts, each its own label set (label `alert_id` = its index), so which
 * of them survived can be read back from either server.
 */
export function buildSurvivalWorkload(count: number): AmWorkload {
  const base = Date.now() - count;
  const endsAt = new Date(Date.now() + 6 * 3600_000).toISOString();
  return finish(count, count, Array.from({ length: count }, (_, i) => alertFor(i, new Date(base + i), endsAt, { alert_id: String(i) })));
}

function finish(count: number, labelSets: number, alerts: PostableAlert[]): AmWorkload {
  const bodies = batchBodies(alerts, PROMETHEUS_BATCH);
  const sizes = bodies.map((_, b) => Math.min(PROMETHEUS_BATCH, count - b * PROMETHEUS_BATCH));
  const bytes = bodies.reduce((n, b) => n + Buffer.byteLength(b), 0);
  return { count, labelSets, bodies, sizes, meanBytes: bytes / count };
}

/** The `alert_id`s of the alerts in the given bodies (for the kill -9 set). */
export function alertIdsOf(w: AmWorkload, bodies: readonly number[]): Set<string> {
  const ids = new Set<string>();
  for (const b of bodies) for (let i = 0; i < w.sizes[b]!; i++) ids.add(String(b * PROMETHEUS_BATCH + i));
  return ids;
}
