/**
 * The receipts a memory or JSONL alert store holds: every ingested message of the day, so a
 * redelivery counts nothing twice. Kept compact, because a receipt as a key string and two objects
 * is ≈ 200 bytes (20 MB per 100,000 alerts, and V8 lets the heap grow to several times what is
 * live before a full GC). A key that ends in `:<integer>` (the worker's `<stream>@<created>:<seq>`,
 * a batch entry's `…:<seq>:<index>`) is held as its prefix, its number and a slot of typed columns
 * (≈ 50 bytes); any other key (a client's idempotency key) as given. Results are made afresh on
 * every read, so callers never share stored state.
 */
import type { IngestResult } from "../../alerts/store.js";
import type { StoredReceipt } from "../../alerts/ingest-plan.js";

const LIFECYCLES = [undefined, "refresh", "refire", "resolved", "unknown", "noop"] as const;
const DEDUPED = 1;
const CREATED = 2;
const REPLAYED = 4;
const LIFECYCLE_SHIFT = 3;

/** `key` as prefix and number when it ends in `:<canonical integer>`, so that `${prefix}:${n}` is the key again. */
function split(key: string): { prefix: string; n: number } | undefined {
  const colon = key.lastIndexOf(":");
  if (colon <= 0 || colon === key.length - 1) return undefined;
  const digits = key.length - colon - 1;
  if (digits > 15 || (digits > 1 && key.charCodeAt(colon + 1) === 48)) return undefined;
  let n = 0;
  for (let i = colon + 1; i < key.length; i++) {
    const d = key.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return undefined;
    n = n * 10 + d;
  }
  return { prefix: key.slice(0, colon), n };
}

/** Strings stored once each, by index. */
class Interned {
  readonly values: string[] = [];
  private readonly ids = new Map<string, number>();
  id(s: string): number {
    let id = this.ids.get(s);
    if (id === undefined) {
      id = this.values.length;
      this.values.push(s);
      this.ids.set(s, id);
    }
    return id;
  }
}

const copy = (r: StoredReceipt): StoredReceipt => ({ receipt_key: r.receipt_key, result: { ...r.result }, at: r.at });

function grown<T extends Int32Array | Float64Array | Uint8Array>(a: T, need: number, make: (n: number) => T): T {
  if (need <= a.length) return a;
  const b = make(Math.max(need, a.length * 2));
  b.set(a);
  return b;
}

export class ReceiptMap {
  private plain = new Map<string, StoredReceipt>();
  /** prefix → number → slot in the columns. */
  private numbered = new Map<string, Map<number, number>>();
  private refs = new Interned();
  private ats = new Interned();
  private refCol = new Int32Array(1024);
  private atCol = new Int32Array(1024);
  private occCol = new Float64Array(1024);
  private flagCol = new Uint8Array(1024);
  private slots = 0;

  get size(): number {
    return this.plain.size + this.slots;
  }

  private slotOf(key: string): number | undefined {
    const k = split(key);
    return k === undefined ? undefined : this.numbered.get(k.prefix)?.get(k.n);
  }

  has(key: string): boolean {
    return this.plain.has(key) || this.slotOf(key) !== undefined;
  }

  /** The stored result of `key`, a fresh object. */
  result(key: string): IngestResult | undefined {
    const p = this.plain.get(key);
    if (p) return { ...p.result };
    const slot = this.slotOf(key);
    return slot === undefined ? undefined : this.resultAt(slot);
  }

  get(key: string): StoredReceipt | undefined {
    const p = this.plain.get(key);
    if (p) return copy(p);
    const slot = this.slotOf(key);
    return slot === undefined ? undefined : this.receiptAt(key, slot);
  }

  /** Keeps the first receipt of a key: a later one of the same key changes nothing. */
  add(r: StoredReceipt): void {
    const k = split(r.receipt_key);
    if (k === undefined) {
      if (!this.plain.has(r.receipt_key)) this.plain.set(r.receipt_key, copy(r));
      return;
    }
    let byNumber = this.numbered.get(k.prefix);
    if (byNumber === undefined) this.numbered.set(k.prefix, (byNumber = new Map()));
    if (byNumber.has(k.n)) return;
    const slot = this.slots++;
    this.refCol = grown(this.refCol, this.slots, (n) => new Int32Array(n));
    this.atCol = grown(this.atCol, this.slots, (n) => new Int32Array(n));
    this.occCol = grown(this.occCol, this.slots, (n) => new Float64Array(n));
    this.flagCol = grown(this.flagCol, this.slots, (n) => new Uint8Array(n));
    const x = r.result;
    this.refCol[slot] = this.refs.id(x.alert_ref);
    this.atCol[slot] = this.ats.id(r.at);
    this.occCol[slot] = x.occurrences;
    this.flagCol[slot] =
      (x.deduped ? DEDUPED : 0) | (x.created ? CREATED : 0) | (x.replayed ? REPLAYED : 0) | (LIFECYCLES.indexOf(x.lifecycle) << LIFECYCLE_SHIFT);
    byNumber.set(k.n, slot);
  }

  private resultAt(slot: number): IngestResult {
    const f = this.flagCol[slot]!;
    const out: IngestResult = {
      alert_ref: this.refs.values[this.refCol[slot]!]!,
      deduped: (f & DEDUPED) !== 0,
      occurrences: this.occCol[slot]!,
      created: (f & CREATED) !== 0,
      replayed: (f & REPLAYED) !== 0,
    };
    const lifecycle = LIFECYCLES[f >> LIFECYCLE_SHIFT];
    if (lifecycle !== undefined) out.lifecycle = lifecycle;
    return out;
  }

  private receiptAt(key: string, slot: number): StoredReceipt {
    return { receipt_key: key, result: this.resultAt(slot), at: this.ats.values[this.atCol[slot]!]! };
  }

  /** Every receipt, the plain keys first. */
  *values(): IterableIterator<StoredReceipt> {
    for (const r of this.plain.values()) yield copy(r);
    for (const [key, slot] of this.numberedSlots()) yield this.receiptAt(key, slot);
  }

  private *numberedSlots(): IterableIterator<[key: string, slot: number]> {
    for (const [prefix, byNumber] of this.numbered) for (const [n, slot] of byNumber) yield [`${prefix}:${n}`, slot];
  }

  /** Drops the receipts recorded before `cutoffMs`; returns how many. */
  dropOlderThan(cutoffMs: number): number {
    const old = this.ats.values.map((at) => Date.parse(at) < cutoffMs);
    let dropped = 0;
    for (const [key, r] of this.plain) {
      if (Date.parse(r.at) < cutoffMs) {
        this.plain.delete(key);
        dropped++;
      }
    }
    let oldSlots = 0;
    for (let s = 0; s < this.slots; s++) if (old[this.atCol[s]!]) oldSlots++;
    if (oldSlots === 0) return dropped;
    // Rebuilt from the survivors: the columns and interned strings shrink with them.
    const kept = [...this.numberedSlots()].filter(([, slot]) => !old[this.atCol[slot]!]).map(([key, slot]) => this.receiptAt(key, slot));
    const plain = this.plain;
    this.clear();
    this.plain = plain;
    for (const r of kept) this.add(r);
    return dropped + oldSlots;
  }

  clear(): void {
    this.plain = new Map();
    this.numbered = new Map();
    this.refs = new Interned();
    this.ats = new Interned();
    this.refCol = new Int32Array(1024);
    this.atCol = new Int32Array(1024);
    this.occCol = new Float64Array(1024);
    this.flagCol = new Uint8Array(1024);
    this.slots = 0;
  }
}
