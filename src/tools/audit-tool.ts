/** `audit_tool`: read, export and prune the gateway's audit log. */
import { createHash } from "node:crypto";
import { z } from "zod";
import { ERROR_CODES } from "../errors.js";
import type { AuditQuery, AuditRecord, AuditStore } from "../audit/store.js";
import { unstorableReason } from "../util/storable.js";
import { action, type ToolDef } from "./types.js";

/** Bounds of the audit tool's answers. */
export const AUDIT_TOOL_BOUNDS = {
  maxQueryLimit: 10_000,
  defaultQueryLimit: 100,
  defaultExportLimit: 1_000,
  /** Keeps an export reply well under the NATS default max_payload of 1 MiB. */
  maxExportBytes: 768 * 1024,
  /** How many records a dry-run cleanup counts before answering "at least". */
  maxDryRunCount: 10_000,
  /** Cleanup ages above this (100 years) make no sense and would overflow the date arithmetic. */
  maxCleanupDays: 36_500,
} as const;

/** An audit record's status: `ok` or the error code the call ended with. */
const AUDIT_STATUSES = ["ok", ...ERROR_CODES] as const;
const isoTime = z.iso.datetime({ offset: true });
const window = {
  since: isoTime.optional().describe("inclusive lower bound of ts (ISO 8601)"),
  until: isoTime.optional().describe("upper bound of ts (ISO 8601)"),
};

/**
 * A filter value: text a stored record can hold. A NUL or lone surrogate can match nothing (the
 * audit stores them replaced), and Postgres refuses it as a query parameter: invalid_request.
 */
const filterText = z
  .string()
  .min(1)
  .max(512)
  .superRefine((s, ctx) => {
    const why = unstorableReason(s);
    if (why) ctx.addIssue({ code: "custom", message: why });
  });

const QueryParams = z.strictObject({
  ...window,
  agent_id: filterText.optional().describe("only calls by this agent; default all"),
  tool: filterText.optional().describe("only calls to this tool, e.g. oncall_tool; default all"),
  action: filterText.optional().describe("only calls of this action, e.g. incident_close; default all"),
  decision: z.enum(["allow", "deny"]).optional().describe("only calls RBAC allowed or denied; default both"),
  status: z.enum(AUDIT_STATUSES).optional().describe("only calls that ended so: ok or an error code; default all"),
  channel: filterText.optional().describe("only calls that came in on this channel: nats, http, console, scheduler, …; default all"),
  limit: z
    .number()
    .int()
    .min(1)
    .max(AUDIT_TOOL_BOUNDS.maxQueryLimit)
    .default(AUDIT_TOOL_BOUNDS.defaultQueryLimit)
    .describe("how many records: the newest ones matching, newest first"),
});

const ExportParams = z.strictObject({
  ...window,
  limit: z
    .number()
    .int()
    .min(1)
    .max(AUDIT_TOOL_BOUNDS.maxQueryLimit)
    .default(AUDIT_TOOL_BOUNDS.defaultExportLimit)
    .describe(`most records in one export (1–${AUDIT_TOOL_BOUNDS.maxQueryLimit}); default ${AUDIT_TOOL_BOUNDS.defaultExportLimit}`),
});

export interface AuditToolDeps {
  audit: AuditStore;
  /** `data_governance.retention.audit_days`: the default age for cleanup. */
  retentionDays: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** Drops undefined fields, so optional params never reach the store as explicit undefined. */
function definedOnly<T extends object>(obj: T): T {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as T;
}

/**
 * NDJSON of `records` in order, stopping before the byte budget; `next_since` is where the
 * next export should start when the answer is truncated.
 */
function toNdjson(records: AuditRecord[], limit: number) {
  const lines: string[] = [];
  let bytes = 0;
  for (const record of records) {
    const line = `${JSON.stringify(record)}\n`;
    const size = Buffer.byteLength(line, "utf8");
    if (bytes + size > AUDIT_TOOL_BOUNDS.maxExportBytes) break;
    lines.push(line);
    bytes += size;
  }
  const ndjson = lines.join("");
  const next = records[lines.length];
  const truncated = lines.length < records.length || records.length >= limit;
  return {
    ndjson,
    sha256: createHash("sha256").update(ndjson, "utf8").digest("hex"),
    count: lines.length,
    truncated,
    ...(truncated ? { next_since: next?.ts ?? records.at(-1)?.ts } : {}),
  };
}

export function createAuditTool(deps: AuditToolDeps): ToolDef {
  return {
    name: "audit_tool",
    description: "The audit log of every tool call: query, NDJSON export with sha256, retention cleanup.",
    actions: {
      query: action({
        entitlement: "tools.audit.read",
        description: "The newest audit records matching the filters, newest first (use export for a window in time order).",
        params: QueryParams,
        async handler(p) {
          const records = await deps.audit.query({ ...definedOnly<AuditQuery>(p), newest_first: true });
          return { records, count: records.length, truncated: records.length >= p.limit };
        },
      }),
      export: action({
        entitlement: "tools.audit.read",
        description:
          "NDJSON of the audit records in a time window, oldest first, with its sha256. " +
          "When truncated, call again with since = next_since (records at that instant may repeat).",
        params: ExportParams,
        async handler(p) {
          const records = await deps.audit.query(definedOnly<AuditQuery>(p));
          return toNdjson(records, p.limit);
        },
      }),
      cleanup: action({
        entitlement: "tools.audit.admin",
        description: "Deletes audit records older than older_than_days (default: the retention policy); dry_run only counts.",
        params: z.strictObject({
          older_than_days: z
            .number()
            .int()
            .min(1)
            .max(AUDIT_TOOL_BOUNDS.maxCleanupDays)
            .default(deps.retentionDays)
            .describe(`delete records older than this many days (1..${AUDIT_TOOL_BOUNDS.maxCleanupDays}; default: the retention policy)`),
          dry_run: z.boolean().default(false).describe("count what would be deleted, delete nothing; default false"),
        }),
        async handler(p, helpers) {
          const cutoff = new Date(helpers.now().getTime() - p.older_than_days * DAY_MS);
          const base = { cutoff: cutoff.toISOString(), older_than_days: p.older_than_days, dry_run: p.dry_run };
          if (p.dry_run) {
            const max = AUDIT_TOOL_BOUNDS.maxDryRunCount;
            const matching = await deps.audit.query({ until: cutoff.toISOString(), limit: max });
            return { ...base, would_delete: matching.length, at_least: matching.length >= max };
          }
          const deleted = await deps.audit.purgeOlderThan(cutoff);
          helpers.logger.info({ deleted, cutoff: base.cutoff }, "audit cleanup");
          return { ...base, deleted };
        },
      }),
    },
  };
}
