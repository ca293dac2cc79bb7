/** `jobs_tool.export` pages: runs created in one instant never make a page repeat itself. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { exportLedger, parseExport } from "../../src/jobs/export.js";
import { MemoryJobLedgerStore } from "../../src/stores/jobs/memory.js";
import { jobHeader } from "../conformance/jobLedger.js";

const T = Date.parse("2026-03-02T06:00:00.000Z");
const at = (ms: number) => new Date(T + ms);

/** Pages as `opsbus job export` follows them, stopping if a page would loop. */
async function allPages(store: MemoryJobLedgerStore, limit: number): Promise<{ ids: string[]; pages: number }> {
  let since = at(-1000).toISOString();
  const until = at(60_000).toISOString();
  const ids: string[] = [];
  for (let pages = 1; pages <= 50; pages++) {
    const { ndjson, manifest } = await exportLedger(store, { since, until, limit }, at(120_000));
    ids.push(...parseExport(ndjson).flatMap((row) => (row.kind === "run" ? [row.data.id] : [])));
    if (!manifest.truncated) return { ids, pages };
    assert.ok(Date.parse(manifest.next_since!) > Date.parse(since) || pages === 1, `page ${pages} does not move on from ${since}`);
    since = manifest.next_since!;
  }
  throw new Error("export pages never ended");
}

test("runs sharing one created_at are each exported once, whatever the page size, and paging ends", async () => {
  const store = new MemoryJobLedgerStore();
  const created: string[] = [];
  // Three runs in one millisecond (a scheduler's catch-up), then two later ones.
  for (const [i, ms] of [0, 0, 0, 5, 9].entries()) created.push((await store.createRun(jobHeader({ key: `t@${i}`, created_at: at(ms).toISOString() }), at(ms))).run.id);
  for (const limit of [1, 2, 3, 10]) {
    const { ids, pages } = await allPages(store, limit);
    assert.equal([...ids].sort(), [...created].sort(), `limit ${limit}: every run once`);
    assert.ok(limit >= 5 ? pages === 1 : pages >= 2, `limit ${limit}: ${pages} pages`);
  }
});

test.run();
