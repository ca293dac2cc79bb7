/**
 * Schemas of the release gate's policies: which gates run how strictly per env
 * (config/release_gate_policy.yml), SLO thresholds per service (config/slo_policy.yml) and where
 * SLO data comes from (config/observability_sources.yml).
 */
import { z } from "zod";
import { OPS_ENVS, type OpsEnv } from "./env.js";
import { BANDS } from "./risk-policy.js";

/** Named bounds of the release policies. */
export const RELEASE_BOUNDS = {
  maxSourceTimeoutMs: 60_000,
  maxAlertWindowMinutes: 7 * 24 * 60,
  maxFollowupWindowDays: 3650,
} as const;

export const GATES = ["slo_watch", "followup_watch", "risk_watch"] as const;
export type GateName = (typeof GATES)[number];
export const GATE_MODES = ["off", "warn", "strict"] as const;
export type GateMode = (typeof GATE_MODES)[number];
/** Releases go to the same environments the pipeline runs in. */
export const RELEASE_ENVS = OPS_ENVS;
export type ReleaseEnv = OpsEnv;

const Mode = z.enum(GATE_MODES);
const EnvGates = (d: Record<GateName, GateMode>) =>
  z
    .strictObject({ slo_watch: Mode.default(d.slo_watch), followup_watch: Mode.default(d.followup_watch), risk_watch: Mode.default(d.risk_watch) })
    .prefault({});

export const ReleaseGatePolicy = z.strictObject({
  /** Gate modes per env: off = not run, warn = a failure passes with a warning, strict = a failure blocks. */
  envs: z
    .strictObject({
      dev: EnvGates({ slo_watch: "warn", followup_watch: "off", risk_watch: "off" }),
      staging: EnvGates({ slo_watch: "warn", followup_watch: "warn", risk_watch: "warn" }),
      prod: EnvGates({ slo_watch: "strict", followup_watch: "strict", risk_watch: "warn" }),
    })
    .prefault({}),
  followup_watch: z
    .strictObject({
      /** Incidents of these severities not yet closed fail the gate. */
      severities: z.array(z.enum(["P0", "P1", "P2", "P3"])).min(1).default(["P0", "P1"]),
      /** More overdue follow-ups than this fail the gate. */
      max_overdue_followups: z.number().int().min(0).default(0),
      /** Follow-ups of incidents open or started within this many days count. */
      window_days: z.number().int().min(1).max(RELEASE_BOUNDS.maxFollowupWindowDays).default(90),
    })
    .prefault({}),
  risk_watch: z
    .strictObject({
      /** A risk band at or above this one fails the gate. */
      fail_at_band: z.enum(BANDS).default("high"),
    })
    .prefault({}),
});
export type ReleaseGatePolicy = z.infer<typeof ReleaseGatePolicy>;

const Thresholds = {
  /** p95 request latency, milliseconds; above it the SLO is breached. */
  latency_p95_ms: z.number().positive(),
  /** Share of failed requests, percent (0–100); above it the SLO is breached. */
  error_rate_pct: z.number().min(0).max(100),
};
export const SLO_METRICS = ["latency_p95_ms", "error_rate_pct"] as const;
export type SloMetric = (typeof SLO_METRICS)[number];

export const SloPolicy = z.strictObject({
  defaults: z
    .strictObject({ latency_p95_ms: Thresholds.latency_p95_ms.default(500), error_rate_pct: Thresholds.error_rate_pct.default(1) })
    .prefault({}),
  /** Per service; a field left out takes the default. Also the services an env-wide check reads. */
  services: z
    .record(
      z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]*$/, "a service name: letters, digits, _ . : -"),
      z.strictObject({ latency_p95_ms: Thresholds.latency_p95_ms.optional(), error_rate_pct: Thresholds.error_rate_pct.optional() }),
    )
    .default({}),
});
export type SloPolicy = z.infer<typeof SloPolicy>;

const PromQl = z
  .string()
  .min(1)
  .refine((q) => [...q.matchAll(/\{\{(\w+)\}\}/g)].every((m) => m[1] === "service" || m[1] === "env"), "placeholders allowed: {{service}}, {{env}}");

export const ObservabilitySources = z.strictObject({
  /** Prometheus HTTP API: one instant query (GET /api/v1/query) per SLO metric. */
  prometheus: z
    .strictObject({
      enabled: z.boolean().default(false),
      base_url: z.url({ protocol: /^https?$/, error: "an http(s) URL, e.g. http://127.0.0.1:9090" }).default("http://127.0.0.1:9090"),
      timeout_ms: z.number().int().min(100).max(RELEASE_BOUNDS.maxSourceTimeoutMs).default(3000),
      /** PromQL per SLO metric, in the metric's unit; `{{service}}` and `{{env}}` are substituted. A metric left out is not read. */
      queries: z.strictObject({ latency_p95_ms: PromQl.optional(), error_rate_pct: PromQl.optional() }).default({}),
      /** A query answering no series (or NaN) fails the gate; false: it is reported and passes. */
      require_data: z.boolean().default(true),
    })
    .prefault({})
    .refine((p) => !p.enabled || Object.keys(p.queries).length > 0, "an enabled prometheus source needs at least one query"),
  /** Active alerts in the alert store: not acked, not failed for good, last seen within the window. */
  alerts: z
    .strictObject({
      enabled: z.boolean().default(true),
      kinds: z.array(z.string().min(1)).min(1).default(["slo_breach"]),
      window_minutes: z.number().int().min(1).max(RELEASE_BOUNDS.maxAlertWindowMinutes).default(60),
    })
    .prefault({}),
});
export type ObservabilitySources = z.infer<typeof ObservabilitySources>;
