/** The Alertmanager label-set fingerprint against a plain FNV-1a 64 reference (BigInt, TextEncoder) over many label sets. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { labelSetFingerprint } from "../../src/alerts/am-fingerprint.js";
import { seededRng } from "../harness/fuzz.js";

const MASK = (1n << 64n) - 1n;
const enc = new TextEncoder();

/** prometheus/common's LabelSet.Fingerprint, written the obvious way. */
function reference(labels: Record<string, string>): string {
  let h = 0xcbf29ce484222325n;
  const add = (b: number) => (h = ((h ^ BigInt(b)) * 0x100000001b3n) & MASK);
  for (const k of Object.keys(labels).sort()) {
    for (const b of enc.encode(k)) add(b);
    add(0xff);
    for (const b of enc.encode(labels[k])) add(b);
    add(0xff);
  }
  return h.toString(16).padStart(16, "0");
}

const PIECES = ["a", "Z", "_", "0", " ", "é", "€", "😀", "\u07ff", "\u0800", "\uffff", "\ud800", "\udfff", "\udbff\udfff", "x\ud83d", "\ude00y", "\u0000", "\u007f", "\u0080"];

test("matches the reference on random label sets: ASCII, 2-, 3- and 4-byte UTF-8, lone surrogates", () => {
  const r = seededRng(7);
  const text = (n: number) => Array.from({ length: n }, () => r.pick(PIECES)).join("");
  for (let i = 0; i < 3000; i++) {
    const labels: Record<string, string> = {};
    const n = r.int(8);
    for (let j = 0; j < n; j++) labels[`${text(1 + r.int(4))}${j}`] = text(r.int(12));
    assert.is(labelSetFingerprint(labels), reference(labels), JSON.stringify(labels));
  }
  assert.is(labelSetFingerprint({}), reference({}));
});

test("values a real Alertmanager 0.25 showed", () => {
  assert.is(labelSetFingerprint({ alertname: "X", service: "checkout", severity: "critical" }), "22bd327e4466504d");
  assert.is(labelSetFingerprint({ uni: "é€😀", zz: "1", _a: "x y" }), "a9abd12c2798ed4c");
});

test.run();
