import type { ErrorCode } from "../../errors.js";
import type { BaseStore, Replayable } from "../types.js";

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
  /** Default 100, at most 10,000. Oldest first (so exports read in order) unless `newest_first`. */
  limit?: number;
  /** Newest first: the latest `limit` records, most recent at the top (audit_tool.query). */
  newest_first?: boolean;
}

export type AuditRow = { kind: "audit"; data: AuditRecord };

export interface AuditStore extends BaseStore, Replayable<AuditRow> {
  append(records: AuditRecord[]): Promise<void>;
  query(q: AuditQuery): Promise<AuditRecord[]>;
  purgeOlderThan(cutoff: Date): Promise<number>;
}
