/**
 * `isCanonicalIso`, which lets normalising skip Date parsing and formatting: it says yes only for
 * strings that `new Date(s).toISOString()` gives back unchanged and zod's ISO date-time accepts,
 * and yes for every such string toISOString writes (years 0000–9999).
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { z } from "zod";
import { canonicalIsoMs, isCanonicalIso, normaliseTime } from "../../src/util/iso-time.js";
import { seededRng } from "../harness/fuzz.js";

const zodIso = z.iso.datetime({ offset: true });
const roundTrips = (s: string) => {
  const ms = Date.parse(s);
  return !Number.isNaN(ms) && new Date(ms).toISOString() === s;
};

test("every instant toISOString writes with a four-digit year is canonical", () => {
  const r = seededRng(11);
  const min = Date.UTC(0, 0, 1) - 365 * 86_400_000 * 1900; // well before year 0: skipped below
  const max = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
  for (let i = 0; i < 20_000; i++) {
    const ms = Math.floor(min + r.next() * (max - min));
    const s = new Date(ms).toISOString();
    assert.is(isCanonicalIso(s), s.length === 24, s);
    if (s.length === 24) assert.is(canonicalIsoMs(s), ms, s);
  }
  for (const s of ["2024-02-29T23:59:59.999Z", "2000-02-29T00:00:00.000Z", "0000-02-29T00:00:00.000Z", "1970-01-01T00:00:00.000Z", "9999-12-31T23:59:59.999Z"]) {
    assert.ok(isCanonicalIso(s), s);
  }
});

test("what it accepts round-trips through Date and zod's ISO date-time accepts; near misses are refused", () => {
  const r = seededRng(12);
  const pieces = ["0", "1", "2", "3", "5", "9", "-", ":", "T", "t", ".", "Z", "z", " ", "+"];
  const base = ["2023-02-28T23:59:59.999Z", "2024-02-29T12:00:00.000Z", "1900-02-28T00:00:00.000Z", "2026-12-31T23:59:59.000Z", "0001-01-01T00:00:00.000Z"];
  let accepted = 0;
  for (let i = 0; i < 50_000; i++) {
    const chars = r.pick(base).split("");
    for (let k = 1 + r.int(2); k > 0; k--) chars[r.int(chars.length)] = r.pick(pieces);
    const s = chars.join("");
    if (!isCanonicalIso(s)) continue;
    accepted++;
    assert.ok(roundTrips(s), `accepted but does not round-trip: ${s}`);
    assert.is(canonicalIsoMs(s), Date.parse(s), s);
    assert.ok(zodIso.safeParse(s).success, `accepted but zod refuses: ${s}`);
  }
  assert.ok(accepted > 1000, `only ${accepted} mutants accepted`);
  for (const s of ["2023-02-29T00:00:00.000Z", "1900-02-29T00:00:00.000Z", "2026-04-31T00:00:00.000Z", "2026-13-01T00:00:00.000Z", "2026-01-01T24:00:00.000Z", "2026-01-01T00:60:00.000Z", "2026-01-01T00:00:60.000Z", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00.000+00:00", "+012026-01-01T00:00:00.000Z", "2026-01-01t00:00:00.000Z", "2026-00-10T00:00:00.000Z", "2026-01-00T00:00:00.000Z"]) {
    assert.not.ok(isCanonicalIso(s), s);
    assert.ok(Number.isNaN(canonicalIsoMs(s)), s);
  }
});

test("normaliseTime is unchanged for every form: canonical as is, others parsed, unparseable kept", () => {
  assert.is(normaliseTime("2026-12-03T10:00:00.000Z"), "2026-12-03T10:00:00.000Z");
  assert.is(normaliseTime("2026-12-03T11:00:00+01:00"), "2026-12-03T10:00:00.000Z");
  assert.is(normaliseTime("2026-12-03T10:00:00Z"), "2026-12-03T10:00:00.000Z");
  assert.is(normaliseTime("not a time"), "not a time");
});

test.run();
