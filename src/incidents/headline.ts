/**
 * An incident's headline fields, in the order every view of it lists them (the weekly digest,
 * a notification's snapshot, the webhook body): one place, so the views never drift apart.
 */
import type { OpsEnv } from "../config/env.js";
import type { Severity } from "../subjects/index.js";

export interface IncidentHeadline<Status extends string = string> {
  service: string;
  env: OpsEnv;
  severity: Severity;
  title: string;
  status: Status;
  started_at: string;
}

export function incidentHeadline<Status extends string>(i: IncidentHeadline<Status>): IncidentHeadline<Status> {
  return { service: i.service, env: i.env, severity: i.severity, title: i.title, status: i.status, started_at: i.started_at };
}
