/** The run ledger in memory (tests, dev); the base of the JSONL backend. */
import { RowStore } from "../row-store.js";
import { clampLimit, compareRuns, deriveRun, isTerminal, makeTransition, matchesQuery } from "../../jobs/ledger-rules.js";
import { ABANDONED } from "../../jobs/ledger-store.js";
import type { JobLease, JobLedgerStore, JobRow, JobRun, JobRunHeader, JobRunQuery, JobStatus, JobTransition, NewTransition, StartOutcome } from "../../jobs/ledger-store.js";

export class MemoryJobLedgerStore extends RowStore<JobRow> implements JobLedgerStore {
  readonly backendName: string = "MemoryJobLedgerStore";
  protected readonly headers = new Map<string, JobRunHeader>();
  protected readonly byKey = new Map<string, string>();
  protected readonly transitionsOf = new Map<string, JobTransition[]>();
  protected readonly leases = new Map<string, JobLease>();

  /** Applies a row already persisted (or being loaded). */
  protected apply(row: JobRow): void {
    switch (row.kind) {
      case "run":
        this.headers.set(row.data.id, row.data);
        this.byKey.set(row.data.key, row.data.id);
        if (!this.transitionsOf.has(row.data.id)) this.transitionsOf.set(row.data.id, []);
        return;
      case "transition": {
        const list = this.transitionsOf.get(row.data.run_id) ?? [];
        if (!list.some((t) => t.n === row.data.n)) list.push(row.data);
        list.sort((a, b) => a.n - b.n);
        this.transitionsOf.set(row.data.run_id, list);
        return;
      }
      case "lease":
        if (row.data.released) this.leases.delete(row.data.run_id);
        else this.leases.set(row.data.run_id, row.data);
    }
  }

  protected rows(): JobRow[] {
    const out: JobRow[] = [];
    for (const h of this.headers.values()) {
      out.push({ kind: "run", data: h });
      for (const t of this.transitionsOf.get(h.id) ?? []) out.push({ kind: "transition", data: t });
    }
    for (const l of this.leases.values()) out.push({ kind: "lease", data: l });
    return out;
  }

  protected liveCount(): number {
    let n = this.headers.size + this.leases.size;
    for (const ts of this.transitionsOf.values()) n += ts.length;
    return n;
  }

  private async write(rows: JobRow[]): Promise<void> {
    await this.persist(rows);
    for (const r of rows) this.apply(r);
  }

  private view(id: string): JobRun | null {
    const h = this.headers.get(id);
    return h ? deriveRun(h, this.transitionsOf.get(id) ?? [], this.leases.get(id)) : null;
  }

  /** The rows of a transition: the transition, and a lease tombstone when it ends the run. */
  private transitionRows(run: JobRun, t: NewTransition, now: Date): JobRow[] {
    const rows: JobRow[] = [{ kind: "transition", data: makeTransition(run.id, run.transitions.length + 1, t, now) }];
    const lease = this.leases.get(run.id);
    if (lease && isTerminal(t.status)) rows.push({ kind: "lease", data: { ...lease, released: true } });
    return rows;
  }

  createRun(header: JobRunHeader, now: Date): Promise<{ run: JobRun; created: boolean }> {
    return this.exclusive(async () => {
      const existing = this.byKey.get(header.key);
      if (existing) return { run: this.view(existing)!, created: false };
      await this.write([{ kind: "run", data: header }, { kind: "transition", data: makeTransition(header.id, 1, { status: "queued" }, now) }]);
      return { run: this.view(header.id)!, created: true };
    });
  }

  async get(id: string): Promise<JobRun | null> {
    return this.view(id);
  }

  async getByKey(key: string): Promise<JobRun | null> {
    const id = this.byKey.get(key);
    return id ? this.view(id) : null;
  }

  async list(q: JobRunQuery): Promise<JobRun[]> {
    const all = [...this.headers.values()].sort(compareRuns(q.order));
    const out: JobRun[] = [];
    const limit = clampLimit(q.limit);
    for (const h of all) {
      const run = this.view(h.id)!;
      if (!matchesQuery(run, q)) continue;
      out.push(run);
      if (out.length >= limit) break;
    }
    return out;
  }

  startRun(id: string, lease: { holder: string; lease_until: string; skipIfRunning: boolean; node_id?: string }, now: Date): Promise<StartOutcome> {
    return this.exclusive(async () => {
      const run = this.view(id);
      if (!run || run.status !== "queued") return null;
      const busy = lease.skipIfRunning && [...this.leases.values()].some((l) => l.task_id === run.task_id && l.run_id !== id && Date.parse(l.lease_until) > now.getTime());
      const node = lease.node_id !== undefined ? { node_id: lease.node_id } : {};
      if (busy) {
        await this.write(this.transitionRows(run, { status: "skipped", reason: "overlap", ...node }, now));
        return { run: this.view(id)!, started: false };
      }
      await this.write([
        ...this.transitionRows(run, { status: "running", ...node }, now),
        { kind: "lease", data: { run_id: id, task_id: run.task_id, holder: lease.holder, lease_until: lease.lease_until } },
      ]);
      return { run: this.view(id)!, started: true };
    });
  }

  transition(id: string, from: JobStatus[], t: NewTransition, now: Date): Promise<JobRun | null> {
    return this.exclusive(async () => {
      const run = this.view(id);
      if (!run || !from.includes(run.status)) return null;
      await this.write(this.transitionRows(run, t, now));
      return this.view(id);
    });
  }

  renewLease(id: string, holder: string, leaseUntil: string): Promise<{ held: boolean; cancelRequested: boolean }> {
    return this.exclusive(async () => {
      const lease = this.leases.get(id);
      if (!lease || lease.holder !== holder) return { held: false, cancelRequested: false };
      await this.write([{ kind: "lease", data: { ...lease, lease_until: leaseUntil } }]);
      return { held: true, cancelRequested: lease.cancel_requested_at !== undefined };
    });
  }

  requestCancel(id: string, now: Date): Promise<JobRun | null> {
    return this.exclusive(async () => {
      const run = this.view(id);
      if (!run) return null;
      if (run.status === "queued") await this.write(this.transitionRows(run, { status: "canceled", reason: "canceled" }, now));
      const lease = this.leases.get(id);
      if (run.status === "running" && lease && lease.cancel_requested_at === undefined) {
        await this.write([{ kind: "lease", data: { ...lease, cancel_requested_at: now.toISOString() } }]);
      }
      return this.view(id);
    });
  }

  sweepExpired(now: Date, nodeId?: string): Promise<JobRun[]> {
    return this.exclusive(async () => {
      const out: JobRun[] = [];
      for (const lease of [...this.leases.values()]) {
        if (Date.parse(lease.lease_until) >= now.getTime()) continue;
        const run = this.view(lease.run_id);
        if (!run || run.status !== "running") continue;
        const t: NewTransition = { status: "failed", error_code: ABANDONED, error_message: `lease of ${lease.holder} expired at ${lease.lease_until}`, ...(nodeId ? { node_id: nodeId } : {}) };
        await this.write(this.transitionRows(run, t, now));
        out.push(this.view(run.id)!);
      }
      return out;
    });
  }

  async exportRows(): Promise<JobRow[]> {
    return this.rows();
  }

  importRows(rows: JobRow[]): Promise<void> {
    return this.exclusive(async () => {
      const fresh = rows.filter((r) => {
        if (r.kind === "run") return !this.headers.has(r.data.id) && !this.byKey.has(r.data.key);
        if (r.kind === "transition") return !(this.transitionsOf.get(r.data.run_id) ?? []).some((t) => t.n === r.data.n);
        return true;
      });
      await this.write(fresh);
    });
  }

  protected reset(): void {
    for (const m of [this.headers, this.byKey, this.transitionsOf, this.leases]) m.clear();
  }
}
