/** GET /metrics is valid Prometheus text (0.0.4) and its counters follow real traffic. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { freePort } from "../harness/ports.js";
import { startStack, type Stack } from "../harness/stack.js";
import { waitFor } from "../harness/wait.js";

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
interface Family {
  type: string;
  help: string;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_PAIR = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"/;

function parseValue(text: string, line: string): number {
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  // prom-client writes an empty summary's mean as `Nan`; Prometheus parses floats with Go's
  // ParseFloat, which takes NaN in any case, so the exposition is valid.
  if (/^nan$/i.test(text)) return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`bad value in: ${line}`);
  return Number(text);
}

function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let rest = text;
  while (rest.length) {
    const m = LABEL_PAIR.exec(rest);
    if (!m) throw new Error(`bad labels in: ${line}`);
    if (m[1]! in labels) throw new Error(`duplicate label ${m[1]} in: ${line}`);
    labels[m[1]!] = m[2]!.replace(/\\n/g, "\n").replace(/\\"/g, '"').replace(/\\\\/g, "\\");
    rest = rest.slice(m[0].length);
    if (rest.startsWith(",")) rest = rest.slice(1);
    else if (rest.length) throw new Error(`expected , between labels in: ${line}`);
  }
  return labels;
}

/** A strict reader of the text format: HELP/TYPE before samples, families contiguous, no duplicate series, valid histograms. */
function parseExposition(text: string): Map<string, Family> {
  assert.ok(text.endsWith("\n"), "ends with a newline");
  const families = new Map<string, Family>();
  const seen = new Set<string>();
  let current: { name: string; family: Family } | undefined;
  for (const line of text.split("\n").slice(0, -1)) {
    if (line === "") continue;
    const meta = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta as unknown as [string, string, string, string];
      if (!NAME.test(name)) throw new Error(`bad metric name: ${line}`);
      let family = families.get(name);
      if (!family) {
        if (current && current.name !== name && families.has(name)) throw new Error(`family ${name} is split`);
        family = { type: "untyped", help: "", samples: [] };
        families.set(name, family);
      } else if (current?.name !== name) throw new Error(`family ${name} is split: ${line}`);
      if (family.samples.length) throw new Error(`${kind} after samples: ${line}`);
      if (kind === "TYPE") {
        if (!["counter", "gauge", "histogram", "summary", "untyped"].includes(rest)) throw new Error(`bad type: ${line}`);
        family.type = rest;
      } else family.help = rest;
      current = { name, family };
      continue;
    }
    if (line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: (-?\d+))?$/.exec(line);
    if (!m) throw new Error(`bad sample line: ${line}`);
    const [, name, labelText, valueText] = m as unknown as [string, string, string | undefined, string];
    if (!current) throw new Error(`sample before any TYPE: ${line}`);
    const suffixes = current.family.type === "histogram" ? ["_bucket", "_sum", "_count"] : [""];
    if (!suffixes.some((sfx) => name === `${current!.name}${sfx}`)) throw new Error(`sample ${name} outside its family ${current.name}`);
    const labels = parseLabels(labelText ?? "", line);
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seen.has(key)) throw new Error(`duplicate series: ${line}`);
    seen.add(key);
    current.family.samples.push({ name, labels, value: parseValue(valueText, line) });
  }
  for (const [name, f] of families) if (f.type === "histogram") checkHistogram(name, f);
  return families;
}

function checkHistogram(name: string, f: Family): void {
  const series = new Map<string, Sample[]>();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    series.set(key, [...(series.get(key) ?? []), s]);
  }
  for (const samples of series.values()) {
    const buckets = samples.filter((s) => s.name === `${name}_bucket`);
    const count = samples.find((s) => s.name === `${name}_count`);
    assert.ok(count && samples.some((s) => s.name === `${name}_sum`), `${name}: _sum and _count`);
    assert.is(buckets.at(-1)?.labels.le, "+Inf", `${name}: last bucket is +Inf`);
    for (let i = 1; i < buckets.length; i++) {
      assert.ok(parseValue(buckets[i]!.labels.le!, "le") > parseValue(buckets[i - 1]!.labels.le!, "le"), `${name}: le increases`);
      assert.ok(buckets[i]!.value >= buckets[i - 1]!.value, `${name}: buckets are cumulative`);
    }
    assert.is(buckets.at(-1)!.value, count!.value, `${name}: +Inf bucket = _count`);
  }
}

let s: Stack;
let base: string;
test.before(async () => {
  const port = await freePort();
  s = await startStack({ roles: ["gateway", "alerts-in", "incident-bridge", "jobs"], env: { HTTP_PORT: String(port) } });
  base = `http://127.0.0.1:${port}`;
});
test.after(async () => s.stop());

async function scrape(): Promise<Map<string, Family>> {
  const res = await fetch(`${base}/metrics`);
  assert.is(res.status, 200);
  assert.is(res.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  return parseExposition(await res.text());
}

function value(fams: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  const family = fams.get(name.replace(/_(bucket|sum|count)$/, "")) ?? fams.get(name);
  const hit = family?.samples.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  return hit?.value ?? 0;
}

test("the exposition parses strictly and declares every opsbus metric", async () => {
  const fams = await scrape();
  const expected: Record<string, string> = {
    opsbus_job_runs_total: "counter",
    opsbus_job_run_duration_seconds: "histogram",
    opsbus_queue_depth: "gauge",
    opsbus_alert_redeliveries_total: "counter",
    opsbus_alert_retries_total: "counter",
    opsbus_alert_loop_latency_seconds: "histogram",
    opsbus_alerts_ingested_total: "counter",
    opsbus_alerts_deduped_total: "counter",
    opsbus_alerts_rejected_total: "counter",
    opsbus_tool_calls_total: "counter",
  };
  for (const [name, type] of Object.entries(expected)) assert.is(fams.get(name)?.type, type, name);
  const depth = fams.get("opsbus_queue_depth")!.samples.map((x) => x.labels.consumer).sort();
  assert.equal(depth, ["alerts-ingest", "alerts-work", "graph-runs", "jobs", "notifier", "notify-planner"]);
});

test("counters and histograms move with traffic", async () => {
  const before = await scrape();
  const alert = (fp: string) => ({ service: "metrics", title: `t ${fp}`, kind: "custom", fingerprint: fp });
  await s.publishAlert(alert("m1"));
  await s.publishAlert(alert("m1"));
  await s.publishAlert(alert("m2"));
  await s.publishAlert("{broken json");
  const denied = await s.call("audit_tool", "cleanup", {}, { agent: "helion" });
  assert.ok(!denied.ok);
  const started = await s.call("jobs_tool", "start_task", { task_id: "hourly_risk_snapshot", dry_run: true }, { agent: "sofiia" });
  assert.ok(started.ok, JSON.stringify(started));

  const delta = (fams: Map<string, Family>, name: string, labels?: Record<string, string>) => value(fams, name, labels) - value(before, name, labels);
  const after = await waitFor(async () => {
    const f = await scrape();
    return delta(f, "opsbus_alert_loop_latency_seconds_count") >= 2 && delta(f, "opsbus_job_runs_total", { task: "hourly_risk_snapshot" }) >= 1 ? f : null;
  }, { message: "2 alert loops and a job run in /metrics", timeoutMs: 15_000 });

  assert.is(delta(after, "opsbus_alerts_ingested_total"), 3);
  assert.is(delta(after, "opsbus_alerts_deduped_total"), 1);
  assert.is(delta(after, "opsbus_alerts_rejected_total"), 1);
  assert.is(delta(after, "opsbus_alert_loop_latency_seconds_count"), 2);
  assert.ok(delta(after, "opsbus_alert_loop_latency_seconds_sum") > 0);
  assert.is(delta(after, "opsbus_job_runs_total", { task: "hourly_risk_snapshot", status: "succeeded" }), 1);
  assert.is(delta(after, "opsbus_job_run_duration_seconds_count", { task: "hourly_risk_snapshot" }), 1);
  assert.is(delta(after, "opsbus_tool_calls_total", { tool: "audit_tool", action: "cleanup", code: "forbidden" }), 1);
  assert.is(delta(after, "opsbus_tool_calls_total", { tool: "jobs_tool", action: "start_task", code: "ok" }), 1);
  // The job's own tool call, made by the runner on the scheduler channel, is counted too.
  assert.is(delta(after, "opsbus_tool_calls_total", { tool: "risk_history_tool", action: "snapshot", code: "ok" }), 1);
  assert.is(value(after, "opsbus_queue_depth", { consumer: "alerts-work" }), 0);
});

test("callers cannot mint series: an unknown tool over HTTP is counted as other", async () => {
  const res = await fetch(`${base}/v1/tools/execute`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ tool: "made_up_tool_1", action: "x", params: {} }) });
  assert.is(res.status, 404);
  const fams = await scrape();
  const tools = new Set(fams.get("opsbus_tool_calls_total")!.samples.map((x) => x.labels.tool));
  assert.not.ok(tools.has("made_up_tool_1"));
  assert.ok(value(fams, "opsbus_tool_calls_total", { tool: "other", action: "other", code: "not_found" }) >= 1);
});

test.run();
