/**
 * The node flags every opsbus process is started with: the Docker image's entry point, `npm
 * start`, `bin/opsbus` and the benchmarks pass these (test/unit/node-flags.test.ts keeps them in
 * step). A 32 MB semi-space (Node 20's default is 16) lets an ingest window's alerts, which live
 * across their Postgres round trips, die young instead of being copied by every scavenge.
 */
export const NODE_FLAGS = ["--max-semi-space-size=32"] as const;
