/**
 * The bench workload: realistic ~300-byte alert JSON, every fingerprint sent the same number of
 * times in a seeded random order, over a handful of services. Built before any clock starts.
 */
import { alertSubjects, naming } from "../../src/subjects/index.js";

export const SERVICES = [
  "checkout-api", "payments", "auth", "search", "catalog", "cart", "orders", "shipping",
  "inventory", "pricing", "gateway", "notifications", "billing", "accounts", "media",
  "recommendations", "reviews", "ledger", "fraud", "reporting",
] as const;

const KINDS = ["latency", "error_rate", "slo_breach", "resource", "crash"] as const;
const SEVERITIES = ["P1", "P2", "P2", "P3", "critical", "warning"] as const;
const REGIONS = ["eu-west-1", "eu-central-1", "us-east-1", "ap-south-1"] as const;

export interface Workload {
  count: number;
  fingerprints: number;
  /** Per message: its subject on `ops.alerts.in.<service>` and its encoded JSON. */
  subjects: string[];
  payloads: Uint8Array[];
  /** Mean payload size in bytes. */
  meanBytes: number;
}

/** mulberry32: a small seeded PRNG, so every run sends the same workload. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function alertFor(fp: number, nth: number, startsAt: string): { service: string; json: string } {
  const service = SERVICES[fp % SERVICES.length]!;
  const kind = KINDS[fp % KINDS.length]!;
  const alert = {
    service,
    title: `${kind.replace("_", " ")} above threshold on ${service} /v1/endpoint-${fp % 37}`,
    kind,
    severity: SEVERITIES[fp % SEVERITIES.length],
    env: "prod",
    source: `prometheus@node${(fp % 3) + 1}`,
    fingerprint: `bench-${service}-${fp.toString().padStart(5, "0")}`,
    message: `p99 ${1200 + (nth % 900)}ms > 1200ms for 5m (sample ${nth})`,
    labels: { region: REGIONS[fp % REGIONS.length], cluster: `k8s-prod-${fp % 5}`, instance: `pod-${fp % 11}` },
    starts_at: startsAt,
  };
  return { service, json: JSON.stringify(alert) };
}

/** `count` alerts over `fingerprints` fingerprints (count must be a multiple), shuffled with `seed`. */
export function buildWorkload(count: number, fingerprints: number, seed = 42): Workload {
  if (count % fingerprints !== 0) throw new Error(`count ${count} is not a multiple of fingerprints ${fingerprints}`);
  const order = Array.from({ length: count }, (_, i) => i % fingerprints);
  const rand = prng(seed);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const in_ = alertSubjects(naming()).in;
  const enc = new TextEncoder();
  // A distinct start per alert: each is a new sighting (counted), not a re-send of one firing.
  const start = Date.now();
  const subjects: string[] = new Array(count);
  const payloads: Uint8Array[] = new Array(count);
  let bytes = 0;
  order.forEach((fp, i) => {
    const { service, json } = alertFor(fp, i, new Date(start + i).toISOString());
    subjects[i] = in_(service);
    payloads[i] = enc.encode(json);
    bytes += payloads[i]!.length;
  });
  return { count, fingerprints, subjects, payloads, meanBytes: bytes / count };
}

/**
 * The triage benches' workload: alert i has a distinct fingerprint (`<prefix>-<i>`) and signature
 * i mod `signatures` (service × kind over `signatures / 5` services), so consecutive alerts hit
 * different signatures.
 */
export function signatureWorkload(count: number, o: { signatures: number; fingerprintPrefix: string; servicePad: number }): Workload & { services: number } {
  const services = o.signatures / KINDS.length;
  const subjectsOf = alertSubjects(naming());
  const enc = new TextEncoder();
  const startsAt = new Date().toISOString();
  const subjectsOut: string[] = new Array(count);
  const payloads: Uint8Array[] = new Array(count);
  let bytes = 0;
  for (let i = 0; i < count; i++) {
    const sig = i % o.signatures;
    const service = `svc-${(sig % services).toString().padStart(o.servicePad, "0")}`;
    const kind = KINDS[Math.floor(sig / services)]!;
    const alert = {
      service, kind, env: "prod", severity: "P2", source: "prometheus@bench",
      title: `${kind.replace("_", " ")} above threshold on ${service} /v1/endpoint-${i % 37}`,
      fingerprint: `${o.fingerprintPrefix}-${i.toString().padStart(o.servicePad + 3, "0")}`,
      message: `p99 ${1200 + (i % 900)}ms > 1200ms for 5m (sample ${i})`,
      labels: { region: "eu-west-1", cluster: `k8s-prod-${i % 5}`, instance: `pod-${i % 11}` },
      starts_at: startsAt,
    };
    subjectsOut[i] = subjectsOf.in(service);
    payloads[i] = enc.encode(JSON.stringify(alert));
    bytes += payloads[i]!.length;
  }
  return { count, fingerprints: count, subjects: subjectsOut, payloads, meanBytes: bytes / count, services };
}
