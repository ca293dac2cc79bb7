import type { ErrorCode } from "../errors.js";
import type { BaseStore, Replayable } from "../util/store-port.js";

export interface AuditRecord {
  id: string;
  ts: string;
  /** Who called: the key's agent where auth is enforced, else the body's agent_id (or `anonymous`). */
  agent_id: string;
  role: string;
  tool: string;
  action: string;
  decision: "allow" | "deny";
  /** `ok` or the error code of the reply. */
  status: "ok" | ErrorCode;
  duration_ms: number;
  /** Params with secret-looking keys replaced by `***` and long values cut. */
  params: Record<string, unknown>;
  error_message?: string;
  /** e.g. `nats`, `http`, `scheduler`. */
  channel: string;
  node_id: string;
  request_id?: string;
}

export interface AuditQuery {
  since?: string;
  until?: string;
  agent_id?: string;
  tool?: string;
  action?: string;
  decision?: "allow" | "deny";
  status?: string;
  /** Only calls that came in on this channel (`nats`, `http`, `console`, `scheduler`, …). */
  channel?: string;
  /** Default 100, at most 10,000. Oldest first (so exports read in order) unless `newest_first`. */
  limit?: number;
  /** Newest first: the latest `limit` records, most recent at the top (audit_tool.query). */
  newest_first?: boolean;
}

export const AUDIT_QUERY_BOUNDS = { defaultLimit: 100, maxLimit: 10_000 } as const;

export function auditLimit(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit)) return AUDIT_QUERY_BOUNDS.defaultLimit;
  return Math.max(0, Math.min(Math.floor(limit), AUDIT_QUERY_BOUNDS.maxLimit));
}

/** `since` is inclusive and `until` exclusive, so consecutive windows never overlap. */
export function auditMatches(r: AuditRecord, q: AuditQuery): boolean {
  const ts = Date.parse(r.ts);
  if (q.since !== undefined && ts < Date.parse(q.since)) return false;
  if (q.until !== undefined && ts >= Date.parse(q.until)) return false;
  if (q.agent_id !== undefined && r.agent_id !== q.agent_id) return false;
  if (q.tool !== undefined && r.tool !== q.tool) return false;
  if (q.action !== undefined && r.action !== q.action) return false;
  if (q.decision !== undefined && r.decision !== q.decision) return false;
  if (q.status !== undefined && r.status !== q.status) return false;
  if (q.channel !== undefined && r.channel !== q.channel) return false;
  return true;
}

export type AuditRow = { kind: "audit"; data: AuditRecord };

export interface AuditStore extends BaseStore, Replayable<AuditRow> {
  append(records: AuditRecord[]): Promise<void>;
  query(q: AuditQuery): Promise<AuditRecord[]>;
  purgeOlderThan(cutoff: Date): Promise<number>;
}
