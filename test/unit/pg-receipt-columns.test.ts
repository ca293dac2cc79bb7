/**
 * `ingestReceiptColumns` groups the stream receipts of an ingest call into one row per stream (a
 * slice of flat columns each) and reads keys as `streamKey` does: checked against it on random
 * keys, near misses included, and every receipt found again in its row, in the order given.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { StoredReceipt } from "../../src/alerts/ingest-plan.js";
import { ingestReceiptColumns, streamKey } from "../../src/stores/alerts/postgres-rows.js";
import { seededRng } from "../harness/fuzz.js";

const r = seededRng(23);
const PIECES = ["OPS_ALERTS", "A-b_9", "@", "1764700000000", "@0", ":", "0", "1", "7", "01", "999999999999999", "1000000000000000", "x", " ", "é", ""];

function randomKey(): string {
  // Mostly well-formed stream and entry keys of a few streams, some mutated, some arbitrary.
  const stream = r.pick(["OPS_ALERTS@1764700000000", "DEV_ALERTS@42", "bad stream@1"]);
  const seq = r.pick(["1", "2", "17", "256", "0", "007", "999999999999999", "1000000000000000"]);
  const k = r.int(4);
  if (k === 0) return `${stream}:${seq}`;
  if (k === 1) return `${stream}:${seq}:${r.pick(["0", "1", "255", "01", "-1", "x"])}`;
  if (k === 2) return Array.from({ length: 1 + r.int(6) }, () => r.pick(PIECES)).join("");
  return `${stream}:${r.int(40) + 1}:${r.int(256)}`;
}

const receipt = (key: string, i: number): StoredReceipt => ({
  receipt_key: key,
  result: { alert_ref: `alrt_${i}`, deduped: i % 3 === 0, occurrences: i + 1, created: i % 2 === 0, replayed: false },
  at: "2026-12-03T10:00:00.000Z",
});

test("keys read as streamKey reads them; stream receipts come back from their row's slice, in order", () => {
  for (let round = 0; round < 300; round++) {
    const rs = Array.from({ length: 1 + r.int(40) }, (_, i) => receipt(randomKey(), i));
    const { keyed, params } = ingestReceiptColumns(rs);
    const [kKeys, kRefs, , kOcc, , streams, lo, hi, first, last, seqs, refs, deduped, occ, created] = params as [
      string[], string[], boolean[], number[], boolean[], string[], number[], number[], number[], number[], number[], string[], boolean[], number[], boolean[],
    ];
    const plain = rs.filter((x) => !streamKey(x.receipt_key));
    assert.is(keyed, plain.length);
    assert.equal(kKeys, plain.map((x) => x.receipt_key));
    assert.equal(kRefs, plain.map((x) => x.result.alert_ref));
    assert.equal(kOcc, plain.map((x) => x.result.occurrences));
    assert.is(params.length, 15);

    const wanted = new Map<string, StoredReceipt[]>();
    for (const x of rs) {
      const k = streamKey(x.receipt_key);
      if (k) wanted.set(k.stream, [...(wanted.get(k.stream) ?? []), x]);
    }
    assert.equal(streams, [...wanted.keys()]);
    streams.forEach((stream, row) => {
      const mine = wanted.get(stream)!;
      const at = (col: unknown[]) => col.slice(first[row]! - 1, last[row]);
      const want = mine.map((x) => streamKey(x.receipt_key)!.seq);
      assert.equal(at(seqs), want, stream);
      assert.equal([lo[row], hi[row]], [Math.min(...want), Math.max(...want)]);
      assert.equal(at(refs), mine.map((x) => x.result.alert_ref));
      assert.equal(at(deduped), mine.map((x) => x.result.deduped));
      assert.equal(at(occ), mine.map((x) => x.result.occurrences));
      assert.equal(at(created), mine.map((x) => x.result.created));
    });
    assert.is(seqs.length, rs.length - plain.length);
  }
});

test.run();
