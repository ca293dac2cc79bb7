/**
 * Fuzz targets of the two HTTP intakes: mutated Alertmanager POST bodies (one alert mutated, bare
 * or inside an array between two valid ones) and PagerDuty enqueue events, and what each must
 * leave behind, decided with the same checks the server runs (so the suite follows the policy).
 */
import { makeEntryCheck } from "../../src/alerts/entry-check.js";
import type { Policies } from "../../src/config/policies.js";
import { nestsDeeperThan } from "../../src/gateway/decode.js";
import type { AmAlertPayload } from "../../src/http/alertmanager/mapping.js";
import type { makeAlertChecker } from "../../src/http/alertmanager/post.js";
import { resolveRoutingKeys } from "../../src/http/pagerduty-config.js";
import { alertOfEvent, validateEvent, type PdEvent } from "../../src/http/pagerduty-event.js";
import { MAX_ALERTS_PER_BATCH } from "../../src/subjects/index.js";
import { mutate, type Mutant, type Rng } from "./fuzz.js";

const enc = new TextEncoder();
const concat = (...parts: Array<string | Uint8Array>) => {
  const bytes = parts.map((p) => (typeof p === "string" ? enc.encode(p) : p));
  const out = new Uint8Array(bytes.reduce((n, b) => n + b.length, 0));
  let at = 0;
  for (const b of bytes) (out.set(b, at), (at += b.length));
  return out;
};

/** A postable alert of its own label set (`fuzz_id`), so each valid one is its own stored alert. */
export function amAlert(id: string, now: Date): Record<string, unknown> {
  return {
    labels: { alertname: "FuzzIntake", service: "fuzz-am", severity: "warning", fuzz_id: id },
    annotations: { summary: `fuzz ${id}`, description: "mutated" },
    startsAt: new Date(now.getTime() - 60_000).toISOString(),
    endsAt: new Date(now.getTime() + 3_600_000).toISOString(),
    generatorURL: "http://prometheus.local/graph",
  };
}

/**
 * Message `i`: one alert mutated, then sent bare (not an array), alone in an array, or between two
 * valid alerts (whose fate follows the rest of the body: kept on a 200 or 400, dropped otherwise).
 */
export function amMutant(r: Rng, i: number, now: Date, maxBytes: number): Mutant {
  const m = mutate(r, amAlert(`${i}`, now), { maxBytes, hardMaxBytes: maxBytes + 128 * 1024 });
  const shape = r.next();
  if (shape < 0.15) return { ...m, kind: `${m.kind}/bare` };
  if (shape < 0.4) return { ...m, kind: `${m.kind}/alone`, body: concat("[", m.body, "]") };
  const [a, b] = [JSON.stringify(amAlert(`${i}-a`, now)), JSON.stringify(amAlert(`${i}-b`, now))];
  return { ...m, kind: `${m.kind}/mixed`, body: concat(`[${a},`, m.body, `,${b}]`) };
}

export interface AmExpected {
  /** A JSON array of at most MAX_ALERTS_PER_BATCH, parsed as the server parses it. */
  parsed: boolean;
  valid: AmAlertPayload[];
  reasons: string[];
}

/** What POST /api/v2/alerts must make of `body`: parsed as post.ts does, checked by its checker. */
export function expectedAm(body: Uint8Array, check: ReturnType<typeof makeAlertChecker>, now: Date): AmExpected {
  const text = Buffer.from(body).toString("utf8");
  const none: AmExpected = { parsed: false, valid: [], reasons: [] };
  if (nestsDeeperThan(text)) return none;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return none;
  }
  if (!Array.isArray(value) || value.length > MAX_ALERTS_PER_BATCH) return none;
  return { parsed: true, ...check(value, now) };
}

/** A trigger with its own dedup_key; about one in ten names a routing key nobody configured. */
export function pdMutant(r: Rng, i: number, key: string, maxBytes: number): Mutant {
  const event = {
    routing_key: r.chance(0.1) ? "0000fuzz0unknown0key000000000000" : key,
    event_action: "trigger",
    dedup_key: `fz-${i}`,
    payload: { summary: `fuzz ${i}`, source: "fuzz-host", severity: "error", component: "api", custom_details: { region: "eu", attempts: 3 } },
    client: "fuzz",
  };
  return mutate(r, event, { maxBytes, hardMaxBytes: maxBytes + 128 * 1024 });
}

/** The event POST /v2/enqueue must accept (202), or undefined when it must refuse it (400). */
export function expectedPd(body: Uint8Array, key: string): PdEvent | undefined {
  const text = Buffer.from(body).toString("utf8");
  if (nestsDeeperThan(text)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const checked = validateEvent(value);
  return checked.ok && checked.event.routing_key === key ? checked.event : undefined;
}

/**
 * Why the ingest worker will refuse the alert an accepted event becomes ([] when it stores it):
 * the event mapped as pagerduty.ts maps it, then the entry checks every batch entry goes through.
 */
export function makePdIngestCheck(policies: Pick<Policies, "intake" | "alertRouting">, env: Record<string, string>) {
  const check = makeEntryCheck(policies.alertRouting);
  const { byKey } = resolveRoutingKeys(policies.intake.pagerduty, env);
  return (event: PdEvent, dedupKey: string): string[] => {
    const target = byKey.get(event.routing_key);
    if (!target) return ["unknown routing key"];
    const opts = { now: new Date(), maxLabels: policies.alertRouting.alerts.max_labels, newKey: () => dedupKey };
    const { alert } = alertOfEvent(event, target, policies.intake.pagerduty, opts);
    return alert ? check(alert) : [];
  };
}
