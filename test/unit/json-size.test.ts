/**
 * `jsonBytesBound` is never below the UTF-8 size of JSON.stringify (fuzzed values, escapes,
 * surrogates, long numbers), and `jsonBytesOver` answers exactly what measuring the text answers.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { jsonBytesBound, jsonBytesOver } from "../../src/alerts/json-size.js";
import { amAlert } from "../harness/fuzz-intake.js";
import { mutate, seededRng, UNICODE_EDGES } from "../harness/fuzz.js";

const size = (v: unknown) => Buffer.byteLength(JSON.stringify(v) ?? "null");
const dec = new TextDecoder();

const NUMBERS = [0, -0, 1, -1.5, 1e21, -1e21, 1e-7, -1.2345678901234567e-7, -0.0000012345678901234567, -1.7976931348623157e308, 5e-324, -2.2250738585072014e-308, 123456789012345680000, Number.MAX_SAFE_INTEGER, NaN, Infinity];
const STRINGS = ["", "a", '"', "\\", "\u0000", "\u001f", "\u2028", "é", "€", "😀", "\ud800", "\udc00x", "</script>", ...UNICODE_EDGES];

test("the bound is at least the real size: edge values alone and nested", () => {
  for (const v of [...NUMBERS, ...STRINGS, true, false, null, [], {}, [[[]]], { a: [1, "x", null] }, JSON.parse('{"__proto__": {"x": "\\u0000"}}')]) {
    assert.ok(jsonBytesBound(v, Infinity) >= size(v), JSON.stringify(v));
    assert.ok(jsonBytesBound({ [String(v)]: v, k: [v, v] }, Infinity) >= size({ [String(v)]: v, k: [v, v] }), String(v));
  }
  for (const n of NUMBERS) assert.ok(JSON.stringify(n).length <= 25, `${n}`);
});

test("fuzzed alert payloads: bound ≥ size, and jsonBytesOver agrees with measuring", () => {
  const r = seededRng(21);
  let parsed = 0;
  let over = 0;
  for (let i = 0; i < 4000; i++) {
    const m = mutate(r, amAlert(`${i}`, new Date("2026-12-03T10:00:00Z")), { maxBytes: 2048, hardMaxBytes: 4096 });
    let v: unknown;
    try {
      v = JSON.parse(dec.decode(m.body));
    } catch {
      continue;
    }
    parsed++;
    let exact: number;
    try {
      exact = size(v);
    } catch {
      continue; // nested past what JSON.stringify can write
    }
    for (const limit of [64, 512, 2048]) {
      const b = jsonBytesBound(v, limit);
      assert.ok(b === Infinity || (b >= exact && b <= limit), `bound ${b} vs size ${exact}, limit ${limit}`);
      const want = exact > limit ? exact : undefined;
      if (want !== undefined) over++;
      assert.is(jsonBytesOver(v, limit), want);
    }
  }
  assert.ok(parsed > 1500 && over > 500, `${parsed} parsed, ${over} over`);
});

test("a typical entry is answered by the bound alone, and a deep one gives up rather than overflow", () => {
  assert.ok(jsonBytesBound(amAlert("x", new Date()), 65536) <= 65536);
  let deep: unknown = "x";
  for (let i = 0; i < 100_000; i++) deep = [deep];
  assert.is(jsonBytesBound(deep, 65536), Infinity);
});

test.run();
