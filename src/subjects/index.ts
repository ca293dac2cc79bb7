/**
 * The public contract: every subject, stream and payload schema, defined once.
 * Publishers, subscribers, the README table and the tests import from here.
 */
import { alertSubjects } from "./alerts.js";
import { eventSubjects } from "./events.js";
import { graphSubjects } from "./graphs.js";
import { jobSubjects } from "./jobs.js";
import { notifySubjects } from "./notify.js";
import { naming, type Naming } from "./prefix.js";
import { toolSubjects } from "./tools.js";

export * from "./alerts.js";
export * from "./events.js";
export * from "./graphs.js";
export * from "./jobs.js";
export * from "./notify.js";
export * from "./tools.js";
export * from "./streams.js";
export { naming, token, type Naming } from "./prefix.js";

export function subjects(n: Naming = naming()) {
  return { naming: n, alerts: alertSubjects(n), events: eventSubjects(n), tools: toolSubjects(n), graphs: graphSubjects(n), jobs: jobSubjects(n), notify: notifySubjects(n) };
}
export type Subjects = ReturnType<typeof subjects>;
