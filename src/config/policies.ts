import { z } from "zod";
import { BacklogPolicy } from "./backlog-policy.js";
import { IntakePolicy } from "./intake-policy.js";
import { InhibitRulesPolicy } from "./inhibit-rules.js";
import { AutoResolvePolicy } from "./incident-lifecycle.js";
import { MaintenanceWindowsPolicy } from "./maintenance-windows.js";
import { NotificationRoutesPolicy } from "./notification-routes.js";
import { NodesRegistry } from "./nodes-policy.js";
import { ObservabilitySources, ReleaseGatePolicy, SloPolicy } from "./release-policy.js";
import { ReceiversPolicy } from "./receivers.js";
import { ArchitecturePressure, RiskAttribution, RiskPolicy } from "./risk-policy.js";

/** Named bounds: every limit a policy may set, in one place. */
export const BOUNDS = {
  maxAckWaitSeconds: 3600,
  maxDeliver: 100,
  maxBatchSize: 5000,
  maxPayloadBytes: 8 * 1024 * 1024,
  maxDedupeTtlMinutes: 7 * 24 * 60,
  maxTimeoutMs: 300_000,
  maxAckPending: 100_000,
  /** A year: silences are live in every process's memory, so expired ones are not kept forever. */
  maxSilenceRetentionHours: 365 * 24,
} as const;

const Severity = z.enum(["P0", "P1", "P2", "P3"]);

export const AlertRoutingPolicy = z.strictObject({
  defaults: z
    .strictObject({
      dedupe_ttl_minutes: z.number().int().min(1).max(BOUNDS.maxDedupeTtlMinutes).default(30),
      triage_cooldown_minutes: z.number().int().min(0).default(15),
      incident_severity_cap: Severity.default("P1"),
      dedupe_window_minutes: z.number().int().min(1).default(60),
      /** A closed incident whose signature fires again within this window is reopened, not duplicated. */
      reopen_window_minutes: z.number().int().min(0).default(30),
    })
    .prefault({}),
  /** The alert → incident bridge (the triage worker on the alert work consumer). */
  incidents: z
    .strictObject({
      /** Alert fields that make the incident signature; alerts with equal values share incidents. */
      signature_fields: z
        .array(z.enum(["service", "env", "kind", "source", "title", "fingerprint"]))
        .min(1)
        .default(["service", "env", "kind"]),
      /** Label values that also go into the signature (e.g. `region`). */
      signature_labels: z.array(z.string().min(1)).default([]),
      /** Alerts per bridge step (one store transaction). */
      batch_size: z.number().int().min(1).max(BOUNDS.maxBatchSize).default(200),
    })
    .prefault({}),
  alerts: z
    .strictObject({
      kinds: z
        .array(z.string().regex(/^[a-z][a-z0-9_]*$/))
        .min(1)
        .default(["slo_breach", "error_rate", "latency", "crash", "resource", "security", "custom"]),
      severity_map: z
        .record(z.string(), Severity)
        .default({ critical: "P0", high: "P1", warning: "P2", info: "P3" }),
      max_payload_bytes: z.number().int().min(1024).max(BOUNDS.maxPayloadBytes).default(65536),
      max_text_chars: z.number().int().min(64).default(8000),
      max_labels: z.number().int().min(0).default(64),
      /** A firing without `ends_at` ends this long after its last sighting unless seen again. */
      resolve_timeout_minutes: z.number().int().min(1).max(7 * 24 * 60).default(5),
      /** How often a gateway looks for alerts whose `ends_at` passed (resolved once cluster-wide). */
      resolve_sweep_seconds: z.number().int().min(1).max(3600).default(15),
      /** An expired silence is kept (listed, never active again) this long after its end, then deleted. */
      silence_retention_hours: z.number().int().min(1).max(BOUNDS.maxSilenceRetentionHours).default(120),
    })
    .prefault({}),
  /** The alert work consumer: claim = delivery, lock = ack_wait. */
  work: z
    .strictObject({
      ack_wait_seconds: z.number().int().min(1).max(BOUNDS.maxAckWaitSeconds).default(600),
      max_deliver: z.number().int().min(1).max(BOUNDS.maxDeliver).default(5),
      /** Default delay for `fail` without retry_after_seconds, by attempt (last value repeats). */
      backoff_seconds: z.array(z.number().int().min(0)).min(1).default([30, 120, 300, 900]),
    })
    .prefault({}),
  ingest: z
    .strictObject({
      batch_size: z.number().int().min(1).max(BOUNDS.maxBatchSize).default(500),
      /** Store calls a worker runs at once, each on its own share of the fingerprints. */
      store_lanes: z.number().int().min(1).max(8).default(2),
      ack_wait_seconds: z.number().int().min(1).max(BOUNDS.maxAckWaitSeconds).default(30),
      /** -1 = unlimited: a transient store outage must never exhaust deliveries; bad input is terminated instead. */
      max_deliver: z.number().int().min(-1).max(BOUNDS.maxDeliver).refine((n) => n !== 0, "not 0").default(-1),
      /** Delivered but not yet acked, over all ingest workers: bounds what each one buffers. */
      max_ack_pending: z.number().int().min(1).max(BOUNDS.maxAckPending).default(10_000),
    })
    .prefault({}),
});
export type AlertRoutingPolicy = z.infer<typeof AlertRoutingPolicy>;

const Entitlement = z.string().regex(/^tools\.[a-z_]+\.[a-z_]+$/, "an entitlement such as tools.alerts.read");

export const RbacMatrix = z.strictObject({
  roles: z.record(z.string(), z.strictObject({ description: z.string().optional(), entitlements: z.array(Entitlement) })),
  agents: z.record(z.string(), z.string()),
  default_role: z.string().default("agent_default"),
});
export type RbacMatrix = z.infer<typeof RbacMatrix>;

const Limit = z.strictObject({
  max_payload_bytes: z.number().int().min(256).max(BOUNDS.maxPayloadBytes).optional(),
  timeout_ms: z.number().int().min(10).max(BOUNDS.maxTimeoutMs).optional(),
  rate_per_minute: z.number().int().min(1).optional(),
  burst: z.number().int().min(1).optional(),
});
export const ToolLimits = z.strictObject({
  defaults: z.strictObject({
    max_payload_bytes: z.number().int().min(256).max(BOUNDS.maxPayloadBytes).default(262144),
    timeout_ms: z.number().int().min(10).max(BOUNDS.maxTimeoutMs).default(10000),
    rate_per_minute: z.number().int().min(1).default(600),
    burst: z.number().int().min(1).default(60),
  }).prefault({}),
  tools: z.record(z.string(), Limit).default({}),
  agents: z.record(z.string(), Limit).default({}),
});
export type ToolLimits = z.infer<typeof ToolLimits>;

export const DataGovernance = z.strictObject({
  retention: z
    .strictObject({
      audit_days: z.number().int().min(1).default(90),
      alerts_days: z.number().int().min(1).default(30),
    })
    .prefault({}),
  /** Param keys whose values never reach the audit log (matched case-insensitively, as substrings). */
  redact_param_keys: z
    .array(z.string().min(1))
    .default(["password", "secret", "token", "api_key", "apikey", "authorization", "dsn", "credential"]),
});
export type DataGovernance = z.infer<typeof DataGovernance>;

const Steps = z
  .strictObject({ P1: z.number().int().min(1).optional(), P2: z.number().int().min(1).optional(), P3: z.number().int().min(1).optional() })
  .default({});

/** Severity is raised one step when a threshold for the current severity is met; never lowered, never above P0. */
export const IncidentEscalation = z.strictObject({
  /** Alerts absorbed by the incident, by current severity: `P2: 10` → the 10th alert raises P2 to P1. */
  occurrences: Steps.default({ P3: 5, P2: 10, P1: 25 }),
  /** Minutes since the incident opened, by current severity. */
  open_minutes: Steps.default({ P3: 1440, P2: 720 }),
  /** How often open incidents are checked against `open_minutes`. */
  sweep_interval_seconds: z.number().int().min(1).default(60),
  /** Per severity: resolve an incident once all its alerts have been resolved for a quiet period. */
  resolve: AutoResolvePolicy.prefault({}),
});
export type IncidentEscalation = z.infer<typeof IncidentEscalation>;

export const IncidentIntelligence = z.strictObject({
  correlation: z
    .strictObject({
      /** Candidates: incidents started within this many days before the one correlated. */
      lookback_days: z.number().int().min(1).default(30),
      max_related: z.number().int().min(1).default(10),
      /** Candidates scoring below this are not reported. */
      min_score: z.number().min(0).default(20),
      /** Points per reason; a candidate's score is the sum of the reasons that hold (capped at 100). */
      weights: z
        .strictObject({
          same_signature: z.number().min(0).default(60),
          same_service: z.number().min(0).default(25),
          same_kind: z.number().min(0).default(15),
          time_proximity: z.number().min(0).default(25),
        })
        .prefault({}),
      /** Started within this many minutes of each other counts as time proximity. */
      time_proximity_minutes: z.number().int().min(1).default(180),
    })
    .prefault({}),
  recurrence: z
    .strictObject({
      window_days: z.number().int().min(1).default(7),
      /** A signature or service with at least this many incidents in the window recurs. */
      min_count: z.number().int().min(2).default(2),
      /** Levels by count: `warn` at ≥ warn, `high` at ≥ high. */
      warn: z.number().int().min(1).default(3),
      high: z.number().int().min(1).default(6),
    })
    .prefault({}),
  digest: z
    .strictObject({
      /** Incidents listed in the digest (most severe, then newest first). */
      top_incidents: z.number().int().min(1).default(20),
      markdown_max_chars: z.number().int().min(1000).default(20_000),
    })
    .prefault({}),
});
export type IncidentIntelligence = z.infer<typeof IncidentIntelligence>;

/** Every policy file: file name → schema. A file not listed here is not loaded. */
export const POLICY_FILES = {
  alertRouting: { file: "alert_routing_policy.yml", schema: AlertRoutingPolicy },
  rbac: { file: "rbac_tools_matrix.yml", schema: RbacMatrix },
  toolLimits: { file: "tool_limits.yml", schema: ToolLimits },
  dataGovernance: { file: "data_governance.yml", schema: DataGovernance },
  incidentEscalation: { file: "incident_escalation.yml", schema: IncidentEscalation },
  incidentIntelligence: { file: "incident_intelligence.yml", schema: IncidentIntelligence },
  riskPolicy: { file: "risk_policy.yml", schema: RiskPolicy },
  riskAttribution: { file: "risk_attribution.yml", schema: RiskAttribution },
  architecturePressure: { file: "architecture_pressure.yml", schema: ArchitecturePressure },
  backlog: { file: "backlog_policy.yml", schema: BacklogPolicy },
  nodes: { file: "nodes_registry.yml", schema: NodesRegistry },
  releaseGate: { file: "release_gate_policy.yml", schema: ReleaseGatePolicy },
  slo: { file: "slo_policy.yml", schema: SloPolicy },
  observabilitySources: { file: "observability_sources.yml", schema: ObservabilitySources },
  intake: { file: "intake.yml", schema: IntakePolicy },
  maintenanceWindows: { file: "maintenance_windows.yml", schema: MaintenanceWindowsPolicy },
  inhibitRules: { file: "inhibit_rules.yml", schema: InhibitRulesPolicy },
  receivers: { file: "receivers.yml", schema: ReceiversPolicy },
  notificationRoutes: { file: "notification_routes.yml", schema: NotificationRoutesPolicy },
} as const;

export type Policies = { [K in keyof typeof POLICY_FILES]: z.infer<(typeof POLICY_FILES)[K]["schema"]> };
