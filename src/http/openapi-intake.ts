/**
 * OpenAPI paths of the two foreign APIs opsbus speaks, described as their senders use them: the
 * Alertmanager API v2 (Prometheus, amtool) and PagerDuty Events API v2. Their handlers validate
 * with their own code; this is the contract they answer to.
 */
type Json = Record<string, unknown>;

const str = { type: "string" };
const strMap = { type: "object", additionalProperties: str };
const time = { type: "string", format: "date-time" };
const text = (description: string): Json => ({ content: { "text/plain": { schema: str } }, description });
const json = (schema: Json, description: string): Json => ({ description, content: { "application/json": { schema } } });
/** A key as Bearer or Basic, or none (dev): the Alertmanager API's routes, silences too. */
export const KEYED = [{ bearerAuth: [] }, { basicAuth: [] }, {}];

const postableAlert: Json = {
  type: "object",
  required: ["labels"],
  properties: {
    labels: { ...strMap, description: "identity of the alert; the fingerprint is the hash of the sorted label set" },
    annotations: strMap,
    startsAt: { ...time, description: "default now" },
    endsAt: { ...time, description: "default now + resolve_timeout_minutes (5); a past endsAt resolves the alert" },
    generatorURL: { type: "string", format: "uri" },
  },
};

const gettableAlert: Json = {
  type: "object",
  required: ["labels", "annotations", "startsAt", "endsAt", "fingerprint", "status", "receivers", "updatedAt"],
  properties: {
    ...(postableAlert.properties as Json),
    fingerprint: str,
    updatedAt: time,
    receivers: { type: "array", items: { type: "object", required: ["name"], properties: { name: str } } },
    status: {
      type: "object",
      required: ["state", "silencedBy", "inhibitedBy"],
      properties: {
        state: { type: "string", enum: ["unprocessed", "active", "suppressed"] },
        silencedBy: { type: "array", items: str },
        inhibitedBy: { type: "array", items: str },
        mutedBy: { type: "array", items: str },
      },
    },
  },
};

const alertFilters: Json[] = [
  { name: "filter", in: "query", style: "form", explode: true, schema: { type: "array", items: str }, description: "label matchers: name=value, !=, =~ (RE2), !~; repeated" },
  ...["active", "silenced", "inhibited", "unprocessed"].map((name) => ({ name, in: "query", schema: { type: "boolean", default: true } })),
  { name: "receiver", in: "query", schema: str, description: "regex on the receiver's name" },
];

/** Alertmanager answers a refusal with the message as a JSON string. */
const amError = (description: string): Json => json(str, description);
const amRefusals: Json = {
  "401": amError("missing or unknown key (staging, prod)"),
  "403": amError("the key's agent lacks the entitlement"),
  "503": amError("not available here (JetStream, or the API not wired); retry"),
};
const probe = (summary: string): Json => ({ get: { operationId: `am${summary.replace(/\W/g, "")}`, summary, tags: ["alertmanager"], responses: { "200": text("OK") } } });

const pdEvent: Json = {
  type: "object",
  required: ["routing_key", "event_action"],
  properties: {
    routing_key: { ...str, description: "maps to a source/service in config/intake.yml; unknown keys are 400" },
    event_action: { type: "string", enum: ["trigger", "acknowledge", "resolve"] },
    dedup_key: { ...str, description: "the alert's fingerprint; generated and returned when absent" },
    payload: {
      type: "object",
      required: ["summary", "source", "severity"],
      properties: {
        summary: str,
        source: str,
        severity: { type: "string", enum: ["critical", "error", "warning", "info"] },
        timestamp: time,
        component: str,
        group: str,
        class: str,
        custom_details: { type: "object" },
      },
    },
    links: { type: "array", items: { type: "object", properties: { href: str, text: str } } },
    images: { type: "array", items: { type: "object", properties: { src: str, href: str, alt: str } } },
  },
};

const pdReply = (status: string): Json => ({ type: "object", properties: { status: status === "success" ? { const: "success" } : str, message: str, dedup_key: str, errors: { type: "array", items: str } } });

const enqueue: Json = {
  post: {
    operationId: "pagerdutyEnqueue",
    summary: "PagerDuty Events API v2: trigger, acknowledge or resolve an alert",
    tags: ["pagerduty"],
    requestBody: { required: true, content: { "application/json": { schema: pdEvent } } },
    responses: {
      "202": json(pdReply("success"), "Event processed"),
      "400": json(pdReply("invalid event"), "invalid event, with errors"),
      "413": json(pdReply("invalid event"), "body too large"),
      "429": json(pdReply("throttled"), "past the routing key's rate"),
      "503": json(pdReply("unavailable"), "JetStream cannot take the event; retry"),
    },
  },
};

export function intakePaths(): Record<string, Json> {
  return {
    "/api/v2/alerts": {
      post: {
        operationId: "amPostAlerts",
        summary: "Alertmanager API v2: a batch of alerts, answered 200 once durable in JetStream",
        tags: ["alertmanager"],
        security: KEYED,
        requestBody: { required: true, content: { "application/json": { schema: { type: "array", items: postableAlert } } } },
        responses: { "200": { description: "stored (durable)" }, "400": amError("invalid alerts, with reasons; the valid ones of the batch are kept"), "413": amError("body too large"), ...amRefusals },
      },
      get: {
        operationId: "amGetAlerts",
        summary: "Alertmanager API v2: the alerts, filtered by label matchers and state",
        tags: ["alertmanager"],
        security: KEYED,
        parameters: alertFilters,
        responses: { "200": json({ type: "array", items: gettableAlert }, "the alerts"), "400": amError("bad matcher"), ...amRefusals },
      },
    },
    "/api/v2/alerts/groups": {
      get: {
        operationId: "amGetAlertGroups",
        summary: "Alertmanager API v2: the alerts grouped by receiver and group labels",
        tags: ["alertmanager"],
        security: KEYED,
        parameters: alertFilters,
        responses: {
          "200": json(
            { type: "array", items: { type: "object", required: ["labels", "receiver", "alerts"], properties: { labels: strMap, receiver: { type: "object", properties: { name: str } }, alerts: { type: "array", items: gettableAlert } } } },
            "the alert groups",
          ),
          "400": amError("bad matcher"),
          ...amRefusals,
        },
      },
    },
    "/api/v2/status": {
      get: {
        operationId: "amGetStatus",
        summary: "Alertmanager API v2: version, config (YAML amtool parses), cluster status, uptime",
        tags: ["alertmanager"],
        responses: {
          "200": json(
            {
              type: "object",
              required: ["versionInfo", "config", "cluster", "uptime"],
              properties: {
                versionInfo: { type: "object", required: ["version"], properties: { version: { ...str, description: "semver" } } },
                config: { type: "object", required: ["original"], properties: { original: { ...str, description: "an Alertmanager config as YAML" } } },
                cluster: { type: "object", required: ["status"], properties: { status: str } },
                uptime: time,
              },
            },
            "the status",
          ),
        },
      },
    },
    "/api/v2/receivers": {
      get: {
        operationId: "amGetReceivers",
        summary: "Alertmanager API v2: the receivers the status's config names",
        tags: ["alertmanager"],
        responses: { "200": json({ type: "array", items: { type: "object", required: ["name"], properties: { name: str } } }, "the receivers") },
      },
    },
    "/-/healthy": probe("Alertmanager liveness"),
    "/-/ready": probe("Alertmanager readiness"),
    "/v2/enqueue": enqueue,
    // PagerDuty clients post to either spelling.
    "/v2/enqueue/": { post: { ...(enqueue.post as Json), operationId: "pagerdutyEnqueueSlash" } },
  };
}
