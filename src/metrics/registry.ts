/**
 * A small Prometheus registry: counters, gauges and histograms with labels, rendered in the text
 * exposition format 0.0.4. Hand-written because opsbus needs a dozen series, not a client library.
 */

export type Labels = Record<string, string>;

/** The Content-Type of `Registry.render()`. */
export const EXPOSITION_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function escapeHelp(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

export function formatValue(n: number): string {
  if (Number.isNaN(n)) return "NaN";
  if (n === Infinity) return "+Inf";
  if (n === -Infinity) return "-Inf";
  return String(n);
}

function labelText(names: readonly string[], values: readonly string[], extra?: [string, string]): string {
  const pairs = names.map((n, i) => `${n}="${escapeLabel(values[i] ?? "")}"`);
  if (extra) pairs.push(`${extra[0]}="${escapeLabel(extra[1])}"`);
  return pairs.length ? `{${pairs.join(",")}}` : "";
}

abstract class Metric<S> {
  protected readonly series = new Map<string, { values: string[]; state: S }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[] = [],
  ) {
    if (!NAME.test(name)) throw new Error(`metric name ${name} is not valid`);
    for (const l of labelNames) if (!LABEL.test(l) || l === "le") throw new Error(`label ${l} of ${name} is not valid`);
  }

  /** An unlabelled metric shows its zero from the start, so rate() sees the first increment. */
  protected init(): void {
    if (!this.labelNames.length) this.stateOf();
  }

  abstract readonly type: "counter" | "gauge" | "histogram";
  protected abstract fresh(): S;
  protected abstract lines(labels: (extra?: [string, string]) => string, state: S): string[];

  protected stateOf(labels: Labels = {}): S {
    const values = this.labelNames.map((n) => {
      const v = labels[n];
      if (v === undefined) throw new Error(`${this.name}: label ${n} is missing`);
      return String(v);
    });
    const key = values.join("\u0000");
    let entry = this.series.get(key);
    if (!entry) {
      entry = { values, state: this.fresh() };
      this.series.set(key, entry);
    }
    return entry.state;
  }

  /** Drops every series (a gauge refilled at each scrape). */
  reset(): void {
    this.series.clear();
  }

  render(): string {
    const out = [`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${this.type}`];
    for (const { values, state } of this.series.values()) {
      out.push(...this.lines((extra) => labelText(this.labelNames, values, extra), state));
    }
    return out.join("\n");
  }
}

export class Counter extends Metric<{ value: number }> {
  readonly type = "counter";
  constructor(name: string, help: string, labelNames: readonly string[] = []) {
    super(name, help, labelNames);
    this.init();
  }
  protected fresh() {
    return { value: 0 };
  }
  inc(labels?: Labels, by = 1): void {
    if (by < 0) throw new Error(`${this.name}: a counter only goes up`);
    this.stateOf(labels).value += by;
  }
  get(labels?: Labels): number {
    return this.stateOf(labels).value;
  }
  protected lines(labels: (extra?: [string, string]) => string, s: { value: number }) {
    return [`${this.name}${labels()} ${formatValue(s.value)}`];
  }
}

export class Gauge extends Metric<{ value: number }> {
  readonly type = "gauge";
  constructor(name: string, help: string, labelNames: readonly string[] = []) {
    super(name, help, labelNames);
    this.init();
  }
  protected fresh() {
    return { value: 0 };
  }
  set(labels: Labels | undefined, value: number): void {
    this.stateOf(labels).value = value;
  }
  protected lines(labels: (extra?: [string, string]) => string, s: { value: number }) {
    return [`${this.name}${labels()} ${formatValue(s.value)}`];
  }
}

interface HistogramState {
  counts: number[];
  sum: number;
  count: number;
}

export class Histogram extends Metric<HistogramState> {
  readonly type = "histogram";
  constructor(name: string, help: string, labelNames: readonly string[], readonly buckets: readonly number[]) {
    super(name, help, labelNames);
    if (!buckets.length || buckets.some((b, i) => i > 0 && b <= buckets[i - 1]!)) throw new Error(`${name}: buckets must increase`);
    this.init();
  }
  protected fresh(): HistogramState {
    return { counts: this.buckets.map(() => 0), sum: 0, count: 0 };
  }
  observe(labels: Labels | undefined, value: number): void {
    const s = this.stateOf(labels);
    this.buckets.forEach((b, i) => {
      if (value <= b) s.counts[i]! += 1;
    });
    s.sum += value;
    s.count += 1;
  }
  protected lines(labels: (extra?: [string, string]) => string, s: HistogramState) {
    return [
      ...this.buckets.map((b, i) => `${this.name}_bucket${labels(["le", formatValue(b)])} ${s.counts[i]}`),
      `${this.name}_bucket${labels(["le", "+Inf"])} ${s.count}`,
      `${this.name}_sum${labels()} ${formatValue(s.sum)}`,
      `${this.name}_count${labels()} ${s.count}`,
    ];
  }
}

/** Metrics by name, plus hooks that refresh scrape-time gauges before rendering. */
export class Registry {
  private readonly metrics = new Map<string, Counter | Gauge | Histogram>();
  private readonly collectors: Array<() => Promise<void>> = [];

  register<M extends Counter | Gauge | Histogram>(metric: M): M {
    if (this.metrics.has(metric.name)) throw new Error(`metric ${metric.name} is registered twice`);
    this.metrics.set(metric.name, metric);
    return metric;
  }

  onCollect(fn: () => Promise<void>): void {
    this.collectors.push(fn);
  }

  /** Runs the collectors (a failing one leaves its metric as it was) and renders every metric. */
  async render(): Promise<string> {
    await Promise.all(this.collectors.map((fn) => fn().catch(() => undefined)));
    return `${[...this.metrics.values()].map((m) => m.render()).join("\n")}\n`;
  }
}
