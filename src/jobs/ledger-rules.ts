/** Pure helpers every ledger backend shares, so memory, JSONL and Postgres answer identically. */
import { createHash } from "node:crypto";
import type { JobLease, JobRow, JobRun, JobRunHeader, JobRunQuery, JobStatus, JobTransition, NewTransition } from "./ledger-store.js";
import { TERMINAL_STATUSES } from "./ledger-store.js";

export const LEDGER_BOUNDS = { defaultLimit: 50, maxLimit: 10_000 } as const;

export function clampLimit(limit: number | undefined): number {
  return Math.min(Math.max(1, Math.floor(limit ?? LEDGER_BOUNDS.defaultLimit)), LEDGER_BOUNDS.maxLimit);
}

export const isTerminal = (s: JobStatus): boolean => TERMINAL_STATUSES.includes(s);

/** JSON with object keys sorted, so equal values hash equally whatever their key order. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
}

export function inputsHash(inputs: unknown): string {
  return createHash("sha256").update(canonicalJson(inputs)).digest("hex");
}

/** Transition `n` of a run, without undefined fields (so every backend stores the same shape). */
export function makeTransition(runId: string, n: number, t: NewTransition, now: Date): JobTransition {
  const out: JobTransition = { run_id: runId, n, status: t.status, at: now.toISOString() };
  if (t.reason !== undefined) out.reason = t.reason;
  if (t.error_code !== undefined) out.error_code = t.error_code;
  if (t.error_message !== undefined) out.error_message = t.error_message;
  if (t.outputs !== undefined) out.outputs = t.outputs;
  if (t.node_id !== undefined) out.node_id = t.node_id;
  return out;
}

/** The current state of a run from its header, its transitions (any order) and its lease. */
export function deriveRun(header: JobRunHeader, transitions: JobTransition[], lease?: JobLease): JobRun {
  const ts = [...transitions].sort((a, b) => a.n - b.n);
  const last = ts.at(-1);
  const started = ts.find((t) => t.status === "running");
  const run: JobRun = {
    ...header,
    status: last?.status ?? "queued",
    updated_at: last?.at ?? header.created_at,
    cancel_requested: lease?.cancel_requested_at !== undefined,
    transitions: ts,
  };
  if (started) run.started_at = started.at;
  if (last && isTerminal(last.status)) {
    run.finished_at = last.at;
    run.duration_ms = Date.parse(last.at) - Date.parse(started?.at ?? header.created_at);
    for (const k of ["reason", "error_code", "error_message", "outputs"] as const) {
      if (last[k] !== undefined) (run as unknown as Record<string, unknown>)[k] = last[k];
    }
  }
  return run;
}

export function matchesQuery(run: JobRun, q: JobRunQuery): boolean {
  if (q.task_id !== undefined && run.task_id !== q.task_id) return false;
  if (q.status !== undefined && !q.status.includes(run.status)) return false;
  if (q.dry_run !== undefined && run.dry_run !== q.dry_run) return false;
  if (q.since !== undefined && Date.parse(run.created_at) < Date.parse(q.since)) return false;
  if (q.until !== undefined && Date.parse(run.created_at) >= Date.parse(q.until)) return false;
  if (q.slot_since !== undefined && Date.parse(run.slot) < Date.parse(q.slot_since)) return false;
  if (q.slot_until !== undefined && Date.parse(run.slot) >= Date.parse(q.slot_until)) return false;
  return true;
}

/** Newest created first (ties by id), or oldest first for `asc`. */
export function compareRuns(order: "asc" | "desc" = "desc") {
  const sign = order === "asc" ? 1 : -1;
  return (a: JobRunHeader, b: JobRunHeader): number => {
    const d = Date.parse(a.created_at) - Date.parse(b.created_at);
    if (d !== 0) return sign * d;
    return sign * (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  };
}

export function jobRowKey(row: JobRow): string {
  switch (row.kind) {
    case "run":
      return `run:${row.data.id}`;
    case "transition":
      return `transition:${row.data.run_id}:${row.data.n}`;
    case "lease":
      return `lease:${row.data.run_id}`;
  }
}

/** The rows of a run as a ledger export carries them: header then transitions. */
export function rowsOfRun(run: JobRun): JobRow[] {
  const { status: _s, updated_at: _u, started_at: _st, finished_at: _f, duration_ms: _d, reason: _r, error_code: _e, error_message: _m, outputs: _o, cancel_requested: _c, transitions, ...header } = run;
  return [{ kind: "run", data: header }, ...transitions.map((t): JobRow => ({ kind: "transition", data: t }))];
}

/** A slot as runs and Nats-Msg-Ids carry it: ISO UTC to the second, no milliseconds. */
export function slotIso(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}
