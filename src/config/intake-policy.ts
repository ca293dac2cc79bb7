/**
 * config/intake.yml: how alerts from the compatible HTTP intakes become opsbus alerts. The
 * `alertmanager` section maps an Alertmanager API v2 alert (labels, annotations) onto the alert
 * payload: each field is taken from the first label present in its list, optionally through a
 * value map, else the default. Labels themselves are always kept as sent.
 */
import { z } from "zod";
import { OPS_ENVS } from "./env.js";

const Severity = z.enum(["P0", "P1", "P2", "P3"]);
const LabelName = z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, "a Prometheus label name");
/** `annotations.<name>` or `labels.<name>`: where a text field (title, message) comes from. */
const TextSource = z.string().regex(/^(annotations|labels)\.[a-zA-Z_][a-zA-Z0-9_]*$/, "annotations.<name> or labels.<name>");
const ServiceName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]*$/, "letters, digits, _ . : - (a service name)").max(128);
const lowerKeys = <T extends z.ZodType>(value: T) =>
  z.record(z.string().min(1), value).transform((m) => Object.fromEntries(Object.entries(m).map(([k, v]) => [k.toLowerCase(), v])) as Record<string, z.infer<T>>);

export const AlertmanagerIntake = z.strictObject({
  /** Label names to read each field from, first present wins. */
  labels: z
    .strictObject({
      service: z.array(LabelName).default(["service", "job"]),
      env: z.array(LabelName).default(["env", "environment"]),
      severity: z.array(LabelName).default(["severity"]),
      kind: z.array(LabelName).default(["kind"]),
      source: z.array(LabelName).default([]),
    })
    .prefault({}),
  /** Label values (matched case-insensitively) → opsbus values. P0..P3 and the env names pass as they are. */
  values: z
    .strictObject({
      env: lowerKeys(z.enum(OPS_ENVS)).default({ production: "prod", prod: "prod", staging: "staging", stage: "staging", development: "dev", dev: "dev" }),
      severity: lowerKeys(Severity).default({ critical: "P0", page: "P0", high: "P1", error: "P1", warning: "P2", warn: "P2", info: "P3", none: "P3" }),
    })
    .prefault({}),
  /** The alert title: the first of these that is set (the label set itself when none is). */
  title: z.array(TextSource).default(["annotations.summary", "labels.alertname"]),
  /** The alert message: the first of these that is set, if any. */
  message: z.array(TextSource).default(["annotations.description"]),
  /** Used when no listed label is present, or its value is not one opsbus knows. */
  defaults: z
    .strictObject({
      service: ServiceName.default("unknown"),
      env: z.enum(OPS_ENVS).default("prod"),
      severity: Severity.default("P2"),
      kind: z.string().regex(/^[a-z][a-z0-9_]*$/).default("custom"),
      source: z.string().min(1).max(256).default("alertmanager"),
    })
    .prefault({}),
  /** The receiver name GET /api/v2/alerts reports for every alert (opsbus routes by service, not by receiver). */
  receiver: z.string().min(1).max(128).default("opsbus"),
  /** Bodies past this are 413 unread. Bounded by the NATS max_payload: the batch is one message. */
  max_body_bytes: z.number().int().min(1024).max(8 * 1024 * 1024).default(1024 * 1024),
  /** How long a POST waits for JetStream's PubAck before answering 503 (the sender retries). */
  publish_timeout_ms: z.number().int().min(100).max(60_000).default(5000),
  /** Alerts GET /api/v2/alerts reads: those last seen within this window, at most `read_limit`. */
  read_window_minutes: z.number().int().min(1).max(7 * 24 * 60).default(24 * 60),
  read_limit: z.number().int().min(1).max(500).default(500),
});
export type AlertmanagerIntake = z.infer<typeof AlertmanagerIntake>;

export const PD_SEVERITIES = ["critical", "error", "warning", "info"] as const;

/**
 * PagerDuty Events v2 (POST /v2/enqueue). Routing keys are written literally or as `${ENV_VAR}`
 * (resolved at start; an unset variable accepts nothing); logs and the audit name a key by `name`
 * (default the variable's name, else service/source), never by the key.
 */
export const PagerDutyIntake = z.strictObject({
  routing_keys: z
    .record(
      z.string().min(1),
      z.strictObject({
        service: ServiceName,
        source: z.string().min(1).max(256),
        env: z.enum(OPS_ENVS).optional(),
        kind: z.string().regex(/^[a-z][a-z0-9_]*$/).optional(),
        name: z.string().min(1).max(128).optional(),
        /**
         * For senders that never send a resolve (Sentry's issue alerts): a trigger's alert ends
         * this long after its last trigger. Unset: it fires until its resolve, as PagerDuty keeps it.
         */
        resolve_timeout_minutes: z.number().int().min(1).max(30 * 24 * 60).optional(),
      }),
    )
    .default({}),
  /** Events per minute per routing key (a token bucket); past it 429. */
  rate_per_minute: z.number().int().min(1).default(120),
  /** How many a key may send at once; default one minute's worth. */
  burst: z.number().int().min(1).optional(),
  /** Missing ones keep their default. */
  severity_map: z.partialRecord(z.enum(PD_SEVERITIES), Severity).default({ critical: "P1", error: "P2", warning: "P3", info: "P3" }),
});
export type PagerDutyIntake = z.infer<typeof PagerDutyIntake>;

export const IntakePolicy = z.strictObject({
  alertmanager: AlertmanagerIntake.prefault({}),
  pagerduty: PagerDutyIntake.prefault({}),
});
export type IntakePolicy = z.infer<typeof IntakePolicy>;
