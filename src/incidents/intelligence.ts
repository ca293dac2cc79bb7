/** Incident intelligence (config/incident_intelligence.yml): correlation, recurrence, the weekly digest. */
export * from "./correlate.js";
export * from "./recurrence.js";
export * from "./digest.js";
export { digestMarkdown } from "./digest-md.js";
