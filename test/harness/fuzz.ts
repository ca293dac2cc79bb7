/**
 * A seeded mutator for malformed-input tests: from a valid template it makes random bytes,
 * truncated JSON, wrong types, huge strings, deep nesting, unicode edge cases, NUL characters,
 * lone surrogates (a string cut inside an emoji), prototype keys and agents (`__proto__`,
 * `constructor`), missing or odd fields, oversize bodies and bad headers (two Authorization
 * headers, odd Authorization values, names differing in case). The same seed gives the same messages, so a failure
 * found once can be replayed (FUZZ_SEED). Plus a prober that samples a server's latency meanwhile.
 */
import { Worker } from "node:worker_threads";

export interface Rng {
  next(): number;
  /** An integer in [0, n). */
  int(n: number): number;
  pick<T>(xs: readonly T[]): T;
  chance(p: number): boolean;
  bytes(n: number): Uint8Array;
}

/** mulberry32: tiny, fast, good enough to spread mutations; not for anything secret. */
export function seededRng(seed: number): Rng {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return {
    next,
    int,
    pick: (xs) => xs[int(xs.length)]!,
    chance: (p) => next() < p,
    bytes: (n) => Uint8Array.from({ length: n }, () => int(256)),
  };
}

/** Strings that break naive text handling: lone surrogates, NUL, bidi overrides, emoji, BOM, combining marks. */
export const UNICODE_EDGES = ["\ud800", "\udfff", "a\udc00b", "\u0000", "nul\u0000mid", "\u202eevil\u202c", "\u200f\u200e", "😀", "👩‍👩‍👧‍👦", "\ufeff", "e\u0301\u0301\u0301", "\uffff\ufffe", "𝕏𝕐", "\u2028\u2029", "\\", '"', "</script>", "${x}", "%s%n"];
/** Byte sequences that are not UTF-8: a CESU surrogate, overlong forms, a cut multi-byte char. */
const BAD_UTF8 = [[0xed, 0xa0, 0x80], [0xc0, 0xaf], [0xe2, 0x82], [0xff, 0xfe], [0xf8, 0x88, 0x80, 0x80, 0x80]];
const ODD_KEYS = ["__proto__", "constructor", "prototype", "toString", "", " ", "a.b", "$where", "😀"];
/** Names that are properties of every object: a lookup that is not by own property finds them. */
const PROTO_NAMES = ["__proto__", "constructor", "prototype", "toString", "hasOwnProperty", "valueOf", "__defineGetter__"];
/** Lone surrogates, and text ending in an emoji exactly where a 512-unit cut splits it. */
const LONE_SURROGATES = ["\ud800", "\udbff", "\udc00", "\udfff", "a\ud83d", "\ude00b", `${"n".repeat(511)}😀`];
const NUMBERS = ["1e309", "-1e309", "-0", "9007199254740993", "1e-400", "0.1e1", "-1", "2147483648"];

/** Header values; an array is one header line per value (a repeated header). */
export type MutantHeaders = Record<string, string | string[]>;

export interface Mutant {
  /** Which mutation made it, for the failure report. */
  kind: string;
  body: Uint8Array;
  headers: MutantHeaders;
}

export interface MutateOptions {
  /** The receiver's payload limit: `oversize` goes over it, `huge_string` around it. */
  maxBytes: number;
  /** Never over this (the transport's own limit, e.g. NATS max_payload less headers). */
  hardMaxBytes: number;
  /** Headers a valid message carries (e.g. Authorization); header mutations start from these. */
  headers?: Record<string, string>;
}

const enc = new TextEncoder();
type Json = Record<string, unknown>;

/** Every path to a value inside plain objects (arrays are leaves), at most `maxDepth` deep. */
function paths(v: unknown, maxDepth = 3, prefix: string[] = []): string[][] {
  if (!v || typeof v !== "object" || Array.isArray(v) || prefix.length >= maxDepth) return [];
  return Object.keys(v).flatMap((k) => [[...prefix, k], ...paths((v as Json)[k], maxDepth, [...prefix, k])]);
}

function setPath(root: Json, path: string[], value: unknown, remove = false): void {
  let cur: Json = root;
  for (const k of path.slice(0, -1)) cur = cur[k] as Json;
  const last = path.at(-1)!;
  if (remove) delete cur[last];
  else Object.defineProperty(cur, last, { value, enumerable: true, writable: true, configurable: true });
}

const clone = (t: Json): Json => JSON.parse(JSON.stringify(t)) as Json;

function randomText(r: Rng, n: number): string {
  let s = "";
  while (s.length < n) s += r.chance(0.2) ? r.pick(UNICODE_EDGES) : String.fromCharCode(32 + r.int(95));
  return s;
}

function wrongTyped(r: Rng): unknown {
  return r.pick<() => unknown>([
    () => null,
    () => r.int(1e6) - 5e5,
    () => r.chance(0.5),
    () => [],
    () => [1, "two", null],
    () => ({}),
    () => ({ nested: { x: 1 } }),
    () => randomText(r, r.int(40)),
    () => "",
  ])();
}

/** A JSON text of `depth` nested arrays or objects (built as text: JSON.stringify would overflow). */
function deepText(r: Rng, depth: number): string {
  return r.chance(0.5) ? "[".repeat(depth) + "]".repeat(depth) : '{"a":'.repeat(depth) + "1" + "}".repeat(depth);
}

/** `template` with the value at `path` replaced by raw JSON text. */
function withRaw(template: Json, path: string[], raw: string): string {
  const marker = "__FUZZ_RAW_VALUE__";
  const t = clone(template);
  setPath(t, path, marker);
  return JSON.stringify(t).replace(`"${marker}"`, raw);
}

/** Body mutations: each takes the template and returns a JSON text or raw bytes. */
const BODY: Record<string, (r: Rng, t: Json, o: MutateOptions) => string | Uint8Array> = {
  valid: (_r, t) => JSON.stringify(t),
  random_bytes: (r) => r.bytes(r.int(600)),
  empty: (r) => r.pick(["", " ", "\n", "null", "{}", "[]", '""']),
  truncated: (r, t) => {
    const s = JSON.stringify(t);
    return s.slice(0, r.int(s.length));
  },
  not_an_object: (r) => r.pick(["42", '"text"', "true", "[1,2]", "null", '[{"action":"list"}]']),
  wrong_type: (r, t) => {
    const c = clone(t);
    const ps = paths(c);
    if (ps.length) setPath(c, r.pick(ps), wrongTyped(r));
    return JSON.stringify(c);
  },
  missing_field: (r, t) => {
    const c = clone(t);
    for (let i = 1 + r.int(3); i > 0; i--) {
      const ps = paths(c);
      if (ps.length) setPath(c, r.pick(ps), undefined, true);
    }
    return JSON.stringify(c);
  },
  extra_fields: (r, t) => {
    const c = clone(t);
    const ps = [[], ...paths(c)].filter((p) => p.length === 0 || typeof pathValue(c, p) === "object");
    const at = r.pick(ps);
    const target = at.length ? (pathValue(c, at) as Json) : c;
    if (target && typeof target === "object" && !Array.isArray(target)) setPath(target, [r.pick(ODD_KEYS)], wrongTyped(r));
    return JSON.stringify(c);
  },
  huge_string: (r, t, o) => {
    const ps = paths(t);
    const c = clone(t);
    // Around the limit: some fit, some are refused as too large.
    if (ps.length) setPath(c, r.pick(ps), "x".repeat(Math.min(o.hardMaxBytes - 4096, Math.floor(o.maxBytes * (0.05 + r.next() * 1.2)))));
    return JSON.stringify(c);
  },
  deep_nesting: (r, t, o) => {
    const ps = paths(t);
    const depth = r.pick([64, 1000, 5000, 20_000, Math.floor(o.maxBytes / 3)]);
    // Half in a field of its own: receivers that keep unknown fields must cope with it too.
    const at = r.chance(0.5) ? [...r.pick(ps).slice(0, -1), "details"] : r.pick(ps);
    return ps.length ? withRaw(t, at, deepText(r, depth)) : deepText(r, depth);
  },
  nul: (r, t) => {
    const c = clone(t);
    const strings = paths(c).filter((p) => typeof pathValue(c, p) === "string");
    if (strings.length && r.chance(0.7)) {
      const at = r.pick(strings);
      const v = String(pathValue(c, at));
      const k = r.int(v.length + 1);
      setPath(c, at, `${v.slice(0, k)}\u0000${v.slice(k)}`);
    } else {
      // In a key: of the root or of any object inside (params, labels).
      const objects = [[], ...paths(c)].filter((p) => p.length === 0 || isObject(pathValue(c, p)));
      const at = r.pick(objects);
      setPath(c, [...at, r.pick(["\u0000", "k\u0000", "\u0000\u0000"])], r.pick(["v", "\u0000", 1]));
    }
    return JSON.stringify(c);
  },
  lone_surrogate: (r, t) => {
    const c = clone(t);
    const strings = paths(c).filter((p) => typeof pathValue(c, p) === "string");
    const at = strings.length ? r.pick(strings) : ["title"];
    setPath(c, at, r.chance(0.5) ? r.pick(LONE_SURROGATES) : `${String(pathValue(c, at) ?? "")}${r.pick(LONE_SURROGATES)}`);
    return JSON.stringify(c);
  },
  proto_keys: (r, t) => {
    const c = clone(t);
    // An agent named after an Object.prototype property, where the template names one.
    if ("agent_id" in c && r.chance(0.5)) setPath(c, ["agent_id"], r.pick(PROTO_NAMES));
    const objects = [[], ...paths(c)].filter((p) => p.length === 0 || isObject(pathValue(c, p)));
    for (let i = 1 + r.int(2); i > 0; i--) {
      const value = r.pick<unknown>([{ polluted: true }, { prototype: { polluted: true } }, "x", 1, null, []]);
      setPath(c, [...r.pick(objects), r.pick(PROTO_NAMES)], value);
    }
    return JSON.stringify(c);
  },
  unicode: (r, t) => {
    const c = clone(t);
    const strings = paths(c).filter((p) => typeof pathValue(c, p) === "string");
    const at = strings.length ? r.pick(strings) : r.pick(paths(c).concat([["title"]]));
    setPath(c, at, `${String(pathValue(c, at) ?? "")}${r.pick(UNICODE_EDGES)}${randomText(r, r.int(20))}`);
    return JSON.stringify(c);
  },
  bad_utf8: (r, t) => {
    const s = enc.encode(JSON.stringify(t));
    const at = 1 + r.int(Math.max(1, s.length - 2));
    return Uint8Array.from([...s.subarray(0, at), ...r.pick(BAD_UTF8), ...s.subarray(at)]);
  },
  odd_numbers: (r, t) => {
    const ps = paths(t);
    return ps.length ? withRaw(t, r.pick(ps), r.pick(NUMBERS)) : r.pick(NUMBERS);
  },
  duplicate_keys: (r, t) => {
    const s = JSON.stringify(t);
    const ps = paths(t, 1);
    return ps.length ? s.replace(/^\{/, `{${JSON.stringify(r.pick(ps)[0])}:${JSON.stringify(wrongTyped(r)) ?? "null"},`) : s;
  },
  oversize: (r, t, o) => {
    const pad = Math.min(o.hardMaxBytes - 1024, o.maxBytes + 1 + r.int(64 * 1024));
    return JSON.stringify({ ...t, pad: "p".repeat(pad) });
  },
};

const isObject = (v: unknown): boolean => v !== null && typeof v === "object" && !Array.isArray(v);

function pathValue(root: unknown, path: string[]): unknown {
  return path.reduce<unknown>((v, k) => (v && typeof v === "object" ? (v as Json)[k] : undefined), root);
}

const b64 = (bytes: string | Uint8Array) => Buffer.from(bytes).toString("base64");

/**
 * Basic credentials a decoder must survive: the valid key under another agent's name, no colon,
 * invalid UTF-8, a NUL and a lone surrogate, padding only, not base64 at all, and one too long.
 */
function oddBasic(auth: string): string[] {
  const key = auth.replace(/^\s*bearer\s+/i, "");
  return [
    `Basic ${b64(`mallory:${key}`)}`,
    `Basic ${b64("no-colon")}`,
    `Basic ${b64(Uint8Array.of(0xff, 0xfe, 0x3a, 0xc3, 0x28))}`,
    `Basic ${b64("\u0000:\ud800")}`,
    "Basic ===",
    "Basic a:b",
    `Basic ${"QUFB".repeat(1100)}`,
  ];
}

/**
 * Header mutations: drop, garble, repeat, or add odd ones; keys stay legal header tokens and
 * values printable (a transport refuses control characters before the receiver sees them).
 */
function mutateHeaders(r: Rng, base: Record<string, string>): MutantHeaders {
  const h: MutantHeaders = { ...base };
  const auth = base.Authorization ?? "Bearer k-fuzz";
  switch (r.int(9)) {
    case 0:
      return {};
    case 1:
      h.Authorization = r.pick(["", "Bearer", "Bearer ", "Basic dXNlcjpwdw==", `Bearer ${"k".repeat(4000)}`, `Bearer ${randomText(r, 12).replace(/[\r\n]/g, "")}`, "bearer  a b c", ...oddBasic(auth)]);
      return h;
    case 2:
      h[`X-Fuzz-${r.int(1000)}`] = randomText(r, r.int(200)).replace(/[\r\n]/g, " ");
      return h;
    case 3:
      h["Content-Type"] = r.pick(["text/plain", "application/xml", "", "application/json; charset=latin1"]);
      return h;
    case 4:
      h["X-Request-Id"] = r.pick(["", "x".repeat(2000), "id with spaces", "\u202erid"]);
      return h;
    case 5:
      // Two Authorization headers: the same key twice, or two different ones.
      h.Authorization = r.pick([[auth, auth], [auth, "Bearer k-other"], ["Bearer k-other", auth], ["", auth]]);
      return h;
    case 6:
      // One name in two spellings: receivers that treat names case-insensitively see two values.
      h.authorization = r.pick([auth, "Bearer k-other", ""]);
      h.Authorization = auth;
      return h;
    case 7:
      h.Authorization = r.pick([`${auth}, Bearer k-other`, `${auth},${auth}`, auth.replace(" ", "\t"), ` ${auth} `, auth.toUpperCase(), `Bearer ${"constructor"}`, "Bearer __proto__"]);
      return h;
    default:
      return h;
  }
}

/** One mutated message from `template`; about one in eight also has mutated headers. */
export function mutate(r: Rng, template: Json, o: MutateOptions): Mutant {
  const kind = r.pick(Object.keys(BODY));
  const out = BODY[kind]!(r, template, o);
  let body = typeof out === "string" ? enc.encode(out) : out;
  if (body.length > o.hardMaxBytes) body = body.subarray(0, o.hardMaxBytes);
  const mutateH = r.chance(0.125);
  return { kind: mutateH ? `${kind}+headers` : kind, body, headers: mutateH ? mutateHeaders(r, o.headers ?? {}) : { ...o.headers } };
}

/** A plausible value for a JSON Schema (as `$SRV.INFO` describes each action's params). */
export function sampleOf(schema: unknown, depth = 0): unknown {
  const s = (schema ?? {}) as Json;
  if (Array.isArray(s.enum) && s.enum.length) return s.enum[0];
  if (s.const !== undefined) return s.const;
  if (s.default !== undefined) return s.default;
  const alt = (s.anyOf ?? s.oneOf) as unknown[] | undefined;
  if (alt?.length) return sampleOf(alt[0], depth);
  const type = Array.isArray(s.type) ? s.type[0] : s.type;
  switch (type) {
    case "object": {
      const out: Json = {};
      if (depth > 3) return out;
      for (const [k, v] of Object.entries((s.properties ?? {}) as Json)) out[k] = sampleOf(v, depth + 1);
      return out;
    }
    case "array":
      return depth > 3 ? [] : [sampleOf(s.items, depth + 1)];
    case "integer":
    case "number":
      return typeof s.minimum === "number" ? s.minimum : 1;
    case "boolean":
      return true;
    case "string":
      return s.format === "date-time" ? new Date().toISOString() : "fuzz";
    default:
      return "fuzz";
  }
}

export interface Prober {
  /** `n` requests, or (without `n`) requests until stop(); resolves with their latencies in ms. */
  run(cmd: { n?: number }): Promise<{ ms: number[]; bad: number }>;
  stop(): void;
  close(): Promise<number>;
}

/**
 * Sequential valid requests (`{ok:true}` expected) from a worker thread with its own connection,
 * so the fuzzer's own work cannot delay them; `gapMs` between requests keeps them a sample, not a load.
 */
export function startProber(opts: { url: string; subject: string; body: string; gapMs: number }): Prober {
  const w = new Worker(
    `const { parentPort, workerData: d } = require("node:worker_threads");
     import("@nats-io/transport-node").then(async ({ connect }) => {
       const nc = await connect({ servers: d.url });
       let stopping = false;
       parentPort.on("message", async (cmd) => {
         if (cmd.stop) return void (stopping = true);
         stopping = false;
         const ms = []; let bad = 0;
         for (let i = 0; cmd.n ? i < cmd.n : !stopping && i < 1e6; i++) {
           const t = performance.now();
           const r = await nc.request(d.subject, d.body, { timeout: 10000 }).then((m) => m.json(), () => ({ ok: false }));
           ms.push(performance.now() - t);
           if (!r.ok) bad++;
           await new Promise((resolve) => setTimeout(resolve, d.gapMs));
         }
         parentPort.postMessage({ ms, bad });
       });
       parentPort.postMessage({ ready: true });
     });`,
    { eval: true, workerData: opts },
  );
  const ready = new Promise((resolve) => w.once("message", resolve));
  return {
    async run(cmd) {
      await ready;
      const done = new Promise<{ ms: number[]; bad: number }>((resolve) => w.once("message", resolve));
      w.postMessage(cmd);
      return done;
    },
    stop: () => w.postMessage({ stop: true }),
    close: () => w.terminate(),
  };
}
