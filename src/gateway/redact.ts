/** The audit's redaction lives in util (the release domain records audits too); the gateway re-exports it. */
export { redactParams, REDACTED, REDACTION_BOUNDS } from "../util/redact.js";
