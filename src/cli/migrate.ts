import { parseArgs } from "node:util";
import { maskDsn } from "../log.js";
import { createPool } from "../stores/pg.js";
import { loadMigrations, migrate } from "../stores/migrate.js";

const HELP = `opsbus migrate [--dry-run] [--dsn URL]

Applies the numbered SQL migrations in ops/migrations to Postgres; safe to re-run.
--dry-run prints the DDL that would run (every migration when no database answers).
DSN: --dsn, else ALERT_DATABASE_URL, AUDIT_DATABASE_URL, DATABASE_URL.`;

export async function runMigrate(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { "dry-run": { type: "boolean" }, dsn: { type: "string" }, help: { type: "boolean", short: "h" } } });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const dsn = values.dsn ?? process.env.ALERT_DATABASE_URL ?? process.env.AUDIT_DATABASE_URL ?? process.env.DATABASE_URL;
  const dryRun = values["dry-run"] ?? false;
  if (!dsn) {
    if (!dryRun) {
      console.error("no database: pass --dsn or set DATABASE_URL (or use --dry-run to print the DDL)");
      return 2;
    }
    for (const m of await loadMigrations()) console.log(`-- ${m.name}\n${m.sql.trim()}\n`);
    return 0;
  }
  const pool = createPool(dsn);
  try {
    console.error(`migrating ${maskDsn(dsn)}${dryRun ? " (dry run)" : ""}`);
    const result = await migrate(pool, { dryRun, log: (line) => console.error(line) });
    if (dryRun) console.log(result.ddl || "-- nothing pending");
    else console.error(result.applied.length ? `applied: ${result.applied.join(", ")}` : "up to date");
    return 0;
  } finally {
    await pool.end();
  }
}
