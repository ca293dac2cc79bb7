/**
 * The silence service on the memory store, on a fake clock: Alertmanager's POST semantics (in
 * place vs a new id with the old one expired), idempotent expiry that never deletes, an expired
 * silence that no later write brings back, the retention sweep, created_by from the caller,
 * `filter` queries and their order, the preview, and the events each change publishes.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { AlertQuery } from "../../src/alerts/store.js";
import { OpsError } from "../../src/errors.js";
import { createLogger } from "../../src/log.js";
import { parseMatcher } from "../../src/silences/matchers.js";
import { SilenceService, type SilencePost } from "../../src/silences/service.js";
import { silenceState, type Silence } from "../../src/silences/silence.js";
import { SilenceConflict, type SilenceChange } from "../../src/silences/store.js";
import { MemorySilenceStore } from "../../src/stores/silences/memory.js";
import type { AlertRecord } from "../../src/subjects/index.js";

const T0 = Date.parse("2026-03-02T10:00:00Z");
const minutes = (n: number) => new Date(T0 + n * 60_000).toISOString();

function setup(alerts: Partial<AlertRecord>[] = []) {
  let nowMs = T0;
  let ids = 0;
  const store = new MemorySilenceStore();
  const events: Array<{ type: string; data: Record<string, unknown>; dedupe?: string }> = [];
  const queries: AlertQuery[] = [];
  const service = new SilenceService({
    store,
    alerts: { list: async (q: AlertQuery) => (queries.push(q), alerts as AlertRecord[]) },
    events: { publish: async (type: string, data: Record<string, unknown>, dedupe?: string) => (events.push({ type, data, ...(dedupe ? { dedupe } : {}) }), { seq: events.length }) } as never,
    retentionHours: 120,
    logger: createLogger({ level: "silent" }),
    now: () => new Date(nowMs),
    newId: () => `00000000-0000-4000-8000-${String(++ids).padStart(12, "0")}`,
  });
  return { store, service, events, queries, advance: (min: number) => void (nowMs += min * 60_000), now: () => new Date(nowMs) };
}

const post = (over: Partial<SilencePost> = {}): SilencePost => ({
  matchers: [{ name: "alertname", value: "X", is_regex: false, is_equal: true }, { name: "service", value: "check.*", is_regex: true, is_equal: true }],
  ends_at: minutes(60),
  comment: "deploy",
  ...over,
});

async function refusal(p: Promise<unknown>): Promise<OpsError> {
  try {
    await p;
  } catch (err) {
    assert.instance(err, OpsError);
    return err as OpsError;
  }
  throw new Error("expected a refusal");
}

test("create: a new UUID, starts now when no start is given, created_by is the caller, silence.created published", async () => {
  const { service, events, store } = setup();
  const w = await service.post(post(), "helion");
  assert.is(w.action, "created");
  assert.match(w.silence.id, /^[0-9a-f-]{36}$/);
  assert.equal([w.silence.starts_at, w.silence.ends_at, w.silence.created_by, w.silence.updated_at], [minutes(0), minutes(60), "helion", minutes(0)]);
  assert.is(silenceState(w.silence, new Date(T0)), "active");
  assert.equal(store.current().map((s) => s.id), [w.silence.id]);
  assert.equal(events.map((e) => [e.type, e.data.silence_id, e.data.by, e.data.state, e.data.created_by]), [["silence.created", w.silence.id, "helion", "active", "helion"]]);
  assert.match(events[0]!.dedupe!, new RegExp(`^${w.silence.id}@\\d+$`));
});

test("a start in the past is moved to now (a new silence never rewrites history); Go's zero start means now", async () => {
  const { service } = setup();
  assert.is((await service.post(post({ starts_at: minutes(-30) }), "helion")).silence.starts_at, minutes(0));
  assert.is((await service.post(post({ starts_at: "0001-01-01T00:00:00.000Z" }), "helion")).silence.starts_at, minutes(0));
  const pending = await service.post(post({ starts_at: minutes(10) }), "helion");
  assert.equal([pending.silence.starts_at, silenceState(pending.silence, new Date(T0))], [minutes(10), "pending"]);
});

test("invalid silences are refused with every reason: no matchers, end before start, end in the past, a bad regex", async () => {
  const { service, store } = setup();
  const e1 = await refusal(service.post(post({ matchers: [] }), "helion"));
  assert.is(e1.code, "invalid_request");
  assert.match(e1.message, /at least one matcher/);
  assert.match((await refusal(service.post(post({ starts_at: minutes(30), ends_at: minutes(20) }), "helion"))).message, /start time must be before end time/);
  assert.match((await refusal(service.post(post({ starts_at: minutes(-30), ends_at: minutes(-20) }), "helion"))).message, /end time can't be in the past/);
  assert.match((await refusal(service.post(post({ matchers: [{ name: "a", value: "(", is_regex: true, is_equal: true }] }), "helion"))).message, /regular expression/);
  assert.match((await refusal(service.post(post({ matchers: [{ name: "a", value: "x".repeat(100_000), is_regex: true, is_equal: true }] }), "helion"))).message, /at most 1024/);
  assert.is(store.list().length, 0);
});

test("posting an existing id with the same matchers updates it in place: same id, new end and comment, created_by the poster", async () => {
  const { service, events, store } = setup();
  const first = (await service.post(post(), "helion")).silence;
  events.length = 0;
  const w = await service.post(post({ id: first.id, starts_at: first.starts_at, ends_at: minutes(120), comment: "longer" }), "sofiia");
  assert.equal([w.action, w.silence.id, w.silence.ends_at, w.silence.comment, w.silence.created_by], ["updated", first.id, minutes(120), "longer", "sofiia"]);
  assert.is(store.list().length, 1);
  assert.equal(events.map((e) => [e.type, e.data.silence_id, e.data.by]), [["silence.updated", first.id, "sofiia"]]);
});

test("posting an existing id with other matchers: a new silence with a new id, and the old active one expired now", async () => {
  const { service, events, store, advance } = setup();
  const first = (await service.post(post(), "helion")).silence;
  advance(5);
  events.length = 0;
  const w = await service.post(post({ id: first.id, matchers: [{ name: "alertname", value: "Y", is_regex: false, is_equal: true }] }), "helion");
  assert.equal([w.action, w.replaced], ["created", first.id]);
  assert.is.not(w.silence.id, first.id);
  const old = await service.get(first.id);
  assert.equal([old.ends_at, silenceState(old, new Date(T0 + 5 * 60_000))], [minutes(5), "expired"]);
  assert.is(store.list().length, 2);
  assert.equal(events.map((e) => [e.type, e.data.silence_id, e.data.replaced_by ?? e.data.replaces]), [["silence.expired", first.id, w.silence.id], ["silence.created", w.silence.id, first.id]]);
});

test("posting an unknown id is not_found (Alertmanager's 404), and a malformed id is invalid", async () => {
  const { service } = setup();
  const e = await refusal(service.post(post({ id: "00000000-0000-4000-8000-999999999999" }), "helion"));
  assert.equal([e.code, e.message], ["not_found", "silence not found"]);
  assert.is((await refusal(service.post(post({ id: "../../etc" }), "helion"))).code, "invalid_request");
  assert.is((await refusal(service.get("nope"))).code, "invalid_request");
  assert.is((await refusal(service.expire("00000000-0000-4000-8000-999999999999", "helion"))).code, "not_found");
});

test("expire: ends_at = now, kept (never deleted), idempotent, one silence.expired; a pending one never starts", async () => {
  const { service, events, store, advance, now } = setup();
  const s = (await service.post(post(), "helion")).silence;
  advance(3);
  events.length = 0;
  const first = await service.expire(s.id, "sofiia");
  assert.equal([first.changed, first.silence.ends_at, first.silence.created_by, silenceState(first.silence, now())], [true, minutes(3), "helion", "expired"]);
  advance(1);
  const again = await service.expire(s.id, "sofiia");
  assert.equal([again.changed, again.silence.ends_at], [false, minutes(3)]);
  assert.equal(events.map((e) => [e.type, e.data.by]), [["silence.expired", "sofiia"]]);
  assert.is((await store.get(s.id))!.silence.id, s.id, "still stored");
  const pending = (await service.post(post({ starts_at: minutes(30) }), "helion")).silence;
  const ended = (await service.expire(pending.id, "helion")).silence;
  assert.equal([ended.starts_at, ended.ends_at], [minutes(4), minutes(4)]);
});

test("an expired silence never comes back: a post over it makes a new silence, and a stale write is refused", async () => {
  const { service, store, advance, now } = setup();
  const s = (await service.post(post(), "helion")).silence;
  const stale = (await store.get(s.id))!;
  advance(1);
  await service.expire(s.id, "helion");
  // An update decided on the copy read before the expiry: compare-and-set refuses it.
  await store.put({ ...stale.silence, ends_at: minutes(600) }, stale.revision).then(
    () => assert.unreachable("a stale write must be refused"),
    (err: unknown) => assert.instance(err, SilenceConflict),
  );
  const w = await service.post(post({ id: s.id, starts_at: minutes(1), ends_at: minutes(600) }), "helion");
  assert.equal([w.action, w.replaced], ["created", s.id]);
  assert.is(silenceState(await service.get(s.id), now()), "expired");
  assert.equal(service.list({ states: ["active"] }).map((x) => x.id), [w.silence.id]);
});

test("two writers racing on one silence: the loser decides again on the stored one (expire then update = a new silence)", async () => {
  const { service, store } = setup();
  const s = (await service.post(post(), "helion")).silence;
  // Expire lands between the updater's read and its write.
  const realGet = store.get.bind(store);
  let raced = false;
  store.get = async (id: string) => {
    const got = await realGet(id);
    if (!raced && id === s.id) {
      raced = true;
      await service.expire(s.id, "sofiia");
    }
    return got;
  };
  const w = await service.post(post({ id: s.id, starts_at: s.starts_at, ends_at: minutes(90) }), "helion");
  assert.equal([w.action, w.replaced], ["created", s.id], "the in-place update was decided again after the conflict");
  assert.equal((await realGet(s.id))!.silence.ends_at, minutes(0));
});

test("list: Alertmanager's filter (each filter matcher is one of the silence's, exactly), states, and order", async () => {
  const { service, advance } = setup();
  const a = (await service.post(post({ ends_at: minutes(90) }), "helion")).silence;
  const b = (await service.post(post({ ends_at: minutes(30) }), "helion")).silence;
  const p = (await service.post(post({ starts_at: minutes(20), matchers: [{ name: "alertname", value: "Z", is_regex: false, is_equal: true }] }), "helion")).silence;
  const e = (await service.post(post(), "helion")).silence;
  advance(1);
  await service.expire(e.id, "helion");
  assert.equal(service.list().map((s) => s.id), [b.id, a.id, p.id, e.id], "active by end, pending, expired");
  assert.equal(service.list({ filter: [parseMatcher("alertname=X")] }).map((s) => s.id), [b.id, a.id, e.id]);
  assert.equal(service.list({ filter: [parseMatcher('service=~"check.*"')] }).length, 3);
  assert.equal(service.list({ filter: [parseMatcher('service="check.*"')] }).length, 0, "a regex matcher is not an equality filter");
  assert.equal(service.list({ states: ["expired"] }).map((s) => s.id), [e.id]);
});

test("retention: an expired silence is listed until silence_retention_hours after its end, then deleted once", async () => {
  const { service, store, advance } = setup();
  const s = (await service.post(post(), "helion")).silence;
  const changes: SilenceChange[] = [];
  store.onChange((c) => changes.push(c));
  await service.expire(s.id, "helion");
  advance(119 * 60);
  assert.is(await service.sweep(), 0);
  assert.ok(await store.get(s.id));
  advance(61);
  assert.is(await service.sweep(), 1);
  assert.is(await store.get(s.id), null);
  assert.equal(changes.map((c) => c.kind), ["put", "removed"]);
  assert.is(await service.sweep(), 0);
});

test("preview: the firing alerts the matchers would silence, matched on labels and the mapped fields", async () => {
  const alert = (ref: string, service: string, labels: Record<string, string>, severity = "P1") =>
    ({ alert_ref: ref, fingerprint: `fp_${ref}`, service, env: "prod", kind: "latency", severity, source: "prometheus", title: ref, starts_at: minutes(-5), labels }) as Partial<AlertRecord>;
  const { service, queries } = setup([alert("a1", "checkout", { alertname: "X" }), alert("a2", "checkin", { alertname: "X" }), alert("a3", "checkout", { alertname: "Y" }), alert("a4", "cart", { alertname: "X" }, "P0")]);
  const r = await service.preview(post().matchers);
  assert.equal([r.matched, r.examined, r.truncated, r.alerts.map((a) => a.alert_ref)], [2, 4, false, ["a1", "a2"]]);
  assert.is(queries[0]!.state, "firing");
  assert.equal((await service.preview([{ name: "severity", value: "P0", is_regex: false, is_equal: true }])).alerts.map((a) => a.alert_ref), ["a4"]);
  assert.is((await refusal(service.preview([{ name: "a", value: "", is_regex: false, is_equal: true }]))).code, "invalid_request");
});

test("the live view: current() is frozen, shared until the next change, and onChange sees every write", async () => {
  const { service, store } = setup();
  const seen: string[] = [];
  const off = store.onChange((c) => seen.push(c.kind === "put" ? `put ${c.silence.ends_at}` : "removed"));
  const s = (await service.post(post(), "helion")).silence;
  const snap = store.current();
  assert.is(store.current(), snap, "the same array until something changes");
  assert.ok(Object.isFrozen(snap) && Object.isFrozen(snap[0] as Silence));
  await service.expire(s.id, "helion");
  assert.is.not(store.current(), snap);
  off();
  await service.post(post(), "helion");
  assert.equal(seen, [`put ${minutes(60)}`, `put ${minutes(0)}`]);
});

test("a silence's own end is announced once as silence.expired by schedule, in the tick it passes; an expiry by hand is not announced again", async () => {
  const { service, events, advance, now } = setup();
  const ending = (await service.post(post({ ends_at: minutes(30) }), "helion")).silence;
  const byHand = (await service.post(post({ ends_at: minutes(30), comment: "other" }), "helion")).silence;
  advance(10);
  await service.expire(byHand.id, "helion");
  const handEvents = events.filter((e) => e.type === "silence.expired").length;
  assert.is(await service.announceEnded(new Date(T0), now()), 0, "nothing reached its own end yet (the expiry by hand published its own event)");
  const before = now();
  advance(25);
  assert.is(await service.announceEnded(before, now()), 1);
  const ended = events.filter((e) => e.type === "silence.expired").slice(handEvents);
  assert.is(ended.length, 1);
  assert.is(ended[0]!.data.silence_id, ending.id);
  assert.is(ended[0]!.data.by, "schedule");
  assert.is(ended[0]!.data.state, "expired");
  assert.match(ended[0]!.dedupe ?? "", new RegExp(`^${ending.id}@\\d+:ended$`), "its own id: not the created event's, the same on every gateway");
  const later = now();
  advance(1);
  assert.is(await service.announceEnded(later, now()), 0, "announced in the tick its end passed, not again");
});

test("an end whose event cannot be published fails the round, so the next tick tries the same window again", async () => {
  const { service, store, advance, now } = setup();
  await service.post(post({ ends_at: minutes(5) }), "helion");
  const failing = new SilenceService({ store, alerts: { list: async () => [] }, events: { publish: async () => { throw new Error("no responders"); } } as never, retentionHours: 1, logger: createLogger({ level: "silent" }), now });
  const since = now();
  advance(6);
  const err = await failing.announceEnded(since, now()).then(() => undefined, (e: Error) => e);
  assert.match(err?.message ?? "", /was not announced/);
});

test.run();
