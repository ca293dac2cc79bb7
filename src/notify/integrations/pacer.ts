/**
 * Spacing of sends to one destination within the process: each send takes the next free slot,
 * at least `intervalMs` after the one before (Slack's incoming webhooks take one message per
 * second). Time is injected, so tests run without waiting.
 */
import { setTimeout as sleep } from "node:timers/promises";

export interface PaceClock {
  now(): number;
  /** Resolves after `ms`; rejects when `signal` aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const realClock: PaceClock = {
  now: () => Date.now(),
  sleep: (ms, signal) => sleep(ms, undefined, signal ? { signal } : {}),
};

export class Pacer {
  private next = 0;

  constructor(
    readonly intervalMs: number,
    private readonly clock: PaceClock = realClock,
  ) {}

  /** Waits for this send's slot; false when `signal` aborted first (the slot is spent). */
  async turn(signal?: AbortSignal): Promise<boolean> {
    const now = this.clock.now();
    const at = Math.max(now, this.next);
    this.next = at + this.intervalMs;
    if (at <= now) return !signal?.aborted;
    try {
      await this.clock.sleep(at - now, signal);
      return true;
    } catch {
      return false;
    }
  }

  /** The destination asked for a pause (429 Retry-After): no slot before `now + ms`. */
  holdFor(ms: number): void {
    this.next = Math.max(this.next, this.clock.now() + ms);
  }
}

/** One pacer per destination key (a webhook URL), shared by every receiver sending there. */
export class Pacers {
  private readonly byKey = new Map<string, Pacer>();

  constructor(
    private readonly intervalMs: number,
    private readonly clock: PaceClock = realClock,
  ) {}

  of(key: string): Pacer {
    let p = this.byKey.get(key);
    if (!p) this.byKey.set(key, (p = new Pacer(this.intervalMs, this.clock)));
    return p;
  }
}

/** Slack: one message per second per incoming webhook, process-wide. */
export const SLACK_INTERVAL_MS = 1000;
export const slackPacers = new Pacers(SLACK_INTERVAL_MS);
