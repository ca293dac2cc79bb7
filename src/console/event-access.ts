/**
 * Which live events a console session sees: an event of a domain needs that domain's read
 * entitlement (`alert.*` → tools.alerts.read, …); a domain not listed needs tools.monitor.read.
 */
const READ_OF_DOMAIN: Readonly<Record<string, string>> = {
  alert: "tools.alerts.read",
  incident: "tools.incidents.read",
  silence: "tools.silences.read",
  notification: "tools.notifications.read",
  job: "tools.jobs.read",
  backlog: "tools.backlog.read",
  nodes: "tools.monitor.read",
};
export const DEFAULT_EVENT_ENTITLEMENT = "tools.monitor.read";

export function eventEntitlement(type: string): string {
  const domain = type.split(".", 1)[0] ?? "";
  return Object.hasOwn(READ_OF_DOMAIN, domain) ? READ_OF_DOMAIN[domain]! : DEFAULT_EVENT_ENTITLEMENT;
}

export const mayReadEvent = (entitlements: ReadonlySet<string>, type: string): boolean => entitlements.has(eventEntitlement(type));
