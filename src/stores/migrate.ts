/**
 * Numbered SQL migrations from `ops/migrations/NNN_name.sql`, applied in order, one transaction
 * each, recorded in `opsbus_migrations`. Processes starting together serialise on an advisory
 * lock, and the DDL itself uses IF NOT EXISTS, so running twice (or concurrently) is harmless.
 */
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Pool } from "./pg.js";
import { withTransaction } from "./pg.js";

export interface Migration {
  id: number;
  /** File name, e.g. `001_alerts.sql`. */
  name: string;
  sql: string;
}

export interface MigrateOptions {
  /** Report the DDL of pending migrations without applying anything. */
  dryRun?: boolean;
  log?: (line: string) => void;
  /** Defaults to `<package root>/ops/migrations`. */
  dir?: string;
}

export interface MigrateResult {
  /** Names applied by this call (none on a dry run). */
  applied: string[];
  /** Names still pending after this call (all pending ones on a dry run). */
  pending: string[];
  /** The SQL of the migrations applied (or, on a dry run, that would be). */
  ddl: string;
}

const MIGRATION_FILE = /^(\d+)_[A-Za-z0-9_-]+\.sql$/;
/** Any constant works; it only has to be the same in every opsbus process. */
const LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtext('opsbus_migrations'))";
const TABLE_SQL = `CREATE TABLE IF NOT EXISTS opsbus_migrations (
  id integer PRIMARY KEY,
  name text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
)`;

/** Walks up from this module (src/stores or dist/src/stores) to the directory with package.json. */
export function defaultMigrationsDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, "package.json"))) return join(dir, "ops", "migrations");
    const parent = dirname(dir);
    if (parent === dir) throw new Error("migrations: no package.json above " + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

export async function loadMigrations(dir = defaultMigrationsDir()): Promise<Migration[]> {
  const names = (await readdir(dir)).filter((n) => MIGRATION_FILE.test(n));
  const migrations = await Promise.all(
    names.map(async (name) => ({
      id: Number(MIGRATION_FILE.exec(name)?.[1]),
      name,
      sql: await readFile(join(dir, name), "utf8"),
    })),
  );
  migrations.sort((a, b) => a.id - b.id);
  for (let i = 1; i < migrations.length; i++) {
    if (migrations[i]?.id === migrations[i - 1]?.id) {
      throw new Error(`migrations: two files share number ${migrations[i]?.id} in ${dir}`);
    }
  }
  return migrations;
}

async function appliedIds(pool: Pool): Promise<Set<number> | null> {
  const exists = await pool.query<{ t: string | null }>("SELECT to_regclass('opsbus_migrations')::text AS t");
  if (!exists.rows[0]?.t) return null;
  const rows = await pool.query<{ id: number }>("SELECT id FROM opsbus_migrations");
  return new Set(rows.rows.map((r) => r.id));
}

function ddlOf(migrations: Migration[]): string {
  return migrations.map((m) => `-- ${m.name}\n${m.sql.trimEnd()}\n`).join("\n");
}

export async function migrate(pool: Pool, opts: MigrateOptions = {}): Promise<MigrateResult> {
  const log = opts.log ?? (() => {});
  const all = await loadMigrations(opts.dir);
  const done = await appliedIds(pool);
  const pending = all.filter((m) => !done?.has(m.id));

  if (opts.dryRun) {
    const ddl = ddlOf(pending);
    log(pending.length ? `migrate: dry run, ${pending.length} pending` : "migrate: dry run, nothing pending");
    if (pending.length) log(ddl);
    return { applied: [], pending: pending.map((m) => m.name), ddl };
  }
  if (pending.length === 0) return { applied: [], pending: [], ddl: "" };

  const applied: Migration[] = [];
  for (const m of pending) {
    const ran = await withTransaction(pool, async (client) => {
      await client.query(LOCK_SQL);
      await client.query(TABLE_SQL);
      const seen = await client.query("SELECT 1 FROM opsbus_migrations WHERE id = $1", [m.id]);
      if (seen.rowCount) return false; // another process applied it while we waited for the lock
      await client.query(m.sql);
      await client.query("INSERT INTO opsbus_migrations (id, name) VALUES ($1, $2)", [m.id, m.name]);
      return true;
    });
    if (ran) {
      applied.push(m);
      log(`migrate: applied ${m.name}`);
    }
  }
  return { applied: applied.map((m) => m.name), pending: [], ddl: ddlOf(applied) };
}
