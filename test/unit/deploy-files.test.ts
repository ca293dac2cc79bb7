/** docker-compose.yml and ops/nats configs, checked without a Docker engine. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { loadEnv, STORE_ENV_PREFIX } from "../../src/config/env.js";
import { ROLES, type Role } from "../../src/app/roles.js";

type Service = { image?: string; build?: unknown; command?: string[]; environment?: Record<string, string>; depends_on?: Record<string, unknown>; volumes?: string[]; ports?: string[]; healthcheck?: { test?: string[] }; profiles?: string[] };
const compose = parse(readFileSync("docker-compose.yml", "utf8"), { merge: true }) as { services: Record<string, Service>; volumes?: Record<string, unknown> };

/** The file of ops/nats a NATS service runs: the `-c` argument, under the mounted ops/nats directory. */
function natsConfOf(svc: Service): string {
  const mount = svc.volumes!.find((v) => v.startsWith("./ops/nats:"))!.split(":")[1]!;
  const conf = svc.command![svc.command!.indexOf("-c") + 1]!;
  assert.ok(conf.startsWith(`${mount}/`), `${conf} is in the mounted ops/nats (${mount}), next to accounts.conf`);
  return join("ops/nats", conf.slice(mount.length + 1));
}

const opsbusServices = () => Object.entries(compose.services).filter(([, s]) => s.build);
const natsServices = () => Object.entries(compose.services).filter(([, s]) => s.image?.startsWith("nats"));
/** `${NAME:-default}` → its default, as compose would resolve it with NAME unset. */
const resolved = (v: unknown) => String(v).replace(/\$\{([A-Z_]+):[-?]([^}]*)\}/g, "$2");

test("compose: every service has an image or a build, known dependencies, declared volumes", () => {
  const names = Object.keys(compose.services);
  for (const [name, svc] of Object.entries(compose.services)) {
    assert.ok(svc.image || svc.build, `${name} has an image or a build`);
    for (const dep of Object.keys(svc.depends_on ?? {})) assert.ok(names.includes(dep), `${name} depends on unknown ${dep}`);
    for (const v of svc.volumes ?? []) {
      const src = v.split(":")[0]!;
      if (!src.startsWith(".") && !src.startsWith("/")) assert.ok(compose.volumes && src in compose.volumes, `volume ${src} declared`);
      else assert.ok(existsSync(src), `${src} exists`);
    }
  }
  assert.ok(compose.services.nats?.healthcheck && compose.services.postgres?.healthcheck);
});

test("compose: opsbus services run known roles with the Postgres backend and an env opsbus accepts", () => {
  for (const name of ["opsbus", "ingest", "triage", "graphs", "scheduler", "jobs"]) {
    const svc = compose.services[name]!;
    assert.is(svc.environment?.ALERT_BACKEND, "postgres");
    for (const prefix of Object.values(STORE_ENV_PREFIX)) assert.is(svc.environment?.[`${prefix}_BACKEND`], "postgres", `${name}: ${prefix}_BACKEND`);
    assert.ok(ROLES.includes(svc.command![1] as Role), `${name} runs a known role`);
    const env = Object.fromEntries(Object.entries(svc.environment ?? {}).map(([k, v]) => [k, String(v).replace(/\$\{([A-Z_]+):[-?]([^}]*)\}/g, "$2")]));
    env.OPSBUS_API_KEYS = "sofiia=k1";
    assert.not.throws(() => loadEnv(env), `${name}'s environment passes opsbus's env validation`);
  }
});

test("compose: every opsbus service has a healthcheck; NATS is an official 2.x image with the sync_interval: always config", () => {
  for (const [name, svc] of Object.entries(compose.services)) {
    assert.ok(svc.healthcheck, `${name} has a healthcheck`);
    if (!svc.image?.startsWith("nats")) continue;
    assert.match(svc.image, /^nats:2\.\d+(-alpine)?$/, `${name}: official nats 2.x image`);
    const conf = natsConfOf(svc);
    assert.match(readFileSync(conf, "utf8"), /sync_interval:\s*always/, `${conf}: fsync every write`);
    assert.ok(svc.volumes!.some((v) => v.endsWith(":/data/jetstream") && !v.startsWith(".")), `${name}: JetStream store on a named volume`);
  }
});

test("compose profile cluster: three routed JetStream nodes and opsbus with R3 streams on all of them", () => {
  const nodes = Object.entries(compose.services).filter(([, s]) => s.profiles?.includes("cluster") && s.image?.startsWith("nats"));
  assert.equal(nodes.map(([n]) => n).sort(), ["nats1", "nats2", "nats3"]);
  nodes.forEach(([name, svc], i) => {
    const conf = readFileSync(`ops/nats/cluster-n${i + 1}.conf`, "utf8");
    assert.is(natsConfOf(svc), `ops/nats/cluster-n${i + 1}.conf`, `${name} runs cluster-n${i + 1}.conf`);
    for (const [peer] of nodes) assert.ok(conf.includes(`nats-route://${peer}:6222`), `cluster-n${i + 1}.conf routes to ${peer}`);
  });
  const r3 = compose.services["opsbus-r3"]!;
  assert.equal(r3.profiles, ["cluster"]);
  assert.is(String(r3.environment?.OPS_STREAM_REPLICAS), "3");
  assert.equal(r3.environment?.NATS_URL?.split(",").map((u) => new URL(u).hostname).sort(), ["nats1", "nats2", "nats3"]);
  assert.equal(Object.keys(r3.depends_on ?? {}).sort(), ["nats1", "nats2", "nats3", "postgres"]);
  const env = Object.fromEntries(Object.entries(r3.environment ?? {}).map(([k, v]) => [k, String(v).replace(/\$\{([A-Z_]+):[-?]([^}]*)\}/g, "$2")]));
  assert.is(loadEnv({ ...env, OPSBUS_API_KEYS: "sofiia=k1" }).OPS_STREAM_REPLICAS, 3);
  for (const prefix of Object.values(STORE_ENV_PREFIX)) assert.is(env[`${prefix}_BACKEND`], "postgres");
  // Default services stay on the single server: a plain `docker compose up` starts no cluster.
  for (const [name, svc] of Object.entries(compose.services)) if (!svc.profiles) assert.not.ok(Object.keys(svc.depends_on ?? {}).some((d) => /^nats\d$/.test(d)), `${name} needs no cluster node`);
});

test("Dockerfile: multi-stage build, runs as a non-root user", () => {
  const lines = readFileSync("Dockerfile", "utf8").split("\n").map((l) => l.trim());
  assert.ok(lines.filter((l) => /^FROM\s/i.test(l)).length >= 2, "a build stage and a runtime stage");
  assert.ok(lines.some((l) => /^COPY\s+--from=/i.test(l)), "the runtime stage copies the build's output");
  const user = lines.filter((l) => /^USER\s/i.test(l)).at(-1);
  assert.ok(user && !/^USER\s+(root|0)(:|$)/i.test(user), `runs as ${user ?? "root"}`);
});

/** `docker-compose config` (Debian's v1, no engine needed) checks syntax, anchors, interpolation and profiles. */
const composeBin = spawnSync("docker-compose", ["version"], { encoding: "utf8" }).status === 0;

test("docker-compose config accepts docker-compose.yml, with and without the cluster profile", () => {
  if (!composeBin) {
    // CI installs it (.ci/run); anywhere else its absence is a skip that says so, not a pass.
    assert.is(process.env.CI, undefined, "docker-compose is missing in CI: .ci/run installs it (apt-get install docker-compose)");
    console.warn("SKIPPED docker-compose config check: docker-compose not installed (apt-get install docker-compose)");
    return;
  }
  const env = { ...process.env, OPSBUS_API_KEYS: "sofiia=k1" };
  const plain = spawnSync("docker-compose", ["-f", "docker-compose.yml", "config", "--services"], { encoding: "utf8", env });
  assert.is(plain.status, 0, plain.stderr);
  assert.equal(plain.stdout.trim().split("\n").sort(), Object.keys(compose.services).sort(), "compose and the YAML parser see the same services");
  const cluster = spawnSync("docker-compose", ["-f", "docker-compose.yml", "--profile", "cluster", "config", "-q"], { encoding: "utf8", env });
  assert.is(cluster.status, 0, cluster.stderr);
  const noKeys = spawnSync("docker-compose", ["-f", "docker-compose.yml", "config", "-q"], { encoding: "utf8", env: { ...process.env, OPSBUS_API_KEYS: "" } });
  assert.match(noKeys.stderr, /OPSBUS_API_KEYS/, "an unset key list stops compose with a message naming it");
});

/** ops/nats/dev.env as variables. */
const devPasswords = () =>
  Object.fromEntries(readFileSync("ops/nats/dev.env", "utf8").split("\n").filter((l) => /^[A-Z_]+=/.test(l)).map((l) => [l.split("=")[0]!, l.slice(l.indexOf("=") + 1)]));

test("ops/nats configs pass nats-server -t (2.10-only keys tolerated on an older local server)", () => {
  const dir = mkdtempSync(join(tmpdir(), "natscfg-"));
  for (const file of readdirSync("ops/nats").filter((f) => f.endsWith(".conf"))) {
    writeFileSync(join(dir, file), readFileSync(join("ops/nats", file), "utf8").replaceAll("/data/jetstream", join(dir, "js")));
  }
  for (const file of readdirSync("ops/nats").filter((f) => f.endsWith(".conf"))) {
    const path = join(dir, file);
    const r = spawnSync("nats-server", ["-t", "-c", path], { encoding: "utf8", env: { ...process.env, ...devPasswords() } });
    const problems = (r.stderr + r.stdout).split("\n").filter((l) => l.trim() && !/unknown field "sync_interval"/.test(l) && !/configuration file .* (is valid|test is successful)/i.test(l));
    assert.equal(problems, [], `${file}: ${problems.join("; ")}`);
  }
});

test("ops/nats: every server config includes accounts.conf; without its passwords the server refuses to start", () => {
  const servers = readdirSync("ops/nats").filter((f) => f.endsWith(".conf") && f !== "accounts.conf");
  assert.equal(servers.sort(), ["cluster-n1.conf", "cluster-n2.conf", "cluster-n3.conf", "single.conf"]);
  for (const file of servers) assert.match(readFileSync(join("ops/nats", file), "utf8"), /^include \.\/accounts\.conf$/m, `${file} enforces the users and permissions`);
  const accounts = readFileSync("ops/nats/accounts.conf", "utf8");
  const variables = [...new Set([...accounts.matchAll(/\$(NATS_[A-Z_]+)/g)].map((m) => m[1]!))].sort();
  assert.equal(variables, Object.keys(devPasswords()).sort(), "dev.env sets every password accounts.conf reads");
  for (const user of ["opsbus", "monitor", "agent", "scheduler", "admin"]) assert.match(accounts, new RegExp(`user: ${user}\\n`), `user ${user}`);
  const dir = mkdtempSync(join(tmpdir(), "natscfg-"));
  for (const file of ["single.conf", "accounts.conf"]) writeFileSync(join(dir, file), readFileSync(join("ops/nats", file), "utf8").replaceAll("/data/jetstream", join(dir, "js")));
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("NATS_")));
  const r = spawnSync("nats-server", ["-t", "-c", join(dir, "single.conf")], { encoding: "utf8", env });
  assert.is.not(r.status, 0);
  assert.match(r.stderr + r.stdout, /variable reference for 'NATS_[A-Z_]+_PASSWORD'.*can not be found/);
});

test("ops/nats/single.conf listens on loopback only (clients and monitoring)", () => {
  const conf = readFileSync("ops/nats/single.conf", "utf8").split("\n").filter((l) => !l.trim().startsWith("#")).join("\n");
  assert.match(conf, /^host: 127\.0\.0\.1$/m);
  assert.match(conf, /^http_port: 8222$/m, "monitoring binds the same (loopback) host");
  assert.not.match(conf, /0\.0\.0\.0|^listen:|^http:/m);
});

test("compose: published ports on the host's loopback only; NATS servers get every password accounts.conf reads", () => {
  for (const [name, svc] of Object.entries(compose.services)) {
    for (const p of svc.ports ?? []) assert.match(p, /^127\.0\.0\.1:\d+:\d+$/, `${name} publishes ${p} on loopback only`);
  }
  const wanted = Object.keys(devPasswords()).sort();
  for (const [name, svc] of natsServices()) {
    assert.equal(Object.keys(svc.environment ?? {}).sort(), wanted, `${name}'s passwords`);
    for (const k of wanted) assert.match(String(svc.environment![k]), new RegExp(`^\\$\\{${k}:-`), `${name}: ${k} from the host's environment`);
  }
  const single = compose.services.nats!;
  assert.equal(single.command!.slice(-2), ["-a", "0.0.0.0"], "in its container NATS listens on its interfaces (published on loopback)");
});

test("compose: every opsbus process connects as the opsbus user and its healthcheck asks its own /healthz on METRICS_PORT", () => {
  const natsEnv = compose.services.nats!.environment!;
  assert.ok(opsbusServices().length >= 7);
  for (const [name, svc] of opsbusServices()) {
    const env = svc.environment!;
    assert.is(env.NATS_USER, "opsbus", `${name}: NATS_USER`);
    assert.is(env.NATS_PASSWORD, natsEnv.NATS_OPSBUS_PASSWORD, `${name}: the password the server expects`);
    const port = Number(env.METRICS_PORT);
    assert.ok(port > 0, `${name}: METRICS_PORT`);
    const probe = (svc.healthcheck?.test ?? []).join(" ");
    assert.ok(probe.includes(`http://127.0.0.1:${port}/healthz`), `${name}: healthcheck on its own port: ${probe}`);
    assert.not.ok(probe.includes("cli.js"), `${name}: not a CLI call another process answers`);
    const parsed = loadEnv({ ...Object.fromEntries(Object.entries(env).map(([k, v]) => [k, resolved(v)])), OPSBUS_API_KEYS: "sofiia=k1" });
    assert.equal([parsed.NATS_USER, parsed.NATS_PASSWORD, parsed.METRICS_PORT], ["opsbus", "opsbus-dev", port]);
  }
});

test.run();
