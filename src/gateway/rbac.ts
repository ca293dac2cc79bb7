import type { RbacMatrix } from "../config/policies.js";
import { OpsError } from "../errors.js";
import type { ActionDef, Caller } from "../tools/types.js";

/**
 * The role of an agent: its own entry in `agents`, else `default_role`. Own entries only: an agent
 * called `constructor` or `__proto__` must not get a role from Object.prototype (a function, which
 * then broke every audit append after it).
 */
export function roleOf(rbac: RbacMatrix, agentId: string): string {
  const role = Object.hasOwn(rbac.agents, agentId) ? rbac.agents[agentId] : undefined;
  return typeof role === "string" ? role : rbac.default_role;
}

const entitlementCache = new WeakMap<RbacMatrix, Map<string, ReadonlySet<string>>>();

/** The entitlements a role grants (empty for a role the matrix does not define). */
export function entitlementsOf(rbac: RbacMatrix, role: string): ReadonlySet<string> {
  let byRole = entitlementCache.get(rbac);
  if (!byRole) {
    byRole = new Map(Object.entries(rbac.roles).map(([name, r]) => [name, new Set(r.entitlements)]));
    entitlementCache.set(rbac, byRole);
  }
  return byRole.get(role) ?? new Set();
}

/**
 * A Caller for an agent per the RBAC matrix. The scheduler builds its trusted service-account
 * caller with this, so it goes through the same roles as everyone else.
 */
export function callerFor(
  rbac: RbacMatrix,
  agentId: string,
  opts: { authenticated: boolean; channel: string },
): Caller {
  const role = roleOf(rbac, agentId);
  return { agent_id: agentId, role, entitlements: entitlementsOf(rbac, role), ...opts };
}

/** Throws `forbidden`, naming the missing entitlement, unless the caller's role grants it. */
export function authorize(caller: Caller, tool: string, actionName: string, action: ActionDef): void {
  if (caller.entitlements.has(action.entitlement)) return;
  throw new OpsError(
    "forbidden",
    `agent "${caller.agent_id}" (role ${caller.role}) lacks entitlement ${action.entitlement} for ${tool}.${actionName}`,
    { entitlement: action.entitlement, role: caller.role },
  );
}
