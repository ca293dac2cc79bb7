/**
 * Gate bypasses: who may skip a gate, and where a bypass is written down. The gateway's audit
 * record of the call only carries the params; a bypass also gets its own audit record
 * (action `release_check.bypass`), written before the answer, so a bypass that could not be
 * recorded does not happen. Open incidents of the service get a timeline note.
 */
import { OpsError, unavailable } from "../errors.js";
import { newId } from "../ids.js";
import { scrubSecrets, type Logger } from "../log.js";
import type { AuditRecord } from "../audit/store.js";
import type { IncidentRecord, IncidentStore } from "../incidents/store.js";
import { redactParams } from "../util/redact.js";
import type { BypassRecord, GateName, ReleaseCaller, ReleaseCheckResult } from "./types.js";

export const RELEASE_TOOL = "release_tool";
export const CHECK_ENTITLEMENT = "tools.release.check";
export const BYPASS_ENTITLEMENT = "tools.release.bypass";
/** The action of the dedicated audit record: `audit_tool query {"action":"release_check.bypass"}` finds every bypass. */
export const BYPASS_AUDIT_ACTION = "release_check.bypass";
/** Open incidents of the service that get the bypass note, most recent first. */
const MAX_NOTED_INCIDENTS = 20;

export interface BypassDeps {
  incidents: IncidentStore;
  /** Appends audit records durably (the audit store); a rejection refuses the bypass. */
  appendAudit(records: AuditRecord[]): Promise<void>;
  nodeId: string;
  redactKeys: readonly string[];
}

/** Throws `forbidden` when gates are to be skipped by a caller without tools.release.bypass. */
export function authorizeBypass(caller: ReleaseCaller, gates: GateName[]): void {
  if (gates.length === 0 || caller.entitlements.has(BYPASS_ENTITLEMENT)) return;
  throw new OpsError(
    "forbidden",
    `agent "${caller.agent_id}" (role ${caller.role}) lacks entitlement ${BYPASS_ENTITLEMENT} to skip ${gates.join(", ")}`,
    { entitlement: BYPASS_ENTITLEMENT, role: caller.role, gates },
  );
}

export async function recordBypass(
  d: BypassDeps,
  o: { caller: ReleaseCaller; gates: GateName[]; reason?: string; check: ReleaseCheckResult; now: Date; logger: Logger },
): Promise<BypassRecord> {
  const { caller, check } = o;
  // Free text from the caller: masked like log lines before it is kept anywhere.
  const reason = o.reason === undefined ? undefined : scrubSecrets(o.reason);
  const open = check.service ? await openIncidents(d.incidents, check.service, check.env, o.logger) : [];
  const record: BypassRecord = {
    gates: o.gates,
    by: caller.agent_id,
    role: caller.role,
    ...(reason ? { reason } : {}),
    incident_ids: open.map((i) => i.id),
  };
  const params = { service: check.service, env: check.env, bypassed: o.gates, verdict: check.verdict, incident_ids: record.incident_ids, ...(reason ? { reason } : {}) };
  const audit: AuditRecord = {
    id: newId("aud"),
    ts: o.now.toISOString(),
    agent_id: caller.agent_id,
    role: caller.role,
    tool: RELEASE_TOOL,
    action: BYPASS_AUDIT_ACTION,
    decision: "allow",
    status: "ok",
    duration_ms: 0,
    params: redactParams(params, d.redactKeys),
    channel: caller.channel,
    node_id: d.nodeId,
  };
  try {
    await d.appendAudit([audit]);
  } catch (err) {
    o.logger.error({ err, gates: o.gates }, "release gate bypass not recorded in the audit log; refused");
    throw unavailable("the audit log did not take the bypass record; nothing was bypassed, try again", { gates: o.gates });
  }

  const where = `${check.service ?? "all services"} in ${check.env}`;
  const message = `Release gate bypassed by ${caller.agent_id} (${caller.role}) for ${where}: ${o.gates.join(", ")}${reason ? `; reason: ${reason}` : ""}. Check verdict: ${check.verdict}.`;
  const noted: string[] = [];
  for (const inc of open) {
    try {
      await d.incidents.appendEvent(
        inc.id,
        { type: "note", message, author: caller.agent_id, meta: { release_gate: { ...params, audit_id: audit.id } } },
        o.now,
      );
      noted.push(inc.id);
    } catch (err) {
      // The audit record is the record of truth; a missing timeline note is logged, not fatal.
      o.logger.warn({ err, incident_id: inc.id }, "could not note a release gate bypass on an incident");
    }
  }
  return { ...record, incident_ids: noted };
}

/** The service's open incidents; an incident store that cannot answer leaves only the audit record. */
async function openIncidents(store: IncidentStore, service: string, env: string, logger: Logger): Promise<IncidentRecord[]> {
  try {
    return await store.list({ service, env, status: ["open", "mitigating"], limit: MAX_NOTED_INCIDENTS });
  } catch (err) {
    logger.warn({ err }, "could not list open incidents to note a release gate bypass on");
    return [];
  }
}
