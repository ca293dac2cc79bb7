/**
 * `auto`: a store that runs on Postgres and falls back to a local store (JSONL) while Postgres is
 * unreachable, then replays what the fallback took into Postgres once it answers again.
 *
 * - Start: primary.init() (migrations); a connection error there means "start on the fallback".
 *   Rows a previous process left in the fallback (it died during an outage) are replayed first.
 * - A call on the primary that fails with a connection error switches to the fallback and runs
 *   again there; any other error is the caller's.
 * - While on the fallback, a timer pings the primary every `retryIntervalMs`. When it answers, new
 *   calls wait, running calls finish, the fallback's rows are imported into the primary and the
 *   fallback emptied, then calls go to the primary again. A row Postgres refuses for good (its
 *   data: NUL, invalid text, a constraint) is found by splitting the import in halves and set
 *   aside in a quarantine file (logged), so one bad row never keeps the store on the fallback.
 *   A replay that fails otherwise (Postgres gone again, a missing table) keeps the fallback (its
 *   rows intact) and is tried again on the next tick.
 *
 * Limits, by design: during an outage reads only see the fallback (what was written since the
 * outage began), and the fallback does not know Postgres' dedupe state or receipts, so an alert
 * already open in Postgres opens a second alert in the fallback. A call whose COMMIT reached
 * Postgres just before the connection broke is run again on the fallback.
 */
import { dirname, join } from "node:path";
import type { Logger } from "../log.js";
import { DeadLetterFile } from "../util/dead-letter.js";
import { isConnectionError } from "./pg.js";
import { describeStoreError, isRecordError } from "../util/storable.js";
import type { BaseStore, Pingable, Replayable } from "../util/store-port.js";

export type ReplayableStore = BaseStore & Replayable<unknown>;

export interface AutoStoreOptions<S extends ReplayableStore> {
  /** Logged as `<storeName>_store: using <backendName>`, e.g. `alert`. */
  storeName: string;
  /** Not yet initialised; auto calls init() (and again after an outage at start). */
  primary: S & Pingable;
  /** Builds the fallback (not yet initialised; auto calls init()). Called once, when first needed. */
  fallback: () => Promise<S>;
  logger: Logger;
  retryIntervalMs: number;
  /**
   * Where replay puts rows Postgres refuses, e.g. `<DATA_DIR>/dead-letter/<store>-replay.jsonl`.
   * Default: `quarantine.jsonl` beside the fallback's file (when it has a `path`), else the
   * rows are only logged.
   */
  quarantinePath?: string;
}

class AutoController<S extends ReplayableStore> {
  current: S;
  private fallbackStore: Promise<S> | undefined;
  private primaryReady = false;
  private gate: Promise<void> | undefined;
  private inflight = 0;
  private idleWaiters: Array<() => void> = [];
  private switching: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private ticking = false;
  private closed = false;

  constructor(private readonly o: AutoStoreOptions<S>) {
    this.current = o.primary;
  }

  private get name(): string {
    return `${this.o.storeName}_store`;
  }

  private announce(extra: Record<string, unknown> = {}): void {
    this.o.logger.info({ store: this.o.storeName, backend: this.current.backendName, ...extra }, `${this.name}: using ${this.current.backendName}`);
  }

  async start(): Promise<void> {
    try {
      await this.o.primary.init();
      this.primaryReady = true;
    } catch (err) {
      if (!isConnectionError(err)) throw err;
      this.o.logger.warn({ err, store: this.o.storeName }, `${this.name}: ${this.o.primary.backendName} unreachable at start`);
      this.current = await this.fallback();
      this.announce();
      this.startTimer();
      return;
    }
    let leftover = 0;
    try {
      leftover = (await (await this.fallback()).exportRows()).length;
    } catch (err) {
      this.o.logger.warn({ err, store: this.o.storeName }, `${this.name}: could not open the fallback store`);
    }
    if (leftover === 0) return this.announce();
    // A previous process wrote to the fallback and did not get to replay it: do that first.
    this.current = await this.fallback();
    this.o.logger.info({ store: this.o.storeName, rows: leftover }, `${this.name}: ${leftover} rows left in the fallback`);
    if (!(await this.replay())) {
      this.announce();
      this.startTimer();
    }
  }

  private fallback(): Promise<S> {
    this.fallbackStore ??= this.o.fallback().then(async (s) => {
      await s.init();
      return s;
    });
    this.fallbackStore.catch(() => (this.fallbackStore = undefined));
    return this.fallbackStore;
  }

  /** Runs `method` on the current backend, moving to the fallback when the primary is down. */
  async call(method: PropertyKey, args: unknown[]): Promise<unknown> {
    for (;;) {
      while (this.gate) await this.gate;
      const target = this.current;
      let lost: unknown;
      this.inflight++;
      try {
        return await (target as unknown as Record<PropertyKey, (...a: unknown[]) => Promise<unknown>>)[method]!(...args);
      } catch (err) {
        if (target !== this.o.primary || !isConnectionError(err)) throw err;
        lost = err;
      } finally {
        this.inflight--;
        if (this.inflight === 0) this.idleWaiters.splice(0).forEach((wake) => wake());
      }
      await this.toFallback(lost);
    }
  }

  private toFallback(err: unknown): Promise<void> {
    if (this.current !== this.o.primary) return Promise.resolve();
    this.switching ??= (async () => {
      this.o.logger.warn({ err, store: this.o.storeName }, `${this.name}: ${this.o.primary.backendName} unreachable, switching to the fallback`);
      this.current = await this.fallback();
      this.announce();
      this.startTimer();
    })().finally(() => (this.switching = undefined));
    return this.switching;
  }

  private startTimer(): void {
    if (this.timer || this.closed) return;
    this.timer = setInterval(() => void this.tick(), this.o.retryIntervalMs);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    if (this.ticking || this.closed || this.current === this.o.primary) return;
    this.ticking = true;
    try {
      await this.o.primary.ping();
      if (!this.primaryReady) {
        await this.o.primary.init();
        this.primaryReady = true;
      }
      await this.replay();
    } catch (err) {
      this.o.logger.debug({ err, store: this.o.storeName }, `${this.name}: ${this.o.primary.backendName} still unreachable`);
    } finally {
      this.ticking = false;
    }
  }

  /** Moves the fallback's rows into the primary and switches to it; false if that failed. */
  private async replay(): Promise<boolean> {
    if (this.closed) return false;
    const fallback = this.current;
    let open!: () => void;
    this.gate = new Promise<void>((resolve) => (open = resolve));
    try {
      if (this.inflight > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
      const rows = await fallback.exportRows();
      const quarantined = await this.importIsolating(rows, fallback);
      await fallback.clearRows();
      this.current = this.o.primary;
      if (this.timer) clearInterval(this.timer);
      this.timer = undefined;
      this.o.logger.info(
        { store: this.o.storeName, rows: rows.length, quarantined },
        `${this.name}: replayed ${rows.length - quarantined} rows from ${fallback.backendName} into ${this.o.primary.backendName}` +
          (quarantined ? `, ${quarantined} quarantined` : ""),
      );
      this.announce({ replayed: rows.length - quarantined });
      return true;
    } catch (err) {
      this.o.logger.warn({ err, store: this.o.storeName }, `${this.name}: replay into ${this.o.primary.backendName} failed; staying on ${fallback.backendName}`);
      return false;
    } finally {
      this.gate = undefined;
      open();
    }
  }

  /**
   * Imports `rows` in order; a part Postgres refuses for its data is halved until the refused rows
   * are single ones, which go to the quarantine file. Returns how many were quarantined; throws on
   * any other failure (the replay is retried whole: imports are idempotent).
   */
  private async importIsolating(rows: unknown[], fallback: S): Promise<number> {
    try {
      await this.o.primary.importRows(rows);
      return 0;
    } catch (err) {
      if (isConnectionError(err) || !isRecordError(err)) throw err;
      if (rows.length > 1) {
        const mid = rows.length >> 1;
        return (await this.importIsolating(rows.slice(0, mid), fallback)) + (await this.importIsolating(rows.slice(mid), fallback));
      }
      const reason = describeStoreError(err);
      const file = this.quarantineFile(fallback);
      await file?.write([{ source: `${this.name} replay`, reason, record: rows[0] }]);
      this.o.logger.error(
        { store: this.o.storeName, reason, ...(file ? { file: file.path } : { row: rows[0] }) },
        `${this.name}: ${this.o.primary.backendName} refused a row of the replay; quarantined`,
      );
      return 1;
    }
  }

  private quarantine: DeadLetterFile | undefined;

  private quarantineFile(fallback: S): DeadLetterFile | undefined {
    const fallbackPath = (fallback as { path?: unknown }).path;
    const path = this.o.quarantinePath ?? (typeof fallbackPath === "string" ? join(dirname(fallbackPath), "quarantine.jsonl") : undefined);
    if (path && this.quarantine?.path !== path) this.quarantine = new DeadLetterFile(path);
    return path ? this.quarantine : undefined;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    while (this.gate) await this.gate;
    const fallback = this.fallbackStore ? await this.fallbackStore.catch(() => undefined) : undefined;
    const stores: S[] = fallback ? [this.o.primary, fallback] : [this.o.primary];
    const results = await Promise.allSettled(stores.map((s) => s.close()));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
  }
}

/**
 * A store of type S whose methods run on Postgres or on the fallback, whichever is current;
 * `backendName` names the current one. Resolves once a backend is ready.
 */
export async function createAutoStore<S extends ReplayableStore>(opts: AutoStoreOptions<S>): Promise<S> {
  const ctl = new AutoController(opts);
  await ctl.start();
  const proxy = new Proxy({} as S, {
    get(_target, prop) {
      if (prop === "backendName") return ctl.current.backendName;
      if (prop === "init") return async () => {};
      if (prop === "close") return () => ctl.close();
      if (prop === "then") return undefined; // not a thenable
      const value = (ctl.current as unknown as Record<PropertyKey, unknown>)[prop];
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => ctl.call(prop, args);
    },
  });
  return proxy;
}
