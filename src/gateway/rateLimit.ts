/**
 * Token buckets, one per (agent, tool): `burst` tokens of capacity, refilled at
 * `rate_per_minute`. In-process: each gateway process limits its own share of the traffic.
 */

/** Past this many buckets, full (idle) ones are swept so arbitrary dev agent ids cannot grow memory. */
const MAX_BUCKETS = 10_000;

interface Bucket {
  tokens: number;
  updatedAt: number;
  ratePerMs: number;
  capacity: number;
}

export interface RateDecision {
  allowed: boolean;
  /** When not allowed: milliseconds until one token is available. */
  retryAfterMs: number;
}

export interface RateSpec {
  rate_per_minute: number;
  burst: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  /** Takes one token for `key` at time `nowMs`, or says how long to wait for one. */
  take(key: string, spec: RateSpec, nowMs: number): RateDecision {
    const ratePerMs = spec.rate_per_minute / 60_000;
    let bucket = this.buckets.get(key);
    if (!bucket) {
      if (this.buckets.size >= MAX_BUCKETS) this.sweep(nowMs);
      bucket = { tokens: spec.burst, updatedAt: nowMs, ratePerMs, capacity: spec.burst };
      this.buckets.set(key, bucket);
    }
    // A reloaded policy takes effect on the next call.
    bucket.ratePerMs = ratePerMs;
    bucket.capacity = spec.burst;
    refill(bucket, nowMs);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true, retryAfterMs: 0 };
    }
    return { allowed: false, retryAfterMs: Math.max(1, Math.ceil((1 - bucket.tokens) / ratePerMs)) };
  }

  size(): number {
    return this.buckets.size;
  }

  /** Drops buckets that have refilled completely: forgetting them changes nothing. */
  private sweep(nowMs: number): void {
    for (const [key, bucket] of this.buckets) {
      refill(bucket, nowMs);
      if (bucket.tokens >= bucket.capacity) this.buckets.delete(key);
    }
  }
}

function refill(bucket: Bucket, nowMs: number): void {
  const elapsed = Math.max(0, nowMs - bucket.updatedAt);
  bucket.tokens = Math.min(bucket.capacity, bucket.tokens + elapsed * bucket.ratePerMs);
  bucket.updatedAt = nowMs;
}

/** The bucket key: limits are per agent and per tool, since tools have different rates. */
export function rateKey(agentId: string, tool: string): string {
  return `${agentId}\u0000${tool}`;
}
