/** docker-compose.yml and ops/nats configs, checked without a Docker engine. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { loadEnv, STORE_ENV_PREFIX } from "../../src/config/env.js";
import { ROLES, type Role } from "../../src/roles.js";

type Service = { image?: string; build?: unknown; command?: string[]; environment?: Record<string, string>; depends_on?: Record<string, unknown>; volumes?: string[]; healthcheck?: unknown; profiles?: string[] };
const compose = parse(readFileSync("docker-compose.yml", "utf8"), { merge: true }) as { services: Record<string, Service>; volumes?: Record<string, unknown> };

test("compose: every service has an image or a build, known dependencies, declared volumes", () => {
  const names = Object.keys(compose.services);
  for (const [name, svc] of Object.entries(compose.services)) {
    assert.ok(svc.image || svc.build, `${name} has an image or a build`);
    for (const dep of Object.keys(svc.depends_on ?? {})) assert.ok(names.includes(dep), `${name} depends on unknown ${dep}`);
    for (const v of svc.volumes ?? []) {
      const src = v.split(":")[0]!;
      if (!src.startsWith(".") && !src.startsWith("/")) assert.ok(compose.volumes && src in compose.volumes, `volume ${src} declared`);
      else assert.ok(readFileSync(src), `${src} exists`);
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
    const conf = svc.volumes!.find((v) => v.startsWith("./ops/nats/"))!.split(":")[0]!;
    assert.match(readFileSync(conf, "utf8"), /sync_interval:\s*always/, `${conf}: fsync every write`);
    assert.ok(svc.volumes!.some((v) => v.endsWith(":/data/jetstream") && !v.startsWith(".")), `${name}: JetStream store on a named volume`);
  }
});

test("compose profile cluster: three routed JetStream nodes and opsbus with R3 streams on all of them", () => {
  const nodes = Object.entries(compose.services).filter(([, s]) => s.profiles?.includes("cluster") && s.image?.startsWith("nats"));
  assert.equal(nodes.map(([n]) => n).sort(), ["nats1", "nats2", "nats3"]);
  nodes.forEach(([name, svc], i) => {
    const conf = readFileSync(`ops/nats/cluster-n${i + 1}.conf`, "utf8");
    assert.ok(svc.volumes!.includes(`./ops/nats/cluster-n${i + 1}.conf:/etc/nats/nats-server.conf:ro`), `${name} runs cluster-n${i + 1}.conf`);
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

test("ops/nats configs pass nats-server -t (2.10-only keys tolerated on an older local server)", () => {
  const dir = mkdtempSync(join(tmpdir(), "natscfg-"));
  for (const file of readdirSync("ops/nats").filter((f) => f.endsWith(".conf"))) {
    const path = join(dir, file);
    writeFileSync(path, readFileSync(join("ops/nats", file), "utf8").replaceAll("/data/jetstream", join(dir, "js")));
    const r = spawnSync("nats-server", ["-t", "-c", path], { encoding: "utf8" });
    const problems = (r.stderr + r.stdout).split("\n").filter((l) => l.trim() && !/unknown field "sync_interval"/.test(l) && !/configuration file .* (is valid|test is successful)/i.test(l));
    assert.equal(problems, [], `${file}: ${problems.join("; ")}`);
  }
});

test.run();
