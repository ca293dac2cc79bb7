/**
 * OpenAPI paths of Alertmanager's silence API v2 as opsbus answers it (alertmanager/silences.ts):
 * the shapes of prometheus/alertmanager's api/v2/openapi.yaml, each request a silence_tool call.
 */
import { KEYED } from "./openapi-intake.js";

type Json = Record<string, unknown>;

const str = { type: "string" };
const time = { type: "string", format: "date-time" };
const json = (schema: Json, description: string): Json => ({ description, content: { "application/json": { schema } } });
const amError = (description: string): Json => json(str, description);

const matcher: Json = {
  type: "object",
  required: ["name", "value", "isRegex"],
  properties: {
    name: { ...str, description: "a label name: an alert label, or service, env, kind, severity, source" },
    value: { ...str, description: "the value, or a fully anchored RE2 regex when isRegex" },
    isRegex: { type: "boolean" },
    isEqual: { type: "boolean", default: true, description: "false negates it (!= or !~)" },
  },
};

const silenceFields: Json = {
  matchers: { type: "array", items: matcher, minItems: 1 },
  startsAt: { ...time, description: "default now; a new silence never starts in the past" },
  endsAt: time,
  createdBy: { ...str, description: "ignored: the silence is created by the authenticated caller" },
  comment: str,
};

const postableSilence: Json = {
  type: "object",
  required: ["matchers", "startsAt", "endsAt", "createdBy", "comment"],
  properties: { id: { ...str, description: "post over this silence: in place when its matchers are unchanged, else a new id (this one expired)" }, ...silenceFields },
};

const gettableSilence: Json = {
  type: "object",
  required: ["id", "status", "updatedAt", "matchers", "startsAt", "endsAt", "createdBy", "comment"],
  properties: {
    id: str,
    status: { type: "object", required: ["state"], properties: { state: { type: "string", enum: ["expired", "active", "pending"] } } },
    updatedAt: time,
    ...silenceFields,
  },
};

const refusals: Json = {
  "401": amError("missing or unknown key (staging, prod)"),
  "403": amError("the key's agent lacks tools.silences.read (GET) or tools.silences.write (POST, DELETE)"),
  "429": amError("past the agent's rate for silence_tool"),
};
const silenceId: Json = { name: "silenceID", in: "path", required: true, schema: { ...str, format: "uuid" } };
const operation = (operationId: string, summary: string, rest: Json): Json => ({ operationId, summary, tags: ["alertmanager"], security: KEYED, ...rest });

export function silencePaths(): Record<string, Json> {
  return {
    "/api/v2/silences": {
      get: operation("amGetSilences", "Alertmanager API v2: silences (silence_tool.list), active first, then pending, then expired", {
        parameters: [
          { name: "filter", in: "query", style: "form", explode: true, schema: { type: "array", items: str }, description: "matchers each of which the silence must have exactly: name=value, !=, =~, !~; repeated" },
          ...["active", "pending", "expired"].map((name) => ({ name, in: "query", schema: { type: "boolean", default: true }, description: `include ${name} silences` })),
        ],
        responses: { "200": json({ type: "array", items: gettableSilence }, "the silences"), "400": amError("bad matcher"), ...refusals },
      }),
      post: operation("amPostSilences", "Alertmanager API v2: create a silence, or post over one by id (silence_tool.create)", {
        requestBody: { required: true, content: { "application/json": { schema: postableSilence } } },
        responses: {
          "200": json({ type: "object", properties: { silenceID: str } }, "stored: the silence's id (a new one unless updated in place)"),
          "400": amError("invalid silence, with every reason"),
          "404": amError("the id posted over is not a silence"),
          "413": amError("body too large"),
          ...refusals,
        },
      }),
    },
    "/api/v2/silence/{silenceID}": {
      get: operation("amGetSilence", "Alertmanager API v2: one silence (silence_tool.get)", {
        parameters: [silenceId],
        responses: { "200": json(gettableSilence, "the silence"), "400": amError("not a UUID"), "404": { description: "no such silence (or deleted after retention)" }, ...refusals },
      }),
      delete: operation("amDeleteSilence", "Alertmanager API v2: expire a silence now (silence_tool.expire); idempotent, never a delete", {
        parameters: [silenceId],
        responses: { "200": { description: "expired (or already was)" }, "400": amError("not a UUID"), "404": { description: "no such silence" }, ...refusals },
      }),
    },
  };
}
