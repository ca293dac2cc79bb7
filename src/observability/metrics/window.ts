/**
 * The most recent samples of a latency, bounded by count and age, for percentiles over "now"
 * (monitor status) rather than since start-up (the histogram).
 */
export class LatencyWindow {
  private samples: Array<{ at: number; ms: number }> = [];

  constructor(
    private readonly maxSamples = 2048,
    private readonly maxAgeMs = 15 * 60_000,
    private readonly clock: () => number = Date.now,
  ) {}

  push(ms: number): void {
    this.samples.push({ at: this.clock(), ms });
    if (this.samples.length > this.maxSamples) this.samples.splice(0, this.samples.length - this.maxSamples);
  }

  private live(): number[] {
    const cutoff = this.clock() - this.maxAgeMs;
    // Samples arrive in time order: drop the expired head.
    const first = this.samples.findIndex((s) => s.at >= cutoff);
    this.samples = first === -1 ? [] : this.samples.slice(first);
    return this.samples.map((s) => s.ms);
  }

  /** Nearest-rank percentile (0 < p ≤ 100) of the live samples; null when there are none. */
  percentile(p: number): number | null {
    const values = this.live().sort((a, b) => a - b);
    if (!values.length) return null;
    const rank = Math.max(1, Math.ceil((p / 100) * values.length));
    return values[rank - 1]!;
  }

  get size(): number {
    return this.live().length;
  }
}
