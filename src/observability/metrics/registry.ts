/**
 * opsbus's metric types over prom-client: the same small API the workers already call
 * (`inc(labels?, by)`, `set(labels, value)`, `observe(labels, value)`, `reset()`), one
 * prom-client registry per process (`OpsMetrics.registry`), never prom-client's global one, so
 * several contexts in one test process do not collide.
 */
import * as prom from "prom-client";

export type Labels = Record<string, string>;

/** The Content-Type of `Registry.render()` (text exposition format 0.0.4). */
export const EXPOSITION_CONTENT_TYPE = prom.Registry.PROMETHEUS_CONTENT_TYPE;

/** Samples a metric refreshes when scraped; a failing one keeps the metric's last values. */
export type Collect = () => Promise<void> | void;

interface Wrapped {
  readonly metric: prom.Metric<string>;
}

export class Counter implements Wrapped {
  readonly metric: prom.Counter<string>;
  constructor(readonly name: string, help: string, labelNames: readonly string[] = []) {
    this.metric = new prom.Counter({ name, help, labelNames: [...labelNames], registers: [] });
  }
  /** prom-client reads `inc(undefined, n)` as `inc(1)`: an unlabelled counter goes through `inc(n)`. */
  inc(labels?: Labels, by = 1): void {
    if (labels) this.metric.inc(labels, by);
    else this.metric.inc(by);
  }
  reset(): void {
    this.metric.reset();
  }
}

export class Gauge implements Wrapped {
  readonly metric: prom.Gauge<string>;
  constructor(readonly name: string, help: string, labelNames: readonly string[] = []) {
    this.metric = new prom.Gauge({ name, help, labelNames: [...labelNames], registers: [] });
  }
  set(labels: Labels | undefined, value: number): void {
    if (labels) this.metric.set(labels, value);
    else this.metric.set(value);
  }
  /** Drops every series (a gauge refilled at each scrape). */
  reset(): void {
    this.metric.reset();
  }
}

export class Histogram implements Wrapped {
  readonly metric: prom.Histogram<string>;
  constructor(readonly name: string, help: string, labelNames: readonly string[], buckets: readonly number[]) {
    this.metric = new prom.Histogram({ name, help, labelNames: [...labelNames], buckets: [...buckets], registers: [] });
  }
  observe(labels: Labels | undefined, value: number): void {
    if (labels) this.metric.observe(labels, value);
    else this.metric.observe(value);
  }
  reset(): void {
    this.metric.reset();
  }
}

/** A prom-client registry plus hooks that refresh scrape-time gauges before rendering. */
export class Registry {
  readonly prom = new prom.Registry();
  private readonly collectors: Collect[] = [];

  register<M extends Counter | Gauge | Histogram>(metric: M): M {
    this.prom.registerMetric(metric.metric);
    return metric;
  }

  onCollect(fn: Collect): void {
    this.collectors.push(fn);
  }

  /** Runs the collectors (a failing one leaves its metrics as they were) and renders every metric. */
  async render(): Promise<string> {
    await Promise.all(this.collectors.map((fn) => Promise.resolve().then(fn).catch(() => undefined)));
    return this.prom.metrics();
  }
}
