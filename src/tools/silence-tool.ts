/**
 * `silence_tool`: Alertmanager-compatible silences (what `amtool silence` and the v2 API do, and
 * what `opsbus silence` calls). `created_by` is the caller the gateway authenticated, never a
 * param. The Alertmanager routes (http/alertmanager/silences.ts) call these same actions through
 * the gateway core, so RBAC, limits and the audit are the same on every road.
 */
import { z } from "zod";
import { invalid } from "../errors.js";
import { noteSilenceOnIncidents, type SilenceNoteDeps } from "../incidents/silence-notes.js";
import type { Logger } from "../log.js";
import { MatcherError, parseMatcher, type Matcher } from "../silences/matchers.js";
import type { SilencePost, SilenceService } from "../silences/service.js";
import { silenceState, type Silence, type SilenceMatcher, type SilenceState } from "../silences/silence.js";
import { action, enumList, type ToolDef } from "./types.js";

export const SILENCE_STATES = ["active", "pending", "expired"] as const satisfies readonly SilenceState[];
export const SILENCE_TOOL_BOUNDS = { defaultListLimit: 1_000, maxListLimit: 10_000, maxDurationMinutes: 366 * 24 * 60 } as const;

const isoTime = z.iso.datetime({ offset: true });
const silenceId = z.string().max(64).describe("the silence's id (a UUID, as `create` answered it)");

const MatcherObject = z.strictObject({
  name: z.string().describe("label name: an alert label, or service, env, kind, severity, source"),
  value: z.string().describe("the value, or an RE2 regular expression (fully anchored) when is_regex"),
  is_regex: z.boolean().default(false).describe("value is a regular expression; default false"),
  is_equal: z.boolean().default(true).describe("false negates the matcher (!= or !~); default true"),
});
/** A label name, then an operator: the rest is the value (parseMatcher reads it, quotes and all). */
const MATCHER_TEXT = /^\s*[a-zA-Z_:][a-zA-Z0-9_:]*\s*(?:=~|=|!=|!~)/;
const MatcherParam = z.union([
  z.string().regex(MATCHER_TEXT, "a matcher: a label name, then = != =~ or !~, then the value").describe('a matcher as amtool writes it: name=value, name!=value, name=~"regex", name!~"regex"'),
  MatcherObject,
]);
// At least one, checked with the other silence rules so the reason reads as Alertmanager's.
const Matchers = z.array(MatcherParam).describe('every matcher must hold on the alert\'s labels, e.g. ["alertname=X", "service=~\\"check.*\\""]');

/** A matcher string parsed as amtool parses it; one amtool would refuse is refused in its words. */
function parsed(text: string): Matcher {
  try {
    return parseMatcher(text);
  } catch (err) {
    if (err instanceof MatcherError) throw invalid(err.message);
    throw err;
  }
}

/** Matchers as the store keeps them, from strings or objects. */
export function silenceMatchersOf(list: ReadonlyArray<z.infer<typeof MatcherParam>>): SilenceMatcher[] {
  return list.map((m) => {
    if (typeof m !== "string") return { name: m.name, value: m.value, is_regex: m.is_regex, is_equal: m.is_equal };
    const { name, type, value } = parsed(m);
    return { name, value, is_regex: type.endsWith("~"), is_equal: type.startsWith("=") };
  });
}

const CreateParams = z.strictObject({
  id: silenceId.optional().describe("post over this silence (Alertmanager's rules): in place when its matchers are unchanged and the times allow, else a new silence with a new id and this one expired"),
  matchers: Matchers,
  starts_at: isoTime.optional().describe("when it starts (ISO 8601); default now; a new silence never starts in the past"),
  ends_at: isoTime.optional().describe("when it ends (ISO 8601); give this or duration_minutes"),
  duration_minutes: z.number().int().min(1).max(SILENCE_TOOL_BOUNDS.maxDurationMinutes).optional().describe("how long from its start, in minutes, when ends_at is not given"),
  comment: z.string().describe("why: the reason, a ticket, the maintenance it covers"),
});

const ListParams = z.strictObject({
  filter: z.union([z.string(), z.array(z.string())]).optional().describe('Alertmanager\'s filter: matchers each of which the silence must have exactly, e.g. ["alertname=X"]'),
  state: enumList(SILENCE_STATES).optional().describe("only silences in these states; default all (expired ones are kept for alerts.silence_retention_hours)"),
  limit: z.number().int().min(1).max(SILENCE_TOOL_BOUNDS.maxListLimit).default(SILENCE_TOOL_BOUNDS.defaultListLimit).describe("at most this many, in Alertmanager's order (active ending soonest, pending, expired newest)"),
});

/** A silence with its state at `now` (pending, active, expired), as every action answers it. */
const stated = (silence: Silence, now: Date) => ({ ...silence, state: silenceState(silence, now) });

export function createSilenceTool(deps: { silences: SilenceService; incidents?: SilenceNoteDeps }): ToolDef {
  const s = deps.silences;
  /** Open incidents already holding alerts the silence matches get a timeline note; the silence stands even if that fails. */
  const noteIncidents = async (silence: Silence, logger: Logger) => {
    if (!deps.incidents || silenceState(silence, deps.incidents.now()) === "expired") return [];
    try {
      const { alerts } = await s.preview(silence.matchers);
      return await noteSilenceOnIncidents(deps.incidents, silence, alerts.map((a) => a.alert_ref));
    } catch (err) {
      logger.warn({ err, silence_id: silence.id }, "silence stored; noting it on open incidents failed");
      return [];
    }
  };
  return {
    name: "silence_tool",
    description: "Alertmanager-compatible silences: mute alerts whose labels match, between two times. Suppressed alerts are still stored and listed; they open no incident and page nobody.",
    actions: {
      create: action({
        entitlement: "tools.silences.write",
        description: "Create a silence, or post over one by id (Alertmanager semantics). created_by is the caller. Answers silence_id and whether it was created or updated.",
        params: CreateParams,
        async handler(p, { caller, now, logger }) {
          if (p.ends_at === undefined && p.duration_minutes === undefined) throw invalid("give ends_at or duration_minutes");
          if (p.ends_at !== undefined && p.duration_minutes !== undefined) throw invalid("give ends_at or duration_minutes, not both");
          const startMs = p.starts_at ? Date.parse(p.starts_at) : now().getTime();
          const post: SilencePost = {
            ...(p.id !== undefined ? { id: p.id } : {}),
            matchers: silenceMatchersOf(p.matchers),
            ...(p.starts_at !== undefined ? { starts_at: p.starts_at } : {}),
            ends_at: p.ends_at ?? new Date(startMs + p.duration_minutes! * 60_000).toISOString(),
            comment: p.comment,
          };
          const w = await s.post(post, caller.agent_id);
          const noted = await noteIncidents(w.silence, logger);
          return { silence_id: w.silence.id, action: w.action, ...(w.replaced ? { replaced: w.replaced } : {}), silence: stated(w.silence, now()), ...(noted.length ? { noted_on_incidents: noted } : {}) };
        },
      }),
      list: action({
        entitlement: "tools.silences.read",
        description: "Silences matching the filter, with their state (active, pending, expired), in Alertmanager's order.",
        params: ListParams,
        async handler(p, { now }) {
          const filter = (p.filter === undefined ? [] : typeof p.filter === "string" ? [p.filter] : p.filter).map(parsed);
          const matched = s.list({ filter, ...(p.state ? { states: p.state } : {}) });
          const at = now();
          return { count: matched.length, silences: matched.slice(0, p.limit).map((x) => stated(x, at)) };
        },
      }),
      get: action({
        entitlement: "tools.silences.read",
        description: "One silence by id (not_found when there is none, or it was deleted after retention).",
        params: z.strictObject({ id: silenceId }),
        handler: async (p, { now }) => ({ silence: stated(await s.get(p.id), now()) }),
      }),
      expire: action({
        entitlement: "tools.silences.write",
        description: "End a silence now (ends_at = now; a pending one never starts). Idempotent: expiring an expired silence changes nothing (changed: false).",
        params: z.strictObject({ id: silenceId }),
        async handler(p, { caller, now }) {
          const r = await s.expire(p.id, caller.agent_id);
          return { changed: r.changed, silence: stated(r.silence, now()) };
        },
      }),
      preview: action({
        entitlement: "tools.silences.read",
        description: "Which firing alerts these matchers would silence now, before creating the silence.",
        params: z.strictObject({ matchers: Matchers }),
        handler: async (p) => s.preview(silenceMatchersOf(p.matchers)),
      }),
    },
  };
}

