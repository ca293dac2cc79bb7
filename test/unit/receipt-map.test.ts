/**
 * The memory and JSONL stores' compact receipts: every key comes back exactly as given (numbered
 * keys split into prefix and number, any other key kept whole), the first receipt of a key wins,
 * results are fresh objects with every field (lifecycle included), and dropping by age keeps the
 * rest readable. A heap measurement shows what the compact form is for.
 */
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { StoredReceipt } from "../../src/alerts/ingest-plan.js";
import { ReceiptMap } from "../../src/stores/alerts/receipt-map.js";

const AT1 = "2026-12-01T10:00:00.000Z";
const AT2 = "2026-12-02T10:00:00.000Z";

function receipt(key: string, n: number, at = AT1, extra: Partial<StoredReceipt["result"]> = {}): StoredReceipt {
  return { receipt_key: key, result: { alert_ref: `alr_${n % 7}`, deduped: n % 2 === 0, occurrences: n, created: n % 3 === 0, replayed: false, ...extra }, at };
}

const KEYS = [
  "OPS_ALERTS@1733000000000:1",
  "OPS_ALERTS@1733000000000:987654321012345",
  "OPS_ALERTS@1733000000000:42:0",
  "OPS_ALERTS@1733000000000:42:255",
  "client-key-1",
  "x:05", // a leading zero: not the canonical number, kept whole
  "x:",
  ":5",
  "a:b:c",
  "x:0",
  "x:1234567890123456", // more digits than a safe integer holds for sure
];

test("every key comes back exactly, with the result and time it was stored with", () => {
  const m = new ReceiptMap();
  KEYS.forEach((k, i) => m.add(receipt(k, i + 1, i % 2 ? AT1 : AT2)));
  assert.is(m.size, KEYS.length);
  KEYS.forEach((k, i) => {
    assert.ok(m.has(k), k);
    assert.equal(m.get(k), receipt(k, i + 1, i % 2 ? AT1 : AT2), k);
    assert.equal(m.result(k), receipt(k, i + 1).result, k);
  });
  assert.equal(new Set([...m.values()].map((r) => r.receipt_key)), new Set(KEYS));
  for (const k of ["OPS_ALERTS@1733000000000:2", "OPS_ALERTS@1733000000000:42:1", "x:5", "client-key-2", "OPS_ALERTS@1733000000001:1"]) {
    assert.not.ok(m.has(k), k);
    assert.is(m.result(k), undefined, k);
  }
});

test("the first receipt of a key wins; every lifecycle is kept; results are never shared", () => {
  const m = new ReceiptMap();
  const lifecycles = ["refresh", "refire", "resolved", "unknown", "noop", undefined] as const;
  lifecycles.forEach((lifecycle, i) => m.add(receipt(`S@1:${i + 1}`, i + 1, AT1, lifecycle ? { lifecycle, replayed: i === 2 } : {})));
  m.add(receipt("S@1:1", 99));
  m.add(receipt("plain", 5));
  m.add(receipt("plain", 6));
  assert.is(m.size, 7);
  assert.is(m.result("S@1:1")!.occurrences, 1);
  assert.is(m.result("plain")!.occurrences, 5);
  lifecycles.forEach((lifecycle, i) => {
    const r = m.result(`S@1:${i + 1}`)!;
    assert.is(r.lifecycle, lifecycle);
    assert.is("lifecycle" in r, lifecycle !== undefined);
    assert.is(r.replayed, i === 2);
  });
  const a = m.result("S@1:1")!;
  a.occurrences = 1000;
  m.get("plain")!.result.occurrences = 1000;
  assert.is(m.result("S@1:1")!.occurrences, 1);
  assert.is(m.result("plain")!.occurrences, 5);
});

test("dropping by age removes exactly the older receipts and keeps the rest readable", () => {
  const m = new ReceiptMap();
  for (let i = 1; i <= 300; i++) m.add(receipt(`S@1:${i}`, i, i % 3 === 0 ? AT1 : AT2));
  m.add(receipt("old-plain", 1, AT1));
  m.add(receipt("new-plain", 2, AT2));
  const cutoff = Date.parse(AT2);
  assert.is(m.dropOlderThan(cutoff), 101);
  assert.is(m.size, 201);
  for (let i = 1; i <= 300; i++) assert.is(m.has(`S@1:${i}`), i % 3 !== 0, `S@1:${i}`);
  assert.equal(m.get("S@1:1"), receipt("S@1:1", 1, AT2));
  assert.not.ok(m.has("old-plain"));
  assert.ok(m.has("new-plain"));
  assert.is(m.dropOlderThan(cutoff), 0);
  m.add(receipt("S@1:3", 3, AT2));
  assert.ok(m.has("S@1:3"), "a dropped key can be recorded again");
  m.clear();
  assert.is(m.size, 0);
  assert.not.ok(m.has("S@1:1"));
});

test("100,000 stream receipts take under 80 bytes each on the heap (about 200 as a Map of objects)", () => {
  // The runner starts unit files without --expose-gc; a fresh context picks the flag up.
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  gc();
  const before = process.memoryUsage().heapUsed;
  const m = new ReceiptMap();
  for (let i = 1; i <= 100_000; i++) m.add(receipt(`OPS_ALERTS@1733000000000:${i}`, i));
  gc();
  const perReceipt = (process.memoryUsage().heapUsed - before) / 100_000;
  assert.ok(perReceipt < 80, `${perReceipt.toFixed(0)} bytes per receipt`);
  assert.is(m.size, 100_000);
});

test.run();
