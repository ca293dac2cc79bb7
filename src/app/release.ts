/** The release gate's dependencies, taken from the process context. */
import type { ReleaseDeps } from "../release/check.js";
import type { Ctx } from "./context.js";

export function releaseDepsOf(ctx: Ctx): ReleaseDeps {
  return {
    incidents: ctx.stores.incidents,
    alerts: ctx.stores.alerts,
    appendAudit: (records) => ctx.stores.audit.append(records),
    nodeId: ctx.env.NODE_ID,
    redactKeys: ctx.policies.dataGovernance.redact_param_keys,
    policies: ctx.policies,
  };
}
