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

type Service = { image?: string; build?: unknown; command?: string[]; environment?: Record<string, string>; depends_on?: Record<string, unknown>; volumes?: string[]; healthcheck?: unknown };
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
