/**
 * Silences in a JetStream KV bucket (`<STREAMPREFIX>_SILENCES`, stream `KV_OPS_SILENCES`): one key
 * per silence id, the silence as JSON, `history` revisions kept per key, replicated like the
 * streams (`OPS_STREAM_REPLICAS`). Every process watches the bucket, so a write on one process
 * reaches every live copy within milliseconds; JetStream's file store keeps it through a kill -9
 * of any process or of nats-server. Writes are compare-and-set on the key's revision (the
 * stream sequence), so an expiry can never be overwritten by an update read before it.
 *
 * The watch is an ordered consumer, which nats.js recreates after a reconnect from the last
 * sequence it saw; if it ends anyway, it is started again from that sequence.
 */
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import { Kvm, type KV, type KvEntry } from "@nats-io/kv";
import type { QueuedIterator } from "@nats-io/nats-core";
import type { Logger } from "../../log.js";
import type { Silence } from "../../silences/silence.js";
import { SilenceConflict, SilenceView, type LiveCopyState, type SilenceChange, type SilenceStore, type StoredSilence } from "../../silences/store.js";
import { isWrongSequence } from "../../nats/kv-errors.js";

/** Revisions kept per silence: its edits and its expiry stay readable with `nats kv history`. */
export const SILENCE_HISTORY = 10;
/** How long opening waits for the bucket's current silences before refusing to start. */
const INITIAL_LOAD_TIMEOUT_MS = 15_000;
/** Before starting a watch that ended again, so a server that is down is not asked in a tight loop. */
const REWATCH_DELAY_MS = 500;

/** The bucket of a naming's stream prefix: `OPS_SILENCES` for `OPS`. */
export const silenceBucketName = (streamPrefix: string): string => `${streamPrefix}_SILENCES`;

export interface KvSilenceStoreOptions {
  js: JetStreamClient;
  jsm: JetStreamManager;
  bucket: string;
  replicas: number;
  logger: Logger;
}

function silenceOf(e: KvEntry): Silence | null {
  try {
    const s = e.json<Silence>();
    return s && typeof s.id === "string" && Array.isArray(s.matchers) && typeof s.starts_at === "string" && typeof s.ends_at === "string" ? s : null;
  } catch {
    return null;
  }
}

/** Creates the bucket if missing (like the streams at start-up), loads every silence, then keeps watching. */
export async function openKvSilenceStore(o: KvSilenceStoreOptions): Promise<KvSilenceStore> {
  const kv = await new Kvm(o.js).create(o.bucket, {
    history: SILENCE_HISTORY,
    replicas: o.replicas,
    description: "opsbus silences: one key per silence id; expiry sets ends_at, only retention deletes",
  });
  const stream = `KV_${o.bucket}`;
  const info = await o.jsm.streams.info(stream);
  // A bucket made by hand, or by an older opsbus, with too little history: raised, never lowered.
  if (info.config.max_msgs_per_subject > 0 && info.config.max_msgs_per_subject < SILENCE_HISTORY) {
    await o.jsm.streams.update(stream, { ...info.config, max_msgs_per_subject: SILENCE_HISTORY });
  }
  const store = new KvSilenceStore(kv, o.logger.child({ component: "silence-store", bucket: o.bucket }));
  await store.start(info.state.last_seq);
  return store;
}

export class KvSilenceStore implements SilenceStore {
  readonly backendName = "KvSilenceStore";
  private readonly view: SilenceView;
  private watcher: QueuedIterator<KvEntry> | null = null;
  private lastSeen = 0;
  /** True while a watch is open: health tells a feed that is down from one that is merely quiet. */
  private live = false;
  private closed = false;
  private watching: Promise<void> = Promise.resolve();

  constructor(
    private readonly kv: KV,
    private readonly log: Logger,
  ) {
    this.view = new SilenceView((err) => this.log.error({ err }, "a silence change listener failed"));
  }

  /** Resolves once every silence stored up to `lastSeq` is in the live copy. */
  async start(lastSeq: number): Promise<void> {
    let loaded!: () => void;
    const ready = new Promise<void>((resolve) => (loaded = resolve));
    const check = () => void (this.lastSeen >= lastSeq && loaded());
    check();
    this.watching = this.watchLoop(check);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`silences: the bucket's ${lastSeq} revisions did not load within ${INITIAL_LOAD_TIMEOUT_MS} ms`)), INITIAL_LOAD_TIMEOUT_MS);
    });
    try {
      await Promise.race([ready, timeout]);
    } catch (err) {
      await this.close();
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  private async watchLoop(onEntry: () => void): Promise<void> {
    while (!this.closed) {
      try {
        const w = await this.kv.watch(this.lastSeen > 0 ? { resumeFromRevision: this.lastSeen + 1 } : {});
        this.watcher = w;
        this.live = true;
        if (this.closed) w.stop();
        for await (const e of w) {
          this.lastSeen = Math.max(this.lastSeen, e.revision);
          this.applyEntry(e);
          onEntry();
        }
      } catch (err) {
        if (!this.closed) this.log.warn({ err }, "silence watch failed; starting it again");
      }
      this.watcher = null;
      this.live = false;
      if (!this.closed) await new Promise((r) => setTimeout(r, REWATCH_DELAY_MS));
    }
  }

  private applyEntry(e: KvEntry): void {
    if (e.operation !== "PUT") {
      this.view.apply({ kind: "removed", id: e.key, revision: e.revision });
      return;
    }
    const silence = silenceOf(e);
    if (!silence) return void this.log.error({ key: e.key, revision: e.revision }, "unreadable silence in the bucket; ignored");
    this.view.apply({ kind: "put", silence, revision: e.revision });
  }

  async put(silence: Silence, expectRevision: number): Promise<number> {
    const data = JSON.stringify(silence);
    let revision: number;
    try {
      revision = expectRevision === 0 ? await this.kv.create(silence.id, data) : await this.kv.update(silence.id, data, expectRevision);
    } catch (err) {
      if (isWrongSequence(err)) throw new SilenceConflict(silence.id, expectRevision);
      throw err;
    }
    // This process reads its own write at once; the watch delivers the same revision later and is ignored.
    this.view.apply({ kind: "put", silence: structuredClone(silence), revision });
    return revision;
  }

  async get(id: string): Promise<StoredSilence | null> {
    const e = await this.kv.get(id);
    if (!e || e.operation !== "PUT") return null;
    const silence = silenceOf(e);
    return silence ? { silence, revision: e.revision } : null;
  }

  list(): StoredSilence[] {
    return this.view.list();
  }

  async remove(id: string, expectRevision: number): Promise<boolean> {
    if (expectRevision <= 0) return false;
    try {
      await this.kv.purge(id, { previousSeq: expectRevision });
    } catch (err) {
      if (isWrongSequence(err)) return false;
      throw err;
    }
    return true;
  }

  current(): readonly Silence[] {
    return this.view.current();
  }

  async liveCopy(): Promise<LiveCopyState> {
    const stored = (await this.kv.status()).streamInfo.state.last_seq;
    return { applied: this.lastSeen, stored, watching: this.live };
  }

  onChange(cb: (change: SilenceChange) => void): () => void {
    return this.view.onChange(cb);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.watcher?.stop();
    await this.watching;
  }
}

