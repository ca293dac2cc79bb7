/** `pgArray` writes exactly the array literal node-postgres writes for the same values (its own prepareValue). */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { createRequire } from "node:module";
import { pgArray, withArrayLiterals } from "../../src/stores/alerts/postgres-rows.js";
import { seededRng, UNICODE_EDGES } from "../harness/fuzz.js";

const { prepareValue } = createRequire(import.meta.url)("pg/lib/utils.js") as { prepareValue(v: unknown): unknown };

test("the same literal as node-postgres for random text, numbers, booleans and nulls", () => {
  const r = seededRng(9);
  const pieces = ['"', "\\", "\\\\", '\\"', ",", "{", "}", " ", "NULL", "a", "é", "😀", "", ...UNICODE_EDGES];
  const element = () => {
    const k = r.int(10);
    if (k === 0) return null;
    if (k === 1) return undefined;
    if (k === 2) return r.int(1_000_000) - 500;
    if (k === 3) return r.chance(0.5);
    return Array.from({ length: r.int(4) }, () => r.pick(pieces)).join("");
  };
  for (let i = 0; i < 3000; i++) {
    const values = Array.from({ length: r.int(12) }, element);
    assert.is(pgArray(values), prepareValue(values), JSON.stringify(values));
  }
  for (const plain of [[], ["a"], ["OPS_ALERTS@1:2:3", "A-1"], [1, 2, 3], [true, false], ["2026-12-03T10:00:00.000Z"]]) {
    assert.is(pgArray(plain), prepareValue(plain));
  }
});

test("withArrayLiterals turns only arrays into literals", () => {
  assert.equal(withArrayLiterals(["x", 1, null, ["a", null]]), ["x", 1, null, '{"a",NULL}']);
});

test.run();
