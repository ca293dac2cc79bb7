/**
 * The release gate through the gateway's execute path (auth, RBAC, audit) on memory stores and the
 * shipped RBAC matrix, with builders for what makes each gate pass, warn or block.
 */
import { DataGovernance, ToolLimits } from "../../src/config/policies.js";
import { ObservabilitySources, ReleaseGatePolicy, SloPolicy, type ReleaseEnv } from "../../src/config/release-policy.js";
import { RiskAttribution, RiskPolicy } from "../../src/config/risk-policy.js";
import { AuditWriter, executeTool, type GatewayDeps } from "../../src/gateway/index.js";
import type { ReleaseDeps } from "../../src/release/check.js";
import type { ReleaseCheckResult } from "../../src/release/types.js";
import { MemoryAlertStore } from "../../src/stores/alerts/memory.js";
import type { AuditRecord } from "../../src/audit/store.js";
import type { IncidentStore } from "../../src/incidents/store.js";
import type { Severity, ToolReply } from "../../src/subjects/index.js";
import { createReleaseTool } from "../../src/tools/release-tool.js";
import { toolRegistry } from "../../src/tools/types.js";
import { capturedLogger, FakeAuditStore, loadShippedPolicies, resultOf } from "./gateway-fixtures.js";
import { followup, MemoryIncidentStore, seed } from "./incident-fixtures.js";

export const NOW = new Date("2026-03-10T12:00:00.000Z");
export const minutesAgo = (m: number) => new Date(NOW.getTime() - m * 60_000);
export type Env = ReleaseEnv;

const shipped = loadShippedPolicies();

export interface ReleaseFixture {
  incidents: MemoryIncidentStore;
  alerts: MemoryAlertStore;
  audit: FakeAuditStore;
  lines: string[];
  call(agent: string, params: Record<string, unknown>): Promise<ToolReply>;
  check(params: Record<string, unknown>, agent?: string): Promise<ReleaseCheckResult>;
  /** Every audit record so far (the gateway's, flushed, and the bypass records). */
  audited(): Promise<AuditRecord[]>;
}

export interface FixtureOptions {
  gates?: unknown;
  slo?: unknown;
  sources?: unknown;
  /** Replaces the incident store (e.g. one that fails). */
  incidents?: MemoryIncidentStore;
}

export function releaseFixture(opts: FixtureOptions = {}): ReleaseFixture {
  const incidents = opts.incidents ?? new MemoryIncidentStore();
  const alerts = new MemoryAlertStore();
  const audit = new FakeAuditStore();
  const { logger, lines } = capturedLogger();
  const deps: ReleaseDeps = {
    incidents: incidents as IncidentStore,
    alerts,
    appendAudit: (records) => audit.append(records),
    nodeId: "n1",
    redactKeys: DataGovernance.parse({}).redact_param_keys,
    policies: {
      releaseGate: ReleaseGatePolicy.parse(opts.gates ?? {}),
      slo: SloPolicy.parse(opts.slo ?? {}),
      observabilitySources: ObservabilitySources.parse(opts.sources ?? {}),
      riskPolicy: RiskPolicy.parse({}),
      riskAttribution: RiskAttribution.parse({}),
    },
  };
  const writer = new AuditWriter(audit, logger);
  const gw: GatewayDeps = {
    registry: toolRegistry([createReleaseTool(deps)]),
    policies: { rbac: shipped.rbac, dataGovernance: shipped.dataGovernance, toolLimits: ToolLimits.parse({ defaults: { rate_per_minute: 1_000_000, burst: 1_000_000 } }) },
    opsEnv: "dev",
    apiKeys: new Map(),
    audit: writer,
    logger,
    nodeId: "n1",
    now: () => NOW,
  };
  const call = (agent: string, params: Record<string, unknown>) =>
    executeTool(gw, { tool: "release_tool", channel: "nats", body: { action: "release_check", params, agent_id: agent } });
  return {
    incidents,
    alerts,
    audit,
    lines,
    call,
    check: async (params, agent = "helion") => resultOf<ReleaseCheckResult>(await call(agent, params)),
    async audited() {
      await writer.flush();
      return audit.records;
    },
  };
}

let seq = 0;
/** An slo_breach (or other kind) alert for the service, last seen `ago` minutes before NOW. */
export async function alertFor(alerts: MemoryAlertStore, service: string, env: Env, o: { kind?: string; ago?: number } = {}) {
  seq++;
  const kind = o.kind ?? "slo_breach";
  const [r] = await alerts.ingestBatch(
    [
      {
        alert: {
          fingerprint: `fp-${service}-${seq}`,
          service,
          title: `${kind} on ${service}`,
          kind,
          severity: "P1",
          env,
          source: "monitor@node1",
          labels: {},
          meta: {},
          starts_at: minutesAgo(o.ago ?? 10).toISOString(),
        },
        dedupe_ttl_minutes: 30,
      },
    ],
    minutesAgo(o.ago ?? 10),
  );
  return r!.alert_ref;
}

export function incidentFor(incidents: MemoryIncidentStore, service: string, env: Env, severity: Severity, startedHoursAgo = 2) {
  return seed(incidents, { service, env, severity, started_at: minutesAgo(startedHoursAgo * 60).toISOString() });
}

/** An open P2 incident with one follow-up due `daysLate` days before NOW (still open). */
export async function overdueFollowupFor(incidents: MemoryIncidentStore, service: string, env: Env, daysLate = 3) {
  const inc = await incidentFor(incidents, service, env, "P2", 24 * (daysLate + 2));
  const due = new Date(NOW.getTime() - daysLate * 86_400_000).toISOString().slice(0, 10);
  await followup(incidents, inc.id, { followup_id: "fu1", title: "add canary", owner: "ops", due_date: due, status: "open" }, minutesAgo(60 * 24 * (daysLate + 1)).toISOString());
  return inc;
}

/**
 * Risk band high for the service (default weights): an open P0 (40) and three SLO alerts (15) = 55.
 * The SLO alerts are acked, so slo_watch's alert source does not see them.
 */
export async function highRiskFor(incidents: MemoryIncidentStore, alerts: MemoryAlertStore, service: string, env: Env) {
  await incidentFor(incidents, service, env, "P0");
  for (let i = 0; i < 3; i++) {
    const ref = await alertFor(alerts, service, env, { ago: 30 });
    await alerts.updateState(ref, {}, { status: "acked", acked_at: minutesAgo(20).toISOString() });
  }
}

/** A gate policy where only `gate` runs, in `mode`, in `env`; every other gate everywhere is off. */
export function onlyGate(gate: string, env: Env, mode: string) {
  const off = { slo_watch: "off", followup_watch: "off", risk_watch: "off" };
  return { envs: { dev: { ...off }, staging: { ...off }, prod: { ...off }, [env]: { ...off, [gate]: mode } } };
}

export const verdicts = (r: ReleaseCheckResult) => Object.fromEntries(r.gates.map((g) => [g.gate, g.verdict]));
export const gateOf = (r: ReleaseCheckResult, gate: string) => r.gates.find((g) => g.gate === gate)!;
