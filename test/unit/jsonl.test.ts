import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { JsonlLog } from "../../src/stores/jsonl.js";
import { captureLogger } from "../harness/logs.js";

interface Entry {
  id: string;
  v: number;
}

const root = mkdtempSync(join(tmpdir(), "opsbus-jsonl-unit-"));
process.on("exit", () => rmSync(root, { recursive: true, force: true }));
let n = 0;

/** A log over a Map, the way stores use it: the Map is the state, the file follows it. */
function setup(opts: { minDeadLines?: number; path?: string } = {}) {
  const path = opts.path ?? join(root, `case-${++n}`, "log.jsonl");
  const state = new Map<string, Entry>();
  const cap = captureLogger();
  const log = new JsonlLog<Entry>({
    path,
    key: (e) => {
      if (typeof e.id !== "string") throw new Error("no id");
      return e.id;
    },
    snapshot: () => state.values(),
    liveCount: () => state.size,
    logger: cap.logger,
    ...(opts.minDeadLines !== undefined ? { minDeadLines: opts.minDeadLines } : {}),
  });
  const put = async (...entries: Entry[]) => {
    await log.append(entries);
    for (const e of entries) state.set(e.id, e);
    await log.maybeCompact();
  };
  /** Loads the file into the state, as a store's init does. */
  const load = async () => {
    const entries = await log.load();
    for (const e of entries) state.set(e.id, e);
    return entries;
  };
  return { path, state, log, put, load, cap };
}
const fileLines = (path: string) => readFileSync(path, "utf8").split("\n").filter(Boolean);

test("a missing file loads empty; appends create it; last write wins per key", async () => {
  const { path, log, put } = setup();
  assert.equal(await log.load(), []);
  assert.not.ok(existsSync(path));
  await put({ id: "a", v: 1 }, { id: "b", v: 1 });
  await put({ id: "a", v: 2 });
  assert.is(fileLines(path).length, 3);
  await log.close();
  const again = setup({ path });
  assert.equal(await again.load(), [{ id: "a", v: 2 }, { id: "b", v: 1 }]);
  assert.equal(again.log.stats, { lines: 3, live: 2, corrupt: 0, tornTail: false });
});

test("one append is one write: all its lines land together", async () => {
  const { path, log } = setup();
  await log.load();
  await log.append(Array.from({ length: 100 }, (_, i) => ({ id: `k${i}`, v: i })));
  assert.is(fileLines(path).length, 100);
  await log.append([]);
  assert.is(fileLines(path).length, 100);
  await log.close();
});

test("torn last line: ignored on load, truncated before the next append", async () => {
  const { path, log, put, cap } = setup();
  await log.load();
  await put({ id: "a", v: 1 });
  await log.close();
  appendFileSync(path, '{"id":"b","v":');
  const again = setup({ path });
  assert.equal(await again.load(), [{ id: "a", v: 1 }]);
  assert.ok(again.log.stats.tornTail);
  await again.put({ id: "c", v: 1 });
  assert.equal(readFileSync(path, "utf8"), '{"id":"a","v":1}\n{"id":"c","v":1}\n');
  assert.equal([again.log.stats.tornTail, again.cap.lines().length], [false, 1]);
  assert.match(String(again.cap.lines()[0]?.msg), /torn last line/);
  assert.equal(cap.lines(), []);
  await again.log.close();
});

test("corrupt middle lines are skipped, counted and logged", async () => {
  const { path, log } = setup();
  await log.load(); // creates the directory
  writeFileSync(path, '{"id":"a","v":1}\ngarbage\n{"no_id":true}\n[1,2]\n{"id":"b","v":1}\n');
  const again = setup({ path });
  assert.equal(await again.load(), [{ id: "a", v: 1 }, { id: "b", v: 1 }]);
  assert.is(again.log.stats.corrupt, 3);
  assert.equal(again.cap.lines().map((l) => [l.level, l.line]), [[40, 2], [40, 3], [40, 4]]);
  await again.put({ id: "c", v: 1 });
  assert.is(fileLines(path).length, 6, "appends after the corrupt lines");
  await again.log.close();
});

test("compaction: when dead lines outnumber live ones (and the minimum), the file is rewritten", async () => {
  const { path, log, put } = setup({ minDeadLines: 5 });
  await log.load();
  await put({ id: "a", v: 0 }, { id: "b", v: 0 }, { id: "c", v: 0 });
  for (let v = 1; v <= 5; v++) await put({ id: "a", v });
  assert.is(fileLines(path).length, 8, "5 dead lines is not more than the minimum");
  await put({ id: "a", v: 6 });
  assert.equal(fileLines(path).map((l) => JSON.parse(l)), [{ id: "a", v: 6 }, { id: "b", v: 0 }, { id: "c", v: 0 }]);
  assert.equal(log.stats, { lines: 3, live: 3, corrupt: 0, tornTail: false });
  assert.equal(readdirSync(join(path, "..")).filter((f) => f.includes("tmp")), [], "no temp file left");
  await put({ id: "b", v: 1 });
  assert.is(fileLines(path).length, 4, "appends continue after the rewrite");
  await log.close();
});

test("rewrite replaces the content atomically (used to delete)", async () => {
  const { path, log, put } = setup();
  await log.load();
  await put({ id: "a", v: 1 }, { id: "b", v: 1 });
  await log.rewrite([{ id: "b", v: 1 }]);
  await put({ id: "c", v: 1 });
  assert.equal(readFileSync(path, "utf8"), '{"id":"b","v":1}\n{"id":"c","v":1}\n');
  await log.rewrite([]);
  assert.equal(readFileSync(path, "utf8"), "");
  await log.close();
});

test("files larger than a read chunk: lines across chunk boundaries, multi-byte text, a torn tail cut at the right byte", async () => {
  const { path, log } = setup();
  await log.load();
  // Lines of a few hundred bytes to over a megabyte (one line spans several 1 MiB reads), some multi-byte.
  const entries = Array.from({ length: 40 }, (_, i) => ({ id: `e${i}`, v: i, text: (i % 3 ? "x" : "é☃").repeat(i === 7 ? 700_000 : 100 + i * 997) }));
  writeFileSync(path, entries.map((e) => JSON.stringify(e) + "\n").join("") + '{"id":"torn","v":');
  const again = setup({ path });
  assert.equal(await again.load(), entries);
  assert.equal(again.log.stats, { lines: 40, live: 40, corrupt: 0, tornTail: true });
  await again.put({ id: "after", v: 1 } as never);
  const lines = fileLines(path);
  assert.is(lines.length, 41);
  assert.equal(JSON.parse(lines[40]!), { id: "after", v: 1 });
  assert.equal(JSON.parse(lines[7]!), entries[7]);
  await again.log.close();
});

test("rewrite of more than a write chunk: every line, in order, and appends continue at its end", async () => {
  const { path, log, put } = setup({ minDeadLines: Infinity });
  await log.load();
  const many = Array.from({ length: 3000 }, (_, i) => ({ id: `k${i}`, v: i, pad: "ü".repeat(600) }));
  await log.rewrite(many);
  assert.is(log.stats.lines, 3000);
  await put({ id: "tail", v: 1 });
  const lines = fileLines(path);
  assert.equal([lines.length, JSON.parse(lines[2999]!).id, JSON.parse(lines[3000]!)], [3001, "k2999", { id: "tail", v: 1 }]);
  await log.close();
});

test.run();
