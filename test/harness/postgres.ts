import { randomBytes } from "node:crypto";
import pg from "pg";

const DEFAULT_BASE_URL = "postgres://postgres@127.0.0.1:5432/postgres";

export interface TestDatabase {
  /** Connection URL of the fresh database. */
  url: string;
  name: string;
  /** Drops the database, disconnecting anyone still using it; safe to call twice. */
  drop(): Promise<void>;
}

/**
 * A small pool for a test's own queries. An idle connection the server closes (a database dropped
 * WITH (FORCE), an outage the test causes) is not a crash of the test process.
 */
export function testPool(url: string, max = 2): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max });
  pool.on("error", () => {});
  return pool;
}

/** Runs one statement on the maintenance database (CREATE/DROP DATABASE cannot run inside it). */
async function onBase(baseUrl: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: baseUrl, connectionTimeoutMillis: 5_000 });
  client.on("error", () => {});
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/**
 * A fresh, uniquely named database on the shared server (TEST_DATABASE_URL, default the local
 * `postgres` database), so each suite starts empty and never sees another suite's rows.
 */
export async function createTestDatabase(opts: { baseUrl?: string } = {}): Promise<TestDatabase> {
  const baseUrl = opts.baseUrl ?? process.env.TEST_DATABASE_URL ?? DEFAULT_BASE_URL;
  // pid + random: unique across parallel test processes, and says who left it behind.
  const name = `opsbus_test_${process.pid}_${randomBytes(4).toString("hex")}`;
  await onBase(baseUrl, `CREATE DATABASE "${name}"`);
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: () => onBase(baseUrl, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`),
  };
}
