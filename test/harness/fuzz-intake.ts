/**
 * Fuzz targets of the two HTTP intakes: mutated Alertmanager POST bodies (one alert mutated, bare
 * or inside an array between two valid ones) and PagerDuty enqueue events, and what each must
 * leave behind, decided with the same checks the server runs (so the suite follows the policy).
 * And Alertmanager's silence routes: mutated and hostile silence bodies, bad ids and filters, with
 * what each must get decided from Alertmanager's rules and opsbus's documented bounds.
 */
import { makeEntryCheck } from "../../src/alerts/entry-check.js";
import type { Policies } from "../../src/config/policies.js";
import { nestsDeeperThan } from "../../src/gateway/decode.js";
import type { AmAlertPayload } from "../../src/alerts/am-mapping.js";
import type { makeAlertChecker } from "../../src/http/alertmanager/post.js";
import { resolveRoutingKeys } from "../../src/http/pagerduty-config.js";
import { alertOfEvent, validateEvent, type PdEvent } from "../../src/http/pagerduty-event.js";
import { MAX_ALERTS_PER_BATCH } from "../../src/subjects/index.js";
import { mutate, type Mutant, type MutantHeaders, type Rng } from "./fuzz.js";

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
  // `null` is no alerts, as Alertmanager (Go) decodes it.
  if (value === null) value = [];
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

// ---- Alertmanager's silence routes: POST /api/v2/silences, GET /api/v2/silences, GET and DELETE /api/v2/silence/{id}

export type SilenceTarget = "post" | "get" | "delete" | "list";

/** One request to a silence route; `expect` is what it must get: 200, a refusal, or either. */
export interface SilenceRequest {
  target: SilenceTarget;
  method: "GET" | "POST" | "DELETE";
  /** Path and query, sent byte for byte. */
  path: string;
  m: Mutant;
  expect: "accept" | "refuse" | "either";
  /** Why it must be refused (or which hostile case it is). */
  why: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A valid postableSilence of its own (`fuzz_id`), so each created silence is told apart. */
export function silenceBody(id: string, now: Date): Record<string, unknown> {
  return {
    matchers: [{ name: "alertname", value: "FuzzSilence", isRegex: false, isEqual: true }, { name: "fuzz_id", value: id, isRegex: false, isEqual: true }],
    startsAt: now.toISOString(),
    endsAt: new Date(now.getTime() + 3_600_000).toISOString(),
    createdBy: "fuzz",
    comment: `fuzz ${id}`,
  };
}

const isPlain = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const unstorable = (s: string) => s.includes("\u0000") || !(s as string & { isWellFormed(): boolean }).isWellFormed();

/**
 * Why POST /api/v2/silences must refuse `body`, from Alertmanager's rules and opsbus's documented
 * bounds, written apart from the server's code; undefined when nothing here rules it out.
 */
export function silenceBodyFault(body: Uint8Array, maxBytes: number): string | undefined {
  if (body.length > maxBytes) return "over the body limit";
  const text = Buffer.from(body).toString("utf8");
  if (nestsDeeperThan(text)) return "nested too deep";
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return "not JSON";
  }
  if (!isPlain(v)) return "not a JSON object";
  if (!Array.isArray(v.matchers) || v.matchers.length === 0) return "no matchers";
  if (v.matchers.length > 64) return "over 64 matchers";
  for (const m of v.matchers) {
    if (typeof m === "string") continue;
    if (!isPlain(m)) return "a matcher is not an object";
    if (typeof m.name !== "string" || m.name.length === 0 || m.name.length > 128 || unstorable(m.name)) return "bad matcher name";
    if (typeof m.value !== "string" || m.value.length > 1024 || unstorable(m.value)) return "bad matcher value";
    if ((m.isRegex !== undefined && typeof m.isRegex !== "boolean") || (m.isEqual !== undefined && typeof m.isEqual !== "boolean")) return "isRegex/isEqual not booleans";
  }
  const time = (t: unknown) => typeof t === "string" && !Number.isNaN(Date.parse(t));
  if (!time(v.endsAt)) return "no valid endsAt";
  if (v.startsAt !== undefined && !time(v.startsAt)) return "invalid startsAt";
  if (Date.parse(v.endsAt as string) < Date.now()) return "endsAt in the past";
  if (v.comment !== undefined && (typeof v.comment !== "string" || Buffer.byteLength(v.comment) > 4096 || unstorable(v.comment))) return "bad comment";
  if (v.id !== undefined && v.id !== "" && (typeof v.id !== "string" || !UUID.test(v.id))) return "id not a UUID";
  return undefined;
}

type Body = Record<string, unknown>;
const CATASTROPHIC = ["(a+)+$", "(a|aa)+$", "(x+x+)+y", "(.*a){20}", "^(([a-z])+.)+[A-Z]([a-z])+$"];
const INVALID_REGEX = ["(", "[z-a]", "a{2,1}", "(?=x)", "\\1", "x{1001}", "a**", "\\p{Foo}"];

/** Hostile bodies built on purpose, each with what it must get. */
const HOSTILE: Record<string, (r: Rng, t: Body) => { body: Body | string; expect: SilenceRequest["expect"] }> = {
  catastrophic_regex: (r, t) => ({ body: { ...t, matchers: [...(t.matchers as Body[]), { name: "label", value: r.pick(CATASTROPHIC), isRegex: true }] }, expect: "accept" }),
  invalid_regex: (r, t) => ({ body: { ...t, matchers: [...(t.matchers as Body[]), { name: "label", value: r.pick(INVALID_REGEX), isRegex: true }] }, expect: "refuse" }),
  huge_regex: (r, t) => ({ body: { ...t, matchers: [{ name: "alertname", value: "(a|b)".repeat(r.pick([206, 820, 20_000, 50_000])), isRegex: true }] }, expect: "refuse" }),
  bad_matcher: (r, t) => ({
    body: { ...t, matchers: [r.pick<unknown>([{ name: "", value: "x" }, { name: "n".repeat(129), value: "x" }, { name: "a\u0000b", value: "x" }, { name: 7, value: "x" }, { name: "a", value: null }, { name: "a", value: "\ud800" }, { name: "a", value: "x", isRegex: "true" }, { name: "a", value: "x", isEqual: 0 }, null, 42, [], { value: "x" }])] },
    expect: "refuse",
  }),
  matchers_shape: (r, t) => ({ body: { ...t, matchers: r.pick<unknown>([[], {}, "alertname=X", null, Array.from({ length: 65 }, (_, i) => ({ name: `l${i}`, value: "v" }))]) }, expect: "refuse" }),
  matches_everything: (r, t) => ({ body: { ...t, matchers: [r.pick([{ name: "alertname", value: "", isRegex: false }, { name: "alertname", value: ".*", isRegex: true }, { name: "x", value: "a|", isRegex: true }])] }, expect: "refuse" }),
  bad_times: (r, t) => {
    const now = Date.now();
    const iso = (ms: number) => new Date(ms).toISOString();
    const times = r.pick<Body>([{ startsAt: iso(now + 7_200_000), endsAt: iso(now + 3_600_000) }, { endsAt: iso(now - 60_000) }, { endsAt: "tomorrow" }, { endsAt: 123 }, { startsAt: "2026-13-45T00:00:00Z" }, { endsAt: undefined }]);
    return { body: { ...t, ...times }, expect: "refuse" };
  },
  bad_comment: (r, t) => ({ body: { ...t, comment: r.pick<unknown>(["c".repeat(5000), 42, ["x"], "nul\u0000here", "lone \udc00"]) }, expect: "refuse" }),
  bad_id: (r, t) => ({ body: { ...t, id: r.pick<unknown>(["not-a-uuid", "../../x", "i".repeat(5000), 17, "00000000-0000-4000-8000-00000000000g"]) }, expect: "refuse" }),
  unknown_id: (r, t) => ({ body: { ...t, id: "00000000-0000-4000-8000-" + String(r.int(1e12)).padStart(12, "0") }, expect: "refuse" }),
  deep: (r, t) => {
    const depth = r.pick([64, 5000, 50_000]);
    return { body: JSON.stringify(t).replace('"FuzzSilence"', "[".repeat(depth) + "]".repeat(depth)), expect: "refuse" };
  },
  ten_megabytes: (_r, t) => ({ body: JSON.stringify({ ...t, pad: "p".repeat(10 * 1024 * 1024) }), expect: "refuse" }),
  spoofed_author: (_r, t) => ({ body: { ...t, createdBy: "root" }, expect: "accept" }),
};

/** Silence ids a GET or DELETE gets: malformed, hostile or unknown (raw path text, as sent). */
const BAD_IDS = ["not-a-uuid", "%ZZ", "%C3%28", "%00", "..%2F..%2Fmetrics", "a".repeat(101), "a".repeat(5000), "%F0%9F%98%80", "__proto__", "constructor", "", "%20", "'%20OR%201=1%20--", "00000000-0000-4000-8000-000000000000", "00000000-0000-4000-8000-00000000000A", "00000000-0000-4000-8000-000000000000%00"];
const FILTERS = ["alertname=FuzzSilence", 'alertname=~"Fuzz.*"', "0x=1", 'a=~"("', `a=~"${"(a|b)".repeat(300)}"`, "a=%00", "%ZZ", "=", "a", "fuzz_id!=1", "%F0%9F%98%80=1"];

/** The key as Bearer, or as Basic under its agent's name (the same caller), or under another name (refused). */
function authHeaders(r: Rng, key: { agent: string; key: string }): { headers: MutantHeaders; kind: string } {
  const auth = `Bearer ${key.key}`;
  const basic = (user: string) => `Basic ${Buffer.from(`${user}:${key.key}`).toString("base64")}`;
  const roll = r.next();
  if (roll < 0.05) return { headers: {}, kind: "+no-auth" };
  if (roll < 0.1) return { headers: { Authorization: [auth, "Bearer k-other"] }, kind: "+two-auth" };
  if (roll < 0.15) return { headers: { Authorization: basic(`not-${key.agent}`) }, kind: "+basic-other-agent" };
  return { headers: { Authorization: roll < 0.3 ? basic(key.agent) : auth }, kind: "" };
}

/** Request `i` to one of the silence routes: random mutants and hostile cases, with what each must get. */
export function silenceRequest(r: Rng, i: number, now: Date, key: { agent: string; key: string }, maxBytes: number): SilenceRequest {
  const roll = r.next();
  if (roll < 0.6) {
    const template = silenceBody(`s${i}`, now);
    let body: Uint8Array;
    let kind: string;
    let headers: MutantHeaders;
    let expect: SilenceRequest["expect"];
    if (r.chance(0.45)) {
      const m = mutate(r, template, { maxBytes, hardMaxBytes: maxBytes + 128 * 1024, headers: { Authorization: `Bearer ${key.key}` } });
      ({ body, kind, headers } = m);
      expect = kind === "valid" ? "accept" : "either";
    } else {
      const name = r.pick(Object.keys(HOSTILE));
      const h = HOSTILE[name]!(r, template);
      const a = authHeaders(r, key);
      body = new TextEncoder().encode(typeof h.body === "string" ? h.body : JSON.stringify(h.body));
      kind = name + a.kind;
      headers = a.headers;
      expect = a.kind ? (h.expect === "accept" ? "either" : h.expect) : h.expect;
    }
    const fault = silenceBodyFault(body, maxBytes);
    if (fault) expect = "refuse";
    return { target: "post", method: "POST", path: "/api/v2/silences", m: { kind, body, headers }, expect, why: fault ?? kind };
  }
  const a = authHeaders(r, key);
  if (roll < 0.9) {
    const del = roll >= 0.75;
    const id = r.pick(BAD_IDS);
    const m = { kind: `bad_id${a.kind}`, body: new Uint8Array(0), headers: a.headers };
    return { target: del ? "delete" : "get", method: del ? "DELETE" : "GET", path: `/api/v2/silence/${id}`, m, expect: "refuse", why: `id ${id.slice(0, 40)}` };
  }
  const query = [...Array.from({ length: r.int(3) }, () => `filter=${r.chance(0.5) ? encodeURIComponent(r.pick(FILTERS)) : r.pick(FILTERS)}`), ...(r.chance(0.3) ? [`${r.pick(["active", "pending", "expired", "silenced"])}=${r.pick(["true", "false", "maybe", "", "1"])}`] : [])];
  const m = { kind: `list${a.kind}`, body: new Uint8Array(0), headers: a.headers };
  return { target: "list", method: "GET", path: `/api/v2/silences${query.length ? `?${query.join("&")}` : ""}`, m, expect: "either", why: query.join("&") };
}

/**
 * What is wrong with the answer to `q` (empty when nothing): a status the route may give, the body
 * Alertmanager gives with it (a JSON string for every refusal, none for a 404 by id or a DELETE),
 * and 200 exactly when it had to be accepted.
 */
export function silenceReplyFaults(q: SilenceRequest, status: number, text: string): string[] {
  const out: string[] = [];
  const allowed = { post: [200, 400, 401, 403, 404, 413, 415, 429, 503], get: [200, 400, 401, 403, 404, 429, 503], delete: [200, 400, 401, 403, 404, 429, 503], list: [200, 400, 401, 403, 429, 503] }[q.target];
  if (!allowed.includes(status)) out.push(`status ${status} is not one of ${allowed.join(", ")}`);
  if (q.expect === "accept" && status !== 200) out.push(`must be accepted, got ${status}`);
  if (q.expect === "refuse" && status === 200) out.push(`must be refused (${q.why}), got 200`);
  let body: unknown;
  try {
    body = text === "" ? undefined : JSON.parse(text);
  } catch {
    out.push("the body is not JSON");
    return out;
  }
  if (status === 200) {
    const ok = { post: isPlain(body) && typeof body.silenceID === "string" && UUID.test(body.silenceID), get: isPlain(body) && typeof body.id === "string" && isPlain(body.status), delete: text === "", list: Array.isArray(body) }[q.target];
    if (!ok) out.push(`a 200 ${q.target} answered ${text.slice(0, 120)}`);
  } else if (status === 404 && q.target !== "post") {
    if (text !== "") out.push("a 404 for a silence id has no body in Alertmanager");
  } else if (typeof body !== "string") out.push(`a ${status} must be a JSON string, got ${text.slice(0, 120)}`);
  return out;
}
