/**
 * The ingest bench with active silences: the same workload through the same worker, with a
 * thousand silences in the KV bucket every opsbus process watches, written before the worker
 * starts (its silence store loads the bucket at open, so they are live from the first alert).
 * The phase runs between two of the same backend without silences and is read against their
 * mean (as the publish baseline is measured before and after), so slow drift between them cancels.
 *
 * The silences look like a busy on-call's: most name alerts, services or instances this workload
 * never sends (equality matchers, instance regexes, negative matchers next to an equality one),
 * and a handful silence a sliver of it (under 1 %), so the suppressed path runs too. What they
 * should suppress is worked out here with a plain reference matcher, and the phase checks the
 * store holds exactly those alerts as suppressed, counted like the rest.
 */
import { randomUUID } from "node:crypto";
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import { mkdtempSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import pg from "pg";
import { createLogger } from "../../src/log.js";
import { validateSilence } from "../../src/silences/silence-rules.js";
import type { Silence, SilenceMatcher } from "../../src/silences/silence.js";
import { openKvSilenceStore, silenceBucketName } from "../../src/stores/silences/kv.js";
import { createAlertStore } from "../../src/stores/factory.js";
import { naming, subjects } from "../../src/subjects/index.js";
import type { Workload } from "./alerts.js";
import { runIngestE2E, type E2EContext, type E2EResult, type IngestBackend } from "./e2e.js";
import { say } from "./progress.js";

const S = subjects(naming());
const BUCKET = silenceBucketName(S.naming.streamPrefix);
/** createTestDatabase's server and its name prefix for this process (test/harness/postgres.ts). */
const PG_BASE_URL = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const PHASE_DB_PREFIX = `opsbus_test_${process.pid}_`;

type Labels = Record<string, string>;
export interface SilencePlan {
  silences: Silence[];
  mix: { equality: number; regex: number; negative: number; matching: number };
  /** Fingerprints the silences hold back, by the reference matcher. */
  expected: ReadonlySet<string>;
  matchingIds: ReadonlySet<string>;
}

/** A matcher written as amtool takes it: `m("instance", "=~", "pod-.*")`. */
const m = (name: string, op: "=" | "!=" | "=~" | "!~", value: string): SilenceMatcher => ({ name, value, is_regex: op.endsWith("~"), is_equal: !op.startsWith("!") });

/**
 * Silences on this workload's own services, instances and sources (bench/lib/alerts.ts): each holds
 * one service × instance × source, about 1 in 660 fingerprints (the regex-only one two services).
 */
const MATCHING: SilenceMatcher[][] = [
  [m("service", "=", "checkout-api"), m("instance", "=", "pod-3"), m("source", "=", "prometheus@node1")],
  [m("service", "=", "payments"), m("instance", "=~", "pod-[4]"), m("source", "=~", "prometheus@node2")],
  [m("service", "=", "auth"), m("instance", "=", "pod-7"), m("source", "!~", "prometheus@node(1|2)")],
  [m("service", "=~", "search|catalog"), m("instance", "=~", "pod-1"), m("source", "=~", ".*@node3")],
  [m("service", "=", "orders"), m("instance", "=", "pod-9"), m("source", "=", "prometheus@node2"), m("env", "=", "prod")],
];

/** Services the workload sends that decoy silences also name (with an instance it never sends). */
const SHARED_SERVICES = ["checkout-api", "payments", "auth", "search", "catalog"] as const;

/** The `n`th silence of each kind that matches nothing this workload sends. */
function decoyEquality(n: number): SilenceMatcher[] {
  if (n % 3 === 0) return [m("alertname", "=", `HighLatency-${n}`), m("service", "=", `svc-${n}`)];
  if (n % 3 === 1) return [m("alertname", "=", `DiskFull-${n}`), m("instance", "=", `10.8.${n % 250}.${n % 7}:9100`), m("env", "=", "prod")];
  // A real service, another instance: alerts of that service reach these silences and are compared.
  return [m("service", "=", SHARED_SERVICES[n % SHARED_SERVICES.length]!), m("instance", "=", `10.7.${n % 250}.${n % 9}:9100`)];
}
const decoyRegex = (n: number): SilenceMatcher[] =>
  n % 2 === 0 ? [m("instance", "=~", `10\\.9\\.${n}\\..*`)] : [m("alertname", "=", `NodeDown-${n}`), m("instance", "=~", `10\\.9\\.${n}\\..*`)];
const decoyNegative = (n: number): SilenceMatcher[] => [m("alertname", "=", `Deploy-${n}`), m("env", "!=", "staging"), m("cluster", "!~", "k8s-dev-.*")];

/** An alert's label set as silences see it: its labels, then the mapped fields over them. */
function labelsOf(alert: Record<string, unknown>): Labels {
  const out: Labels = {};
  for (const [k, v] of Object.entries((alert.labels ?? {}) as Record<string, unknown>)) out[k] = String(v);
  for (const f of ["service", "env", "kind", "severity", "source"]) out[f] = String(alert[f]);
  return out;
}

/** A second, deliberately plain matcher (JS RegExp, fully anchored; a missing label is ""), to check opsbus's against. */
function referenceMatches(matchers: readonly SilenceMatcher[], labels: Labels, regexes: Map<string, RegExp>): boolean {
  return matchers.every((m) => {
    const v = labels[m.name] ?? "";
    let hit = v === m.value;
    if (m.is_regex) {
      let r = regexes.get(m.value);
      if (!r) regexes.set(m.value, (r = new RegExp(`^(?:${m.value})$`)));
      hit = r.test(v);
    }
    return hit === m.is_equal;
  });
}

/** `count` active silences (5 matching, the rest about 70 % equality, 25 % regex, 5 % negative) and what they hold back in `w`. */
export function buildSilencePlan(w: Workload, count: number, now = new Date()): SilencePlan {
  const decoys = count - MATCHING.length;
  const regex = Math.round(decoys * 0.25);
  const negative = Math.round(decoys * 0.05);
  const equality = decoys - regex - negative;
  const matcherSets = [
    ...MATCHING,
    ...Array.from({ length: equality }, (_, n) => decoyEquality(n)),
    ...Array.from({ length: regex }, (_, n) => decoyRegex(n)),
    ...Array.from({ length: negative }, (_, n) => decoyNegative(n)),
  ];
  const silences = matcherSets.map((matchers, i): Silence => ({
    id: randomUUID(), matchers, created_by: "bench", updated_at: now.toISOString(),
    // Active for the whole bench: started a minute ago, ending in two hours.
    starts_at: new Date(now.getTime() - 60_000).toISOString(), ends_at: new Date(now.getTime() + 2 * 3600_000).toISOString(),
    comment: i < MATCHING.length ? "bench: silences a sliver of the workload" : "bench: matches nothing the workload sends",
  }));
  for (const s of silences) {
    const reasons = validateSilence(s, now);
    if (reasons.length) throw new Error(`bench silence ${JSON.stringify(s.matchers)} is invalid: ${reasons.join("; ")}`);
  }
  // One label set per fingerprint (its repeats differ only in message and start).
  const dec = new TextDecoder();
  const byFingerprint = new Map<string, Labels>();
  for (const p of w.payloads) {
    const alert = JSON.parse(dec.decode(p)) as Record<string, unknown>;
    if (!byFingerprint.has(String(alert.fingerprint))) byFingerprint.set(String(alert.fingerprint), labelsOf(alert));
  }
  const matchingIds = new Set(silences.slice(0, MATCHING.length).map((s) => s.id));
  const regexes = new Map<string, RegExp>();
  const heldBySet = new Map<string, boolean>();
  const expected = new Set<string>();
  for (const [fp, labels] of byFingerprint) {
    // Fingerprints share a few hundred label sets: each set is matched once.
    const key = JSON.stringify(labels);
    let held = heldBySet.get(key);
    if (held === undefined) {
      const hits = silences.filter((s) => referenceMatches(s.matchers, labels, regexes));
      const decoy = hits.find((s) => !matchingIds.has(s.id));
      if (decoy) throw new Error(`bench silence ${JSON.stringify(decoy.matchers)} was meant to match nothing but matches ${fp}`);
      heldBySet.set(key, (held = hits.length > 0));
    }
    if (held) expected.add(fp);
  }
  return { silences, mix: { equality, regex, negative, matching: MATCHING.length }, expected, matchingIds };
}

/** Writes the plan's silences into the bucket the workers watch (creating it); returns how long it took. */
async function writeSilences(js: JetStreamClient, jsm: JetStreamManager, silences: readonly Silence[]): Promise<number> {
  const t0 = performance.now();
  const store = await openKvSilenceStore({ js, jsm, bucket: BUCKET, replicas: 1, logger: createLogger({ level: "warn" }) });
  try {
    for (const s of silences) await store.put(s, 0);
  } finally {
    await store.close();
  }
  return performance.now() - t0;
}

/** Deletes the bucket, so the phases after this one run with no silences (a worker creates it again, empty). */
const dropSilences = (jsm: JetStreamManager): Promise<unknown> => jsm.streams.delete(`KV_${BUCKET}`).catch(() => false);

/** This process's test databases: the phase's is the one that was not there before it. */
async function phaseDatabases(): Promise<Set<string>> {
  const client = new pg.Client({ connectionString: PG_BASE_URL });
  client.on("error", () => {});
  await client.connect();
  try {
    const r = await client.query<{ datname: string }>("SELECT datname FROM pg_database WHERE starts_with(datname, $1)", [PHASE_DB_PREFIX]);
    return new Set(r.rows.map((x) => x.datname));
  } finally {
    await client.end();
  }
}

/** Stored alerts with status `suppressed`: their fingerprints, occurrences and every silence id their `silenced_by` names. */
interface StoredSuppressed {
  fingerprints: string[];
  occurrences: number;
  silencedBy: string[];
}

type SuppressedRow = { fingerprint: string; occurrences: number; silenced_by?: string[] | null };

function tally(rows: SuppressedRow[]): StoredSuppressed {
  return {
    fingerprints: rows.map((r) => r.fingerprint),
    occurrences: rows.reduce((n, r) => n + r.occurrences, 0),
    silencedBy: [...new Set(rows.flatMap((r) => r.silenced_by ?? []))],
  };
}

/** The phase's Postgres database (the one it created), or its JSONL data dir (the one in its temp root; the worker has exited). */
async function storedSuppressed(where: { db: string } | { dataDir: string }): Promise<StoredSuppressed> {
  if ("dataDir" in where) {
    const store = await createAlertStore({
      env: { backend: "jsonl", databaseUrl: undefined }, opsEnv: "dev", dataDir: where.dataDir, logger: createLogger({ level: "warn" }), retryIntervalMs: 60_000,
    });
    try {
      const rows = (await store.exportRows()).flatMap((r) => (r.kind === "alert" && r.data.status === "suppressed" ? [{ ...r.data, silenced_by: r.data.suppression?.silenced_by }] : []));
      return tally(rows);
    } finally {
      await store.close();
    }
  }
  const url = new URL(PG_BASE_URL);
  url.pathname = `/${where.db}`;
  const client = new pg.Client({ connectionString: url.toString() });
  client.on("error", () => {});
  await client.connect();
  try {
    const r = await client.query<SuppressedRow>("SELECT fingerprint, occurrences, suppression->'silenced_by' AS silenced_by FROM alerts WHERE status = 'suppressed'");
    return tally(r.rows);
  } finally {
    await client.end();
  }
}

/** The phase's `alert.suppressed` events, and how many alerts they name. */
async function suppressedEvents(js: JetStreamClient, jsm: JetStreamManager): Promise<{ events: number; alerts: number }> {
  const subject = S.events.of("alert.suppressed");
  const info = await jsm.streams.info(S.events.stream, { subjects_filter: subject });
  const events = info.state.subjects?.[subject] ?? 0;
  const refs = new Set<string>();
  if (events > 0) {
    let read = 0;
    for await (const msg of await (await js.consumers.get(S.events.stream, { filter_subjects: subject })).consume()) {
      refs.add(msg.json<{ data: { alert_ref: string } }>().data.alert_ref);
      if (++read >= events) break;
    }
  }
  return { events, alerts: refs.size };
}

export interface SilencedRun {
  e2e: E2EResult;
  silences: number;
  write_ms: number;
  expected_suppressed: number;
  /** Stored with status `suppressed`. */
  suppressed: { alerts: number; occurrences: number };
  /** alert.suppressed events, and the distinct alerts they name. */
  suppressed_events: { events: number; alerts: number };
}

/** Throws when the store or the streams disagree with what the plan's silences hold back. */
function verify(backend: IngestBackend, plan: SilencePlan, w: Workload, got: StoredSuppressed, events: { alerts: number }, e2e: E2EResult): void {
  const perFingerprint = w.count / w.fingerprints;
  const missing = [...plan.expected].filter((fp) => !got.fingerprints.includes(fp));
  const extra = got.fingerprints.filter((fp) => !plan.expected.has(fp));
  const stray = got.silencedBy.filter((id) => !plan.matchingIds.has(id));
  const problems = [
    ...(missing.length || extra.length ? [`suppressed ${got.fingerprints.length} alerts, expected ${plan.expected.size} (missing ${missing.slice(0, 3).join(", ") || "none"}; extra ${extra.slice(0, 3).join(", ") || "none"})`] : []),
    ...(got.occurrences !== plan.expected.size * perFingerprint ? [`suppressed alerts counted ${got.occurrences} occurrences, expected ${plan.expected.size * perFingerprint}`] : []),
    ...(stray.length ? [`silenced_by names silences meant to match nothing: ${stray.slice(0, 3).join(", ")}`] : []),
    ...(events.alerts !== got.fingerprints.length ? [`alert.suppressed events name ${events.alerts} alerts, ${got.fingerprints.length} stored suppressed`] : []),
    // Each new firing gets a work item or is suppressed, never both, never neither.
    ...(e2e.work_messages + events.alerts !== w.fingerprints ? [`${e2e.work_messages} work items + ${events.alerts} suppressed ≠ ${w.fingerprints} new firings`] : []),
  ];
  if (problems.length) throw new Error(`${backend} with silences: ${problems.join("; ")}`);
}

/**
 * One end-to-end phase with the plan's silences live: written before the worker starts, the
 * suppressed alerts checked against the plan afterwards, the bucket dropped again at the end.
 */
export async function runSilencedE2E(ctx: E2EContext, backend: IngestBackend, w: Workload, plan: SilencePlan): Promise<SilencedRun> {
  // A temp root of its own, so the phase's JSONL data dir is the only one in it.
  const tmpRoot = mkdtempSync(join(ctx.tmpRoot, `silenced-${backend}-`));
  await dropSilences(ctx.jsm);
  say(`${backend} + silences: writing ${plan.silences.length} silences to ${BUCKET}…`);
  const writeMs = await writeSilences(ctx.js, ctx.jsm, plan.silences);
  try {
    const dbsBefore = backend === "postgres" ? await phaseDatabases() : new Set<string>();
    const e2e = await runIngestE2E({ ...ctx, tmpRoot }, backend, w);
    const found = backend === "postgres" ? [...(await phaseDatabases())].filter((d) => !dbsBefore.has(d)) : readdirSync(tmpRoot).filter((d) => d.startsWith("data-"));
    if (found.length !== 1) throw new Error(`${backend} with silences: expected the phase's one ${backend === "postgres" ? "new database" : "data dir"}, found ${found.length}`);
    const got = await storedSuppressed(backend === "postgres" ? { db: found[0]! } : { dataDir: join(tmpRoot, found[0]!) });
    const events = await suppressedEvents(ctx.js, ctx.jsm);
    verify(backend, plan, w, got, events, e2e);
    const suppressed = { alerts: got.fingerprints.length, occurrences: got.occurrences };
    say(`${backend} + silences: ${suppressed.alerts} alerts (${suppressed.occurrences} occurrences) stored suppressed, as expected`);
    return { e2e, silences: plan.silences.length, write_ms: writeMs, expected_suppressed: plan.expected.size, suppressed, suppressed_events: events };
  } finally {
    await dropSilences(ctx.jsm);
  }
}

export interface SilenceComparison {
  silenced: SilencedRun;
  /** The same backend again without silences, right after. */
  none_after: E2EResult;
  /** Mean throughput of the runs without silences before and after: what the silenced one is read against. */
  none_mean_per_sec: number;
}

/** After `noneBefore` (the backend's phase without silences): the phase with them, then one without again. */
export async function compareWithSilences(ctx: E2EContext, noneBefore: E2EResult, w: Workload, plan: SilencePlan): Promise<SilenceComparison> {
  const silenced = await runSilencedE2E(ctx, noneBefore.backend, w, plan);
  say(`${noneBefore.backend}: once more without silences, so the comparison brackets the phase with them`);
  const noneAfter = await runIngestE2E(ctx, noneBefore.backend, w);
  return { silenced, none_after: noneAfter, none_mean_per_sec: (noneBefore.per_sec + noneAfter.per_sec) / 2 };
}
