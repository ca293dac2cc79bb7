/** `opsbus verify`: checks a running node over NATS, optionally its parity with another node. */
import { parseArgs } from "node:util";
import { openNats } from "../nats/connect.js";
import type { NatsConnection } from "@nats-io/nats-core";
import { loadEnv, OPS_ENVS } from "../config/env.js";
import { naming, subjects as makeSubjects } from "../subjects/index.js";
import { authCheck, errorText, fetchStatus, gatewayChecks, healthChecks, parityChecks, statusChecks, streamLayout, type Check, type Target } from "./verify-checks.js";

export const VERIFY_HELP = `opsbus verify [--node ID] [--nats URL] [--env dev|staging|prod]
              [--compare-node ID] [--compare-with NATS_URL] [--timeout MS] [--json]

Checks a running opsbus node over NATS:
  gateway_ping, gateway_info   the opsbus-tools service answers $SRV.PING / $SRV.INFO
  health                       ops.health is ok: no consumer has work waiting with no worker pulling
                               (missing) or an ack floor stuck for HEALTH_STALL_SECONDS (stalled);
                               the audit writer keeps up (no dead letters, no stuck backlog)
  health_warnings              warns only: e.g. a memory/JSONL store past JSONL_WARN_RECORDS records
  monitor_status, router       ops.monitor.status[.<node>] says online; JetStream answers
  alerts_backend               staging/prod: the alert store is not memory
  auth_enforced                staging/prod: a call without a bearer key is refused (unauthenticated)
  env                          with --env: the node runs that OPS_ENV
With --compare-node and/or --compare-with, also parity with the other node:
  parity_version, parity_config (digest of the loaded policies), parity_backends,
  parity_streams (stream and consumer config, when the other node is on another NATS system).

  --node ID            the node's NODE_ID (default: whichever node answers)
  --nats URL           NATS of the node (default: $NATS_URL)
  --compare-node ID    the other node's NODE_ID
  --compare-with URL   NATS of the other node (default: --nats)
  --env ENV            expected OPS_ENV (default: the node's own)
  --timeout MS         per request (default 3000)
  --json               one JSON document: {pass, node, checks: [{name, ok, critical, detail}]}

Exit: 0 pass, 1 a critical check failed, 2 usage error.
Example: opsbus verify --node node1 --compare-with nats://10.0.0.6:4222 --compare-node node2 --env prod`;

export interface VerifyResult {
  pass: boolean;
  node: string | null;
  env: string | null;
  compare_node: string | null;
  checks: Check[];
}

async function connectTo(url: string, timeoutMs: number): Promise<NatsConnection> {
  return openNats({ url, name: "opsbus-verify", timeoutMs });
}

export async function verify(opts: { url: string; node?: string; env?: string; compareNode?: string; compareWith?: string; timeoutMs: number; prefix: string }): Promise<VerifyResult> {
  const subs = makeSubjects(naming(opts.prefix));
  const checks: Check[] = [];
  const result = (node: string | null, env: string | null): VerifyResult => ({ pass: checks.every((c) => c.ok || !c.critical), node, env, compare_node: opts.compareNode ?? null, checks });
  let nc: NatsConnection;
  try {
    nc = await connectTo(opts.url, opts.timeoutMs);
  } catch (err) {
    checks.push({ name: "nats", ok: false, critical: true, detail: `cannot connect to ${opts.url}: ${errorText(err)}` });
    return result(opts.node ?? null, null);
  }
  const others: NatsConnection[] = [];
  try {
    const target: Target = { nc, subjects: subs, timeoutMs: opts.timeoutMs, ...(opts.node ? { node: opts.node } : {}) };
    checks.push({ name: "nats", ok: true, critical: true, detail: `connected to ${opts.url} (server ${nc.info?.version ?? "?"})` });
    checks.push(...(await gatewayChecks(target)), ...(await healthChecks(target)));
    const status = await fetchStatus(target).catch((err: unknown) => {
      checks.push({ name: "monitor_status", ok: false, critical: true, detail: `${target.node ? subs.tools.monitorStatusOf(target.node) : subs.tools.monitorStatus}: ${errorText(err)}` });
      return null;
    });
    if (!status) return result(opts.node ?? null, null);
    checks.push(...statusChecks(status, opts.env), await authCheck(target, status.env));

    if (opts.compareNode || opts.compareWith) {
      const otherUrl = opts.compareWith ?? opts.url;
      const otherNc = otherUrl === opts.url ? nc : await connectTo(otherUrl, opts.timeoutMs).catch(() => null);
      if (!otherNc) checks.push({ name: "parity", ok: false, critical: true, detail: `cannot connect to ${otherUrl}` });
      else {
        if (otherNc !== nc) others.push(otherNc);
        const other: Target = { nc: otherNc, subjects: subs, timeoutMs: opts.timeoutMs, ...(opts.compareNode ? { node: opts.compareNode } : {}) };
        const peer = await fetchStatus(other).catch((err: unknown) => {
          checks.push({ name: "parity", ok: false, critical: true, detail: `the other node did not answer: ${errorText(err)}` });
          return null;
        });
        if (peer) {
          const layouts = otherNc === nc ? undefined : await Promise.all([streamLayout(nc, subs.naming.streamPrefix), streamLayout(otherNc, subs.naming.streamPrefix)]);
          checks.push(...parityChecks(status, peer, layouts));
        }
      }
    }
    return result(status.node_id, status.env);
  } finally {
    for (const o of others) await o.close().catch(() => undefined);
    await nc.close().catch(() => undefined);
  }
}

function render(r: VerifyResult): string {
  const mark = (c: Check) => (c.skipped ? "SKIP" : c.ok ? "PASS" : c.critical ? "FAIL" : "WARN");
  const width = Math.max(...r.checks.map((c) => c.name.length));
  const lines = r.checks.map((c) => `${mark(c)}  ${c.name.padEnd(width)}  ${c.detail}`);
  const failed = r.checks.filter((c) => !c.ok && c.critical).length;
  lines.push("", r.pass ? `PASS: node ${r.node ?? "?"} (${r.env ?? "?"})` : `FAIL: ${failed} critical check(s) failed on node ${r.node ?? "?"}`);
  return lines.join("\n");
}

export async function runVerify(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        node: { type: "string" },
        nats: { type: "string" },
        env: { type: "string" },
        "compare-node": { type: "string" },
        "compare-with": { type: "string" },
        timeout: { type: "string", default: "3000" },
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (err) {
    console.error(`opsbus verify: ${(err as Error).message}\n\n${VERIFY_HELP}`);
    return 2;
  }
  if (values.help) {
    console.log(VERIFY_HELP);
    return 0;
  }
  const timeoutMs = Number(values.timeout);
  if (!Number.isInteger(timeoutMs) || timeoutMs < 100) {
    console.error(`opsbus verify: --timeout must be an integer ≥ 100 (ms), got ${values.timeout}`);
    return 2;
  }
  if (values.env !== undefined && !(OPS_ENVS as readonly string[]).includes(values.env)) {
    console.error(`opsbus verify: --env must be one of ${OPS_ENVS.join(", ")}, got ${values.env}`);
    return 2;
  }
  const env = loadEnv();
  const r = await verify({
    url: values.nats ?? env.NATS_URL,
    timeoutMs,
    prefix: env.OPS_SUBJECT_PREFIX,
    ...(values.node ? { node: values.node } : {}),
    ...(values.env ? { env: values.env } : {}),
    ...(values["compare-node"] ? { compareNode: values["compare-node"] } : {}),
    ...(values["compare-with"] ? { compareWith: values["compare-with"] } : {}),
  });
  console.log(values.json ? JSON.stringify(r, null, 2) : render(r));
  return r.pass ? 0 : 1;
}
