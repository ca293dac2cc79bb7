/** Summarises a traced ingest worker run: how big the batches were and where each batch's time went. */

export interface BatchSpan {
  size: number;
  storeStart: number;
  storeEnd: number;
  /** When the batch's last side-effect publish resolved. */
  sideEffectsEnd?: number;
}

export interface Timed {
  count: number;
  ms: number;
}

export interface TraceInput {
  batches: BatchSpan[];
  publishes: number;
  /** Postgres statements by their first words. */
  queries: Map<string, Timed>;
  compactions: Timed;
  heapPeakBytes: number;
}

export interface TraceSummary {
  batches: number;
  items: number;
  mean_batch: number;
  /** Batch count per size bucket. */
  size_histogram: Record<string, number>;
  /** Wall time from the first batch's start to the last batch's side effects. */
  span_ms: number;
  store_ms: number;
  side_effects_ms: number;
  /** Between a batch's side effects and the next batch's store call: acks, decode/normalise, waiting for messages. */
  between_ms: number;
  store_ms_per_batch_p50: number;
  store_ms_per_item: number;
  publishes: number;
  /** Postgres statements, slowest total first. */
  queries: Array<{ sql: string } & Timed>;
  jsonl_compactions: Timed;
  heap_peak_mb: number;
}

const BUCKETS: Array<[string, number]> = [["1", 1], ["2-9", 9], ["10-49", 49], ["50-99", 99], ["100-249", 249], ["250-499", 499], ["500+", Infinity]];

export function summarizeTrace({ batches, publishes, queries, compactions, heapPeakBytes }: TraceInput): TraceSummary {
  const histogram = Object.fromEntries(BUCKETS.map(([name]) => [name, 0]));
  let store = 0;
  let effects = 0;
  let between = 0;
  batches.forEach((b, i) => {
    const bucket = BUCKETS.find(([, max]) => b.size <= max)!;
    histogram[bucket[0]]! += 1;
    store += b.storeEnd - b.storeStart;
    const end = b.sideEffectsEnd ?? b.storeEnd;
    effects += end - b.storeEnd;
    const next = batches[i + 1];
    if (next) between += next.storeStart - end;
  });
  const items = batches.reduce((s, b) => s + b.size, 0);
  const storeTimes = batches.map((b) => b.storeEnd - b.storeStart).sort((a, b) => a - b);
  const first = batches[0];
  const last = batches[batches.length - 1];
  return {
    batches: batches.length,
    items,
    mean_batch: batches.length ? items / batches.length : 0,
    size_histogram: histogram,
    span_ms: first && last ? (last.sideEffectsEnd ?? last.storeEnd) - first.storeStart : 0,
    store_ms: store,
    side_effects_ms: effects,
    between_ms: between,
    store_ms_per_batch_p50: storeTimes.length ? storeTimes[Math.floor(storeTimes.length / 2)]! : 0,
    store_ms_per_item: items ? store / items : 0,
    publishes,
    queries: [...queries].map(([sql, t]) => ({ sql, ...t })).sort((a, b) => b.ms - a.ms),
    jsonl_compactions: compactions,
    heap_peak_mb: heapPeakBytes / 1024 / 1024,
  };
}
