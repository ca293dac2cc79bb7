/** `oncall_tool`: incidents by hand — create, read, list, timeline events, artifacts (attach, read), acknowledge, close, follow-ups, alert → incident. */
import { randomBytes } from "node:crypto";
import { z } from "zod";
import { OPS_ENVS } from "../config/env.js";
import { invalid, notFound } from "../errors.js";
import { attachArtifact, INCIDENT_ID_RE, readArtifact } from "../incidents/artifacts.js";
import { followupEvent, followupsFromEvents, followupsSummary, inFollowupScope } from "../incidents/followups.js";
import { eventsOf, listAllIncidents } from "../incidents/query.js";
import { MAX_ACK_NOTE_CHARS } from "../incidents/write-plans.js";
import type { Logger } from "../log.js";
import type { EventPublisher } from "../nats/events.js";
import { SEVERITIES, type EventData, type EventType, type Severity } from "../subjects/index.js";
import {
  INCIDENT_STATUSES,
  type AbsorbResult,
  type IncidentRecord,
  type IncidentStatus,
  type IncidentStore,
} from "../incidents/store.js";
import { action, enumList, type ToolDef } from "./types.js";

export interface OncallToolDeps {
  incidents: IncidentStore;
  artifactsDir: string;
  /** Publishes incident.created / incident.updated / incident.acknowledged / incident.unacknowledged / incident.closed (EventPublisher from src/nats/events.ts, dedupeId = the event/incident id). */
  events: EventPublisher;
  /** The alert→incident bridge for one alert (implemented elsewhere, in src/incidents/bridge.ts). */
  alertToIncident(alertRef: string, opts: { severity_cap?: Severity; dedupe_window_minutes?: number }, by: string): Promise<AbsorbResult & { incident: IncidentRecord }>;
}

const READ = "tools.incidents.read";
const WRITE = "tools.incidents.write";
const DAY_MS = 86_400_000;
/** Base64 grows by 4/3; this bounds the decoded size check to a sane input first. */
const MAX_CONTENT_CHARS = 3 * 1024 * 1024;
/** An artifact read answers at most this much text by default: the reply stays well under NATS's 1 MiB max_payload. */
const DEFAULT_READ_CHARS = 200_000;

const IncidentId = z
  .string()
  .regex(INCIDENT_ID_RE, "incident_id must look like inc_YYYYMMDD_HHMM_<hex>")
  .describe("the incident's id, e.g. inc_20260223_1000_ab12cd");
const Sev = z.enum(SEVERITIES);
const Env = z.enum(OPS_ENVS);
const Status = z.enum(INCIDENT_STATUSES);
const Labels = z.record(z.string().max(64), z.union([z.string().max(1000), z.number(), z.boolean()]));
const Iso = z.iso.datetime({ offset: true });
/** Event types an agent may append; anything else is kept as a `note` (the store records the original type). */
const AGENT_TYPES = ["note", "followup", "status_change"] as const;

function definedOnly<T extends object>(obj: T): T {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as T;
}

async function mustGet(store: IncidentStore, id: string): Promise<IncidentRecord> {
  const inc = await store.get(id);
  if (!inc) throw notFound(`incident ${id} not found`, { incident_id: id });
  return inc;
}

/** The store is the record: a publish failure is logged, never fails the call. */
async function publish<T extends EventType>(events: EventPublisher, log: Logger, type: T, data: EventData<T>, dedupeId: string): Promise<void> {
  try {
    await events.publish(type, data, dedupeId);
  } catch (err) {
    log.warn({ err, type, dedupe_id: dedupeId }, "incident event publish failed (the store has the change)");
  }
}

const summary = (i: IncidentRecord) => ({ incident_id: i.id, service: i.service, env: i.env, severity: i.severity, status: i.status, title: i.title });

export function createOncallTool(deps: OncallToolDeps): ToolDef {
  const store = deps.incidents;

  async function changeStatus(inc: IncidentRecord, status: IncidentStatus, by: string, resolution: string | undefined, now: Date, log: Logger) {
    const updated = await store.setStatus(inc.id, status, definedOnly({ by, resolution }), now);
    const changed = updated.status !== inc.status;
    if (changed) {
      const data = { ...summary(updated), from: inc.status, by, ...(resolution ? { resolution } : {}) };
      if (status === "closed") await publish(deps.events, log, "incident.closed", data, `${updated.id}@${updated.closed_at}`);
      else await publish(deps.events, log, "incident.updated", data, `${updated.id}:status@${updated.updated_at}`);
    }
    return { incident: updated, changed };
  }

  /** The store's acknowledge or unacknowledge, and its event when it changed something. */
  async function acknowledge(id: string, ack: boolean, by: string, note: string | undefined, now: Date, log: Logger) {
    const opts = note?.trim() ? { note } : {};
    const r = ack ? await store.acknowledge(id, by, now, opts) : await store.unacknowledge(id, by, now, opts);
    if (r.changed && r.event) {
      const i = r.incident;
      const base = { ...summary(i), by, ...(r.event.meta.note ? { note: String(r.event.meta.note) } : {}) };
      if (ack) await publish(deps.events, log, "incident.acknowledged", { ...base, acknowledged_at: i.acknowledged_at! }, `ack:${i.id}@${i.acknowledged_at}`);
      else {
        const data = { ...base, acknowledged_at: String(r.event.meta.acknowledged_at), unacknowledged_at: r.event.ts };
        await publish(deps.events, log, "incident.unacknowledged", data, `unack:${i.id}@${r.event.ts}`);
      }
    }
    return { incident: r.incident, changed: r.changed, ...(r.event ? { event: r.event } : {}) };
  }

  return {
    name: "oncall_tool",
    description: "Incidents: create, get, list, timeline events and follow-ups, artifacts, acknowledge, close, follow-up summary, alert → incident.",
    actions: {
      incident_create: action({
        entitlement: WRITE,
        description: "Open an incident by hand.",
        params: z.strictObject({
          service: z.string().min(1).max(128).describe("the affected service (≤ 128 chars)"),
          severity: Sev.describe("P0 (most urgent) to P3"),
          title: z.string().min(1).max(500).describe("one-line summary (≤ 500 chars)"),
          env: Env.default("prod").describe("affected environment; default prod"),
          started_at: Iso.optional().describe("when the impact began, ISO 8601 with offset; default now"),
          labels: Labels.optional().describe("key → string/number/boolean, kept on the incident"),
          signature: z.string().min(1).max(500).optional().describe("grouping key of recurring incidents; takes the signature's open slot if free"),
        }),
        async handler(p, h) {
          const inc = await store.create(definedOnly({ ...p, created_by: h.caller.agent_id }), h.now());
          await publish(deps.events, h.logger, "incident.created", { ...summary(inc), started_at: inc.started_at, by: h.caller.agent_id }, inc.id);
          return { incident: inc };
        },
      }),
      incident_get: action({
        entitlement: READ,
        description: "An incident with its timeline (oldest first), artifacts and follow-ups.",
        params: z.strictObject({
          incident_id: IncidentId,
          include_events: z.boolean().default(true).describe("include the timeline; default true"),
          events_limit: z.number().int().min(1).max(100_000).default(1000).describe("most timeline events answered, oldest first (1–100000); default 1000"),
        }),
        async handler(p) {
          const incident = await mustGet(store, p.incident_id);
          const [events, artifacts] = await Promise.all([eventsOf(store, [incident.id]), store.artifacts(incident.id)]);
          return {
            incident,
            ...(p.include_events ? { events: events.slice(0, p.events_limit), events_total: events.length } : {}),
            artifacts,
            followups: followupsFromEvents(events),
          };
        },
      }),
      incident_list: action({
        entitlement: READ,
        description: "Incidents, newest started first, filtered.",
        params: z.strictObject({
          status: enumList(INCIDENT_STATUSES).optional().describe("only incidents in these statuses (one, a list, or comma-separated); default all"),
          service: z.string().min(1).optional().describe("only incidents of this service (exact name); default all"),
          env: Env.optional().describe("only incidents of this environment; default all"),
          severity: enumList(SEVERITIES).optional().describe("only incidents of these severities (one, a list, or comma-separated); default all"),
          signature: z.string().min(1).optional().describe("only incidents with this signature; default all"),
          since: Iso.optional().describe("only incidents started at or after this instant, ISO 8601 with offset"),
          until: Iso.optional().describe("only incidents started before this instant, ISO 8601 with offset"),
          limit: z.number().int().min(1).max(1000).default(50).describe("most incidents answered (1–1000); default 50"),
        }),
        async handler(p) {
          const incidents = await store.list(definedOnly(p));
          return { count: incidents.length, incidents };
        },
      }),
      incident_append_event: action({
        entitlement: WRITE,
        description:
          "Append to the timeline. type note (default), followup (meta: title, owner, due_date YYYY-MM-DD, status open|done|cancelled; " +
          "meta.followup_id of an existing one updates it) or status_change (meta.status open|mitigating|closed). Other types are kept as notes.",
        params: z.strictObject({
          incident_id: IncidentId,
          // Open on purpose: a type other than these is kept as a note with meta.type, never refused.
          type: z
            .string()
            .min(1)
            .max(64)
            .default("note")
            .describe(`event type: ${AGENT_TYPES.join(", ")} (anything else is kept as a note); default note`),
          message: z.string().max(20_000).optional().describe("the event's text (≤ 20000 chars); required for a note"),
          meta: z.record(z.string(), z.unknown()).default({}).describe("structured details: see the action's description for followup and status_change"),
          dedupe_key: z.string().min(1).max(200).optional().describe("idempotency key: a repeat with the same key answers the first event (replayed: true)"),
        }),
        async handler(p, h) {
          const inc = await mustGet(store, p.incident_id);
          const by = h.caller.agent_id;
          const now = h.now();
          if (p.type === "status_change") {
            const to = Status.safeParse(p.meta.status ?? p.meta.to);
            if (!to.success) throw invalid(`status_change needs meta.status: one of ${INCIDENT_STATUSES.join(", ")}`);
            const resolution = typeof p.meta.resolution === "string" ? p.meta.resolution : p.message;
            return changeStatus(inc, to.data, by, to.data === "closed" ? resolution : undefined, now, h.logger);
          }
          let message = p.message?.trim() ?? "";
          let meta = p.meta;
          if (p.type === "followup") {
            const existing = followupsFromEvents(await eventsOf(store, [inc.id], "followup"));
            ({ message, meta } = followupEvent(existing, p.meta, p.message, () => `fu_${randomBytes(4).toString("hex")}`));
          } else if (!message) {
            throw invalid("message is required");
          }
          const type = (AGENT_TYPES as readonly string[]).includes(p.type) ? (p.type as (typeof AGENT_TYPES)[number]) : "note";
          if (type !== p.type) meta = { ...meta, type: p.type };
          const { event, replayed } = await store.appendEvent(inc.id, definedOnly({ type, message, author: by, meta, dedupe_key: p.dedupe_key }), now);
          if (!replayed) {
            await publish(deps.events, h.logger, "incident.updated", { ...summary(inc), event_id: event.id, event_type: event.type, by }, event.id);
          }
          return { event, replayed };
        },
      }),
      incident_attach_artifact: action({
        entitlement: WRITE,
        description: "Attach a json/md/txt file (≤ 2 MB) under the incident's artifact directory; replaces one of the same name.",
        params: z.strictObject({
          incident_id: IncidentId,
          name: z.string().min(1).max(128).describe("file name ending .json, .md or .txt (≤ 128 chars); replaces one of the same name"),
          content: z.string().max(MAX_CONTENT_CHARS).describe("the file's content, ≤ 2 MB once decoded"),
          encoding: z.enum(["utf8", "base64"]).default("utf8").describe("how content is encoded; default utf8"),
        }),
        async handler(p, h) {
          if (p.encoding === "base64" && !/^[A-Za-z0-9+/]*={0,2}$/.test(p.content.replace(/\s+/g, ""))) {
            throw invalid("content is not valid base64");
          }
          const content = p.encoding === "base64" ? Buffer.from(p.content, "base64") : p.content;
          const { artifact, event, replayed } = await attachArtifact(store, {
            dir: deps.artifactsDir,
            incident_id: p.incident_id,
            name: p.name,
            content,
            created_by: h.caller.agent_id,
            now: h.now(),
          });
          if (!replayed) await publish(deps.events, h.logger, "incident.updated", { incident_id: p.incident_id, event_id: event.id, event_type: "artifact", artifact: artifact.name, by: h.caller.agent_id }, event.id);
          return { artifact };
        },
      }),
      incident_artifact_get: action({
        entitlement: READ,
        description: `An artifact's text (a triage report, a postmortem draft) with its metadata; cut at max_chars (default ${DEFAULT_READ_CHARS}), truncated: true when cut.`,
        params: z.strictObject({
          incident_id: IncidentId,
          name: z.string().min(1).max(128).describe("the artifact's file name as incident_get lists it, e.g. triage_report.md"),
          max_chars: z.number().int().min(1).max(MAX_CONTENT_CHARS).default(DEFAULT_READ_CHARS).describe(`most characters of content answered (1–${MAX_CONTENT_CHARS}); default ${DEFAULT_READ_CHARS}`),
        }),
        async handler(p) {
          await mustGet(store, p.incident_id);
          // Only what the store lists is served: a file on disk without its record is not an artifact.
          const artifact = (await store.artifacts(p.incident_id)).find((a) => a.name === p.name);
          if (!artifact) throw notFound(`incident ${p.incident_id} has no artifact ${JSON.stringify(p.name.slice(0, 128))}`, { incident_id: p.incident_id });
          const file = await readArtifact({ dir: deps.artifactsDir, incident_id: p.incident_id, name: p.name });
          let content = file.content;
          const truncated = content.length > p.max_chars;
          if (truncated) {
            content = content.slice(0, p.max_chars);
            // Never end on half a surrogate pair.
            if (/[\uD800-\uDBFF]$/.test(content)) content = content.slice(0, -1);
          }
          return { artifact, content, truncated, chars: file.content.length };
        },
      }),
      incident_close: action({
        entitlement: WRITE,
        description: "Close with a resolution; closing a closed incident changes nothing (already_closed: true).",
        params: z.strictObject({ incident_id: IncidentId, resolution: z.string().min(1).max(5000).describe("what fixed it, kept on the incident (≤ 5000 chars)") }),
        async handler(p, h) {
          const inc = await mustGet(store, p.incident_id);
          if (inc.status === "closed") return { incident: inc, already_closed: true };
          const { incident } = await changeStatus(inc, "closed", h.caller.agent_id, p.resolution, h.now(), h.logger);
          return { incident, already_closed: false };
        },
      }),
      incident_ack: action({
        entitlement: WRITE,
        description:
          "Acknowledge: you are on it. Stops re-notifications (repeat_interval) until it reopens; acknowledging an acknowledged incident changes nothing (changed: false); a closed one is refused.",
        params: z.strictObject({
          incident_id: IncidentId,
          note: z.string().max(MAX_ACK_NOTE_CHARS).optional().describe(`a word for the timeline, e.g. "looking at the DB" (≤ ${MAX_ACK_NOTE_CHARS} chars)`),
        }),
        async handler(p, h) {
          return acknowledge(p.incident_id, true, h.caller.agent_id, p.note, h.now(), h.logger);
        },
      }),
      incident_unack: action({
        entitlement: WRITE,
        description: "Take an acknowledgement back (nobody is on it any more): re-notifications resume. A no-op (changed: false) when not acknowledged; a closed incident is refused.",
        params: z.strictObject({
          incident_id: IncidentId,
          note: z.string().max(MAX_ACK_NOTE_CHARS).optional().describe(`why, for the timeline (≤ ${MAX_ACK_NOTE_CHARS} chars)`),
        }),
        async handler(p, h) {
          return acknowledge(p.incident_id, false, h.caller.agent_id, p.note, h.now(), h.logger);
        },
      }),
      incident_followups_summary: action({
        entitlement: READ,
        description: "Open and overdue follow-ups by severity, and the overdue list, for incidents started in window_days (and any not closed).",
        params: z.strictObject({
          service: z.string().min(1).optional().describe("only follow-ups of this service's incidents; default all"),
          env: Env.optional().describe("only follow-ups of incidents in this environment; default all"),
          window_days: z.number().int().min(1).max(365).default(30).describe("incidents started in the last this many days, plus any not closed (1–365); default 30"),
        }),
        async handler(p, h) {
          const now = h.now();
          const q = definedOnly({ service: p.service, env: p.env });
          const [recent, unclosed] = await Promise.all([
            listAllIncidents(store, { ...q, since: new Date(now.getTime() - p.window_days * DAY_MS).toISOString() }),
            listAllIncidents(store, { ...q, status: ["open", "mitigating"] }),
          ]);
          const incidents = [...new Map([...recent, ...unclosed].map((i) => [i.id, i])).values()].filter((i) => inFollowupScope(i, p, now));
          const events = await eventsOf(store, incidents.map((i) => i.id), "followup");
          return { ...q, ...followupsSummary({ incidents, events, now, window_days: p.window_days, ...q }) };
        },
      }),
      alert_to_incident: action({
        entitlement: WRITE,
        description: "Run one alert through the alert → incident bridge (dedupe window, severity cap, cooldown) now.",
        params: z.strictObject({
          alert_ref: z.string().min(1).max(128).describe("the alert to run through the bridge, as ingest answered it"),
          incident_severity_cap: Sev.optional().describe("the incident is at most this severe (P0 most); default alert_routing_policy.yml incident_severity_cap"),
          dedupe_window_minutes: z
            .number()
            .int()
            .min(1)
            .max(7 * 24 * 60)
            .optional()
            .describe("minutes an open incident of the same signature absorbs the alert (1–10080); default alert_routing_policy.yml"),
        }),
        async handler(p, h) {
          // The bridge publishes its own incident events (keyed by incident/event id).
          return deps.alertToIncident(
            p.alert_ref,
            definedOnly({ severity_cap: p.incident_severity_cap, dedupe_window_minutes: p.dedupe_window_minutes }),
            h.caller.agent_id,
          );
        },
      }),
    },
  };
}
