import type { RbacMatrix } from "../config/policies.js";
import type { OpsEnv } from "../config/env.js";
import { invalid, OpsError } from "../errors.js";
import type { Caller } from "../tools/types.js";
import { callerFor } from "./rbac.js";
import type { CallHeaders } from "./types.js";

/** The agent a dev-mode call without a key or agent_id runs as (with `default_role`). */
export const ANONYMOUS_AGENT = "anonymous";

export interface AuthInput {
  opsEnv: OpsEnv;
  rbac: RbacMatrix;
  /** Bearer key → agent id. */
  apiKeys: ReadonlyMap<string, string>;
  headers: CallHeaders;
  /** The body's `agent_id`, if any. */
  claimedAgentId: string | undefined;
  channel: string;
  /** Already authenticated by the channel (the scheduler's service account): auth is skipped. */
  trustedCaller?: Caller;
}

/**
 * Every value of a header, ignoring the case of its name as HTTP and NATS both allow: repeats
 * under one name (an array) and under names differing only in case all count.
 */
export function headerValues(headers: CallHeaders, name: string): string[] {
  const wanted = name.toLowerCase();
  const out: string[] = [];
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === wanted) out.push(...(typeof v === "string" ? [v] : v));
  return out;
}

/** The first value of a header, ignoring case. */
export function headerValue(headers: CallHeaders, name: string): string | undefined {
  return headerValues(headers, name)[0];
}

/** The key a call carries and, with Basic, the user name sent beside it. */
interface Credentials {
  key: string;
  user?: string;
}

/**
 * The call's credentials, if any: `Bearer <key>`, or `Basic` with the agent id as user name and
 * its key as password, the only form some senders can be configured for (Grafana's external
 * Alertmanager, Loki's ruler, Prometheus's `basic_auth`). Two Authorization headers are refused
 * on every channel: HTTP stacks keep the first and NATS clients the last, so which key counted
 * would depend on the road taken.
 */
function credentialsOf(headers: CallHeaders): Credentials | undefined {
  const values = headerValues(headers, "authorization");
  if (values.length > 1) throw invalid(`${values.length} Authorization headers; send exactly one`);
  const value = values[0];
  if (value === undefined) return undefined;
  const bearer = /^\s*bearer\s+(\S+)\s*$/i.exec(value);
  if (bearer) return { key: bearer[1]! };
  const basic = /^\s*basic\s+([A-Za-z0-9+/]{1,4096}={0,2})\s*$/i.exec(value);
  if (!basic) return undefined;
  const pair = Buffer.from(basic[1]!, "base64").toString("utf8");
  const colon = pair.indexOf(":");
  return colon < 0 ? undefined : { user: pair.slice(0, colon), key: pair.slice(colon + 1) };
}

/**
 * Establishes who is calling. In staging and prod a key (Bearer or Basic) must name the agent
 * (`unauthenticated` otherwise); in dev a valid key is used when present, else the body's
 * agent_id is trusted, and no agent_id at all means `anonymous`. Call `rejectImpersonation`
 * next: a body agent_id that differs from the caller is `forbidden` everywhere.
 */
export function authenticate(input: AuthInput): Caller {
  const { rbac, claimedAgentId, channel } = input;
  if (input.trustedCaller) return input.trustedCaller;
  const sent = credentialsOf(input.headers);
  const keyAgent = sent && input.apiKeys.get(sent.key);
  if (sent && keyAgent !== undefined) {
    // A Basic user name is a claim like a body's agent_id: it must be the key's agent (not echoed).
    if (sent.user !== undefined && sent.user !== keyAgent) throw new OpsError("unauthenticated", "Basic auth: the user name is not the agent of this key");
    return callerFor(rbac, keyAgent, { authenticated: true, channel });
  }
  if (input.opsEnv !== "dev") {
    throw new OpsError(
      "unauthenticated",
      sent === undefined ? "missing Authorization header: Bearer <key>, or Basic with the agent id and its key" : "unknown API key",
    );
  }
  return callerFor(rbac, claimedAgentId ?? ANONYMOUS_AGENT, { authenticated: false, channel });
}

/**
 * Refuses a body agent_id naming someone other than the established caller. The claimed value is
 * not echoed: a client that put its key in agent_id would find it in the reply and the audit log.
 */
export function rejectImpersonation(caller: Caller, claimedAgentId: string | undefined): void {
  if (claimedAgentId !== undefined && claimedAgentId !== caller.agent_id) {
    throw new OpsError("forbidden", `the body's agent_id does not match the authenticated agent "${caller.agent_id}"`);
  }
}
