/**
 * `release_tool`: the release gate (config/release_gate_policy.yml). `release_check` runs the env's
 * gates (slo_watch, followup_watch, risk_watch) and answers every gate's verdict with reasons and
 * the overall pass/fail; `run_<gate>: false` bypasses a gate (tools.release.bypass), recorded in the
 * audit log and on the service's open incidents.
 */
import { z } from "zod";
import { RELEASE_ENVS } from "../config/release-policy.js";
import { CHECK_ENTITLEMENT } from "../release/bypass.js";
import { releaseCheck, type ReleaseDeps } from "../release/check.js";
import { action, type ToolDef } from "./types.js";

export type ReleaseToolDeps = ReleaseDeps;

/** The alert payload's service name rule: also keeps PromQL label matchers well-formed. */
const Service = z.string().min(1).max(128).regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]*$/, "letters, digits, _ . : - (a service name)");
const runGate = (gate: string) => z.boolean().default(true).describe(`false bypasses the ${gate} gate (needs tools.release.bypass; audited); default true`);

export function createReleaseTool(deps: ReleaseToolDeps): ToolDef {
  return {
    name: "release_tool",
    description: "The release gate: SLO, incident follow-up and risk checks per env, each off, warn or strict.",
    actions: {
      release_check: action({
        entitlement: CHECK_ENTITLEMENT,
        description:
          "Runs the env's gates for a service (or every service of the env) and answers each gate's verdict (pass, warn, fail, skipped, bypassed) " +
          "with reasons, and pass=false when a strict gate failed. run_slo_watch / run_followup_watch / run_risk_watch: false bypasses that gate " +
          "(needs tools.release.bypass; recorded in the audit log as release_check.bypass and on the service's open incidents).",
        params: z.strictObject({
          service: Service.optional().describe("the service to release; default every service of the env"),
          env: z.enum(RELEASE_ENVS).describe("the environment released to; picks its gate modes"),
          run_slo_watch: runGate("slo_watch"),
          run_followup_watch: runGate("followup_watch"),
          run_risk_watch: runGate("risk_watch"),
          reason: z.string().trim().min(1).max(500).optional().describe("why a gate is bypassed (≤ 500 chars); kept in the audit record and the incident note"),
        }),
        handler: (p, h) =>
          releaseCheck(
            deps,
            {
              env: p.env,
              ...(p.service ? { service: p.service } : {}),
              ...(p.reason ? { reason: p.reason } : {}),
              run: { slo_watch: p.run_slo_watch, followup_watch: p.run_followup_watch, risk_watch: p.run_risk_watch },
            },
            h,
          ),
      }),
    },
  };
}
