/**
 * `opsbus routes show|test` on a temp config dir: amtool's output (receivers comma-separated in
 * tree order; "Routing tree:"), -o json, usage errors (exit 2), an invalid or missing file (exit 1),
 * and the command wired into `opsbus` reading CONFIG_DIR.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { LabelsError, parseLabelList, runRoutes } from "../../src/cli/routes.js";

const TREE = `route:
  receiver: default
  group_by: [service, env]
  group_wait: 0s
  group_interval: 1m
  repeat_interval: 4h
  routes:
    - matchers: ['severity="P0"']
      receiver: pager
      repeat_interval: 30m
      continue: true
    - matchers: ['service=~"check.*"']
      receiver: checkout-team
      mute_time_intervals: [nights]
      routes:
        - matchers: ['env="staging"']
          receiver: checkout-staging
          group_by: ['...']
    - receiver: default
time_intervals:
  - name: nights
    time_intervals: [{ times: [{ start_time: "22:00", end_time: "24:00" }] }]
`;

const dir = mkdtempSync(join(tmpdir(), "routes-cli-"));
writeFileSync(join(dir, "notification_routes.yml"), TREE);

async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runRoutes(args, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

test("routes test prints the receivers comma-separated in tree order, as amtool does", async () => {
  assert.equal(await run("test", "--config-dir", dir, "--labels", "service=checkout,env=prod,severity=P0"), { code: 0, out: "pager,checkout-team", err: "" });
  assert.equal(await run("test", "--config-dir", dir, "--labels", "service=checkout,env=staging"), { code: 0, out: "checkout-staging", err: "" });
  assert.equal(await run("test", "--config-dir", dir, "--labels", "service=search,severity=P0"), { code: 0, out: "pager,default", err: "" });
  // amtool's positional labels work too, and combine with --labels.
  assert.equal((await run("test", "--config-dir", dir, "service=search", "--labels", "severity=P1")).out, "default");
});

test("routes test -o json prints the matched routes with every option resolved", async () => {
  const { code, out } = await run("test", "--config-dir", dir, "-o", "json", "--labels", "service=checkout,severity=P0");
  assert.is(code, 0);
  const routes = JSON.parse(out) as Array<Record<string, unknown>>;
  assert.equal(
    routes.map((r) => [r.path, r.receiver, r.group_by, r.group_wait_ms, r.repeat_interval_ms, r.mute_time_intervals, r.matchers, r.key]),
    [
      ["0", "pager", ["service", "env"], 0, 1_800_000, [], ['severity="P0"'], '{}/{severity="P0"}'],
      ["1", "checkout-team", ["service", "env"], 0, 14_400_000, ["nights"], ['service=~"check.*"'], '{}/{service=~"check.*"}'],
    ],
  );
});

test("routes show prints the tree as amtool draws it, with each route's own options", async () => {
  const { code, out } = await run("show", "--config-dir", dir);
  assert.is(code, 0);
  assert.equal(out.split("\n"), [
    "Routing tree:",
    "└── default-route  receiver: default  group_by: [service, env]  group_wait: 0s  group_interval: 1m  repeat_interval: 4h  notify: incidents",
    '    ├── [0] {severity="P0"}  continue: true  receiver: pager  repeat_interval: 30m',
    '    ├── [1] {service=~"check.*"}  receiver: checkout-team  mute_time_intervals: [nights]',
    '    │   └── [1.0] {env="staging"}  receiver: checkout-staging  group_by: [...]',
    "    └── [2] {}  receiver: default",
  ]);
  const json = JSON.parse((await run("show", "--config-dir", dir, "-o", "json")).out) as { receiver: string; routes: Array<{ path: string; routes: Array<{ path: string; group_interval_ms: number }> }> };
  assert.equal([json.receiver, json.routes.map((r) => r.path), json.routes[1]!.routes[0]!.path, json.routes[1]!.routes[0]!.group_interval_ms], ["default", ["0", "1", "2"], "1.0", 60_000]);
});

test("malformed labels, no labels, a bad -o or subcommand: usage errors, exit 2", async () => {
  for (const labels of ["service!=x", "service=~check.*", "service", "1x=a", "a=1,a=2", "a=1,", 'a="unterminated', 'a="b"c']) {
    const r = await run("test", "--config-dir", dir, "--labels", labels);
    assert.is(r.code, 2, labels);
    assert.match(r.err, /^opsbus routes test: .*labels are name=value pairs separated by commas$/, labels);
    assert.is(r.out, "");
  }
  assert.is((await run("test", "--config-dir", dir)).code, 2);
  assert.is((await run("test", "--config-dir", dir, "-o", "yaml", "--labels", "a=1")).code, 2);
  assert.is((await run("list")).code, 2);
  assert.is((await run()).code, 2);
  assert.is((await run("show", "--bogus")).code, 2);
  assert.is((await run("show", "extra", "--config-dir", dir)).code, 2);
  const help = await run("--help");
  assert.equal([help.code, help.out.startsWith("opsbus routes <show|test>")], [0, true]);
});

test("label lists: quoted values hold commas and escapes; empty values are labels", () => {
  assert.equal(parseLabelList('team="a,b",msg="say \\"hi\\"",empty=,x=1'), { team: "a,b", msg: 'say "hi"', empty: "", x: "1" });
  assert.equal(parseLabelList("a=b=c"), { a: "b=c" });
  assert.throws(() => parseLabelList("=x"), (e: unknown) => e instanceof LabelsError);
});

test("an invalid tree says which file and where (exit 1); a missing file says to set CONFIG_DIR", async () => {
  const bad = mkdtempSync(join(tmpdir(), "routes-cli-bad-"));
  try {
    writeFileSync(join(bad, "notification_routes.yml"), "route: { receiver: r, routes: [{ group_interval: 0s }] }");
    const r = await run("show", "--config-dir", bad);
    assert.is(r.code, 1);
    assert.match(r.err, `${join(bad, "notification_routes.yml")}: invalid configuration`);
    assert.match(r.err, 'at route.routes.0.group_interval: got "0s"; group_interval cannot be zero');
    const missing = await run("test", "--config-dir", join(bad, "nope"), "--labels", "a=1");
    assert.is(missing.code, 1);
    assert.match(missing.err, /notification_routes.yml not found \(set CONFIG_DIR or --config-dir/);
  } finally {
    rmSync(bad, { recursive: true, force: true });
  }
});

test("`opsbus routes` is wired into the command and reads CONFIG_DIR", async () => {
  const { stdout } = await promisify(execFile)(process.execPath, ["--import", "tsx", "src/cli.ts", "routes", "test", "--labels", "service=checkout,severity=P0"], {
    env: { ...process.env, CONFIG_DIR: dir },
  });
  assert.is(stdout, "pager,checkout-team\n");
  const usage = await promisify(execFile)(process.execPath, ["--import", "tsx", "src/cli.ts", "--help"]);
  assert.match(usage.stdout, /routes <show\|test>/);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
