/**
 * The run ledger of the job runner: append-only. A run's header (task, trigger, slot, inputs) is
 * written once; each status change is a new transition row (`n` = 1, 2, … per run); the current
 * state (status, duration, error, outputs) is derived from them (ledger-rules.ts). The only
 * mutable rows are leases: the lock of a running run (holder, expiry, cancel request), deleted
 * when the run ends; they are not part of the record.
 *
 * Idempotency: a run's `key` is unique: `<task_id>@<slot>` for scheduled runs, `token:<run_token>`
 * for manual ones with a token, `rerun:<run_id>` for a re-run; creating a run whose key exists
 * returns the existing run.
 */
import type { JobStatus } from "../subjects/jobs.js";
import type { BaseStore, Replayable } from "../util/store-port.js";

export { JOB_STATUSES, type JobStatus } from "../subjects/jobs.js";
export const TERMINAL_STATUSES: readonly JobStatus[] = ["succeeded", "failed", "canceled", "skipped"];

/** Why a run was skipped or failed without a tool error. */
export const SKIP_REASONS = ["overlap", "requires_unmet", "disabled", "dry_run_unsupported", "unknown_task", "forged"] as const;
export const ABANDONED = "abandoned";

export interface JobRunHeader {
  /** `job_<time><hex>` */
  id: string;
  task_id: string;
  trigger: "schedule" | "manual";
  /** The scheduled time (ISO UTC, no ms); for manual runs the time they were requested. */
  slot: string;
  key: string;
  run_token?: string;
  tool: string;
  action: string;
  inputs: Record<string, unknown>;
  /** sha256 of the canonical JSON of the effective params. */
  inputs_hash: string;
  dry_run: boolean;
  requested_by: string;
  /** The failed or canceled run this one repeats. */
  rerun_of?: string;
  created_at: string;
}

export interface JobTransition {
  run_id: string;
  /** 1 for `queued`, then 2, 3, … */
  n: number;
  status: JobStatus;
  at: string;
  reason?: string;
  error_code?: string;
  error_message?: string;
  outputs?: unknown;
  node_id?: string;
}

export interface JobLease {
  run_id: string;
  task_id: string;
  holder: string;
  lease_until: string;
  cancel_requested_at?: string;
  /** JSONL only: the tombstone appended when a run ends and its lease is dropped. */
  released?: true;
}

/** A run as readers see it: header plus the state its transitions give. */
export interface JobRun extends JobRunHeader {
  status: JobStatus;
  updated_at: string;
  started_at?: string;
  finished_at?: string;
  duration_ms?: number;
  reason?: string;
  error_code?: string;
  error_message?: string;
  outputs?: unknown;
  cancel_requested: boolean;
  transitions: JobTransition[];
}

export interface NewTransition {
  status: JobStatus;
  reason?: string;
  error_code?: string;
  error_message?: string;
  outputs?: unknown;
  node_id?: string;
}

export interface JobRunQuery {
  task_id?: string;
  status?: JobStatus[];
  /** created_at ≥ since, < until (ISO). */
  since?: string;
  until?: string;
  /** slot ≥ slot_since, < slot_until (ISO). */
  slot_since?: string;
  slot_until?: string;
  dry_run?: boolean;
  /** Default 50, at most 10,000. Newest created_at first (oldest first with `order: "asc"`). */
  limit?: number;
  order?: "asc" | "desc";
}

export type JobRow =
  | { kind: "run"; data: JobRunHeader }
  | { kind: "transition"; data: JobTransition }
  | { kind: "lease"; data: JobLease };

/** What `startRun` did: started it, skipped it (overlap), or nothing (not queued any more). */
export type StartOutcome = { run: JobRun; started: boolean } | null;

export interface JobLedgerStore extends BaseStore, Replayable<JobRow> {
  /** Records a queued run, or returns the run that holds its key (`created: false`). */
  createRun(header: JobRunHeader, now: Date): Promise<{ run: JobRun; created: boolean }>;
  get(id: string): Promise<JobRun | null>;
  getByKey(key: string): Promise<JobRun | null>;
  list(q: JobRunQuery): Promise<JobRun[]>;
  /**
   * Atomically, per task: a queued run becomes `running` with a lease, or `skipped` (overlap)
   * when `skipIfRunning` and another run of the task holds an unexpired lease. Null when the run
   * is not queued.
   */
  startRun(id: string, lease: { holder: string; lease_until: string; skipIfRunning: boolean; node_id?: string }, now: Date): Promise<StartOutcome>;
  /** Appends a transition if the run's status is one of `from`; null otherwise. Terminal → lease dropped. */
  transition(id: string, from: JobStatus[], t: NewTransition, now: Date): Promise<JobRun | null>;
  /** Extends the lease if `holder` still holds it; says whether a cancel was requested. */
  renewLease(id: string, holder: string, leaseUntil: string): Promise<{ held: boolean; cancelRequested: boolean }>;
  /** Queued → canceled; running → cancel requested on the lease; terminal → unchanged. */
  requestCancel(id: string, now: Date): Promise<JobRun | null>;
  /** Running runs whose lease expired before `now` become failed (error_code abandoned). */
  sweepExpired(now: Date, nodeId?: string): Promise<JobRun[]>;
}
