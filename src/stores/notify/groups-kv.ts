/**
 * Alert groups in a JetStream KV bucket (`<STREAMPREFIX>_NOTIFY_GROUPS`): one key per group
 * (`grp-<hash>`), its state as JSON, replicated like the streams. Writes and deletes are
 * compare-and-set on the key's revision. Every notifier watches the bucket (one ordered consumer),
 * so its flush sweep finds due groups in memory instead of listing keys each second; a copy a
 * revision behind only costs a failed compare-and-set and a fresh read.
 */
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import type { QueuedIterator } from "@nats-io/nats-core";
import { Kvm, type KV, type KvEntry } from "@nats-io/kv";
import type { Logger } from "../../log.js";
import { isWrongSequence } from "../../nats/kv-errors.js";
import { GroupConflict, isDueOrPending, type GroupStore, type StoredGroup } from "../../notify/group-store.js";
import type { GroupState } from "../../notify/groups.js";

const REWATCH_DELAY_MS = 1_000;
const dec = new TextDecoder();

export interface KvGroupStoreOptions {
  js: JetStreamClient;
  jsm: JetStreamManager;
  bucket: string;
  replicas: number;
  logger: Logger;
}

function stateOf(data: Uint8Array): GroupState | null {
  try {
    const s = JSON.parse(dec.decode(data)) as GroupState;
    return s && typeof s.id === "string" && typeof s.next_flush_at === "string" && s.alerts && typeof s.alerts === "object" ? s : null;
  } catch {
    return null;
  }
}

/** Creates the bucket if missing (like the sent-log) and starts watching it. */
export async function openKvGroupStore(o: KvGroupStoreOptions): Promise<KvGroupStore> {
  const kv = await new Kvm(o.js).create(o.bucket, {
    history: 1,
    replicas: o.replicas,
    description: "opsbus alert groups (routes with notify: alert_groups): one key per group, its alerts and flush state",
  });
  const store = new KvGroupStore(kv, o.logger.child({ component: "notify-groups", bucket: o.bucket }));
  store.startWatching();
  return store;
}

export class KvGroupStore implements GroupStore {
  readonly backendName = "KvGroupStore";
  private readonly seen = new Map<string, StoredGroup>();
  private watcher: QueuedIterator<KvEntry> | null = null;
  private watching: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly kv: KV,
    private readonly log: Logger,
  ) {}

  startWatching(): void {
    this.watching = this.watchLoop();
  }

  private async watchLoop(): Promise<void> {
    while (!this.closed) {
      try {
        const w = await this.kv.watch();
        this.watcher = w;
        if (this.closed) w.stop();
        for await (const e of w) this.apply(e.key, e.operation === "PUT" ? e : null, e.revision);
      } catch (err) {
        if (!this.closed) this.log.warn({ err }, "alert-group watch failed; starting it again");
      }
      this.watcher = null;
      if (!this.closed) await new Promise((r) => setTimeout(r, REWATCH_DELAY_MS));
    }
  }

  /** Keeps the newest revision seen of a key (own writes arrive first, the watch's copy later). */
  private apply(key: string, e: KvEntry | null, revision: number): void {
    const held = this.seen.get(key);
    if (held && held.revision >= revision) return;
    if (!e) return void this.seen.delete(key);
    const state = stateOf(e.value);
    if (state) this.seen.set(key, { state, revision });
  }

  async get(id: string): Promise<StoredGroup | null> {
    const e = await this.kv.get(id);
    if (!e || e.operation !== "PUT") return null;
    const state = stateOf(e.value);
    return state ? { state, revision: e.revision } : null;
  }

  async put(state: GroupState, expectRevision: number): Promise<number> {
    const data = JSON.stringify(state);
    try {
      const revision = expectRevision === 0 ? await this.kv.create(state.id, data) : await this.kv.update(state.id, data, expectRevision);
      const held = this.seen.get(state.id);
      if (!held || held.revision < revision) this.seen.set(state.id, { state, revision });
      return revision;
    } catch (err) {
      throw isWrongSequence(err) ? new GroupConflict(state.id) : err;
    }
  }

  async delete(id: string, expectRevision: number): Promise<void> {
    try {
      await this.kv.delete(id, { previousSeq: expectRevision });
    } catch (err) {
      throw isWrongSequence(err) ? new GroupConflict(id) : err;
    }
    const held = this.seen.get(id);
    if (held && held.revision <= expectRevision) this.seen.delete(id);
  }

  async due(now: Date): Promise<StoredGroup[]> {
    return [...this.seen.values()].filter((s) => isDueOrPending(s, now));
  }

  async close(): Promise<void> {
    this.closed = true;
    this.watcher?.stop();
    await this.watching;
  }
}
