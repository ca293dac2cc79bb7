/** The gateway: auth, RBAC, limits and audit in front of the tool registry, for every channel. */
export { executeTool, UNKNOWN_ACTION, UNKNOWN_ROLE } from "./execute.js";
export type { GatewayDeps, ToolCall } from "./types.js";
export { AuditWriter, AUDIT_WRITER_DEFAULTS, type AuditSink, type AuditWriterOptions } from "./auditWriter.js";
export { startToolService, NATS_CHANNEL, type ToolService, type ToolServiceDeps } from "./service.js";
export { ANONYMOUS_AGENT, authenticate, rejectImpersonation } from "./auth.js";
export { authorize, callerFor, entitlementsOf, roleOf } from "./rbac.js";
export { RateLimiter, rateKey } from "./rateLimit.js";
export { limitsFor, payloadLimitFor, type EffectiveLimits } from "./limits.js";
export { redactParams, REDACTED, REDACTION_BOUNDS } from "./redact.js";
export { describeActions, endpointMetadata, paramsJsonSchema, type ActionDescription } from "./jsonSchema.js";
