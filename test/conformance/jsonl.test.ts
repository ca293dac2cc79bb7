import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { JsonlAlertStore } from "../../src/stores/alerts/jsonl.js";
import { JsonlAuditStore } from "../../src/stores/audit/jsonl.js";
import { JsonlIncidentStore } from "../../src/stores/incidents/jsonl.js";
import { captureLogger } from "../harness/logs.js";
import { runAlertStoreConformance } from "./alertStore.js";
import { runAuditStoreConformance } from "./auditStore.js";
import { backlogBackends, runBacklogStoreConformance } from "./backlogStore.js";
import { jobLedgerBackends, runJobLedgerConformance } from "./jobLedger.js";
import { runIncidentJsonlFiles } from "./incidentJsonl.js";
import { runIncidentStoreConformance } from "./incidentStore.js";
import { at, auditRecord, item, sortRows, T0 } from "./fixtures.js";
import { riskHistoryBackends, runRiskHistoryStoreConformance } from "./riskHistoryStore.js";
import { runWindowReadConformance, type ReopenableHandle } from "./windowReads.js";

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "opsbus-jsonl-"));
  dirs.push(dir);
  return dir;
}
process.on("exit", () => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

runAlertStoreConformance("jsonl", async () => {
  const dir = tempDir();
  const store = new JsonlAlertStore({ path: join(dir, "alerts.jsonl") });
  await store.init();
  return { store, cleanup: () => store.close() };
});

runAuditStoreConformance("jsonl", async () => {
  const dir = tempDir();
  const store = new JsonlAuditStore({ path: join(dir, "audit.jsonl") });
  await store.init();
  return { store, cleanup: () => store.close() };
});

runIncidentStoreConformance("jsonl", async () => {
  const store = new JsonlIncidentStore({ path: join(tempDir(), "incidents.jsonl") });
  await store.init();
  return { store, cleanup: () => store.close() };
});
runIncidentJsonlFiles(tempDir);

/** A JSONL store that can be closed and loaded again from its file (the window reads' indexes are rebuilt on load). */
function reopenable<S extends { init(): Promise<void>; close(): Promise<void> }>(make: (path: string) => S, file: string) {
  return async (): Promise<ReopenableHandle<S>> => {
    const path = join(tempDir(), file);
    const h: ReopenableHandle<S> = {
      store: make(path),
      cleanup: () => h.store.close(),
      async reopen() {
        await h.store.close();
        h.store = make(path);
        await h.store.init();
        return h.store;
      },
    };
    await h.store.init();
    return h;
  };
}
runWindowReadConformance(
  "jsonl",
  reopenable((path) => new JsonlIncidentStore({ path }), "incidents.jsonl"),
  reopenable((path) => new JsonlAlertStore({ path }), "alerts.jsonl"),
);
runBacklogStoreConformance("jsonl", backlogBackends.jsonl(tempDir));
runJobLedgerConformance("jsonl", jobLedgerBackends.jsonl(tempDir));
runRiskHistoryStoreConformance("jsonl", riskHistoryBackends.jsonl(tempDir));

const test = suite("jsonl files");

async function openAlerts(path: string, logger = captureLogger().logger) {
  const store = new JsonlAlertStore({ path, logger });
  await store.init();
  return store;
}

const lines = (path: string) => readFileSync(path, "utf8").split("\n").filter(Boolean);

test("alerts survive close and reopen, with dedupe state and receipts", async () => {
  const path = join(tempDir(), "alerts.jsonl");
  const a = await openAlerts(path);
  const [r] = await a.ingestBatch([item("fp-a", { key: "k1" }), item("fp-a")], T0);
  await a.updateState(r!.alert_ref, {}, { status: "processing", owner: "w1" });
  const before = sortRows(await a.exportRows());
  await a.close();

  const b = await openAlerts(path);
  assert.equal(sortRows(await b.exportRows()), before);
  const [replay, more] = await b.ingestBatch([item("fp-a", { key: "k1" }), item("fp-a")], at(1));
  assert.equal([replay?.replayed, replay?.occurrences], [true, 1]);
  assert.equal([more?.alert_ref, more?.occurrences], [r?.alert_ref, 3]);
  await b.close();
  for (const line of lines(path)) JSON.parse(line);
});

test("a torn last line is ignored, cut off, and the next append works", async () => {
  const path = join(tempDir(), "alerts.jsonl");
  const a = await openAlerts(path);
  await a.ingestBatch([item("fp-a"), item("fp-b")], T0);
  await a.ingestBatch([item("fp-a")], at(1));
  const before = sortRows(await a.exportRows());
  await a.close();
  appendFileSync(path, '{"kind":"alert","data":{"alert_ref":"alrt_torn","fingerp'); // kill -9 mid-write

  const cap = captureLogger();
  const b = await openAlerts(path, cap.logger);
  assert.equal(sortRows(await b.exportRows()), before);
  assert.match(cap.text(), /torn last line/);
  const [r] = await b.ingestBatch([item("fp-c")], at(2));
  await b.close();

  const text = readFileSync(path, "utf8");
  assert.ok(text.endsWith("\n"));
  assert.not.match(text, /alrt_torn/);
  for (const line of lines(path)) JSON.parse(line);
  const c = await openAlerts(path);
  assert.is((await c.exportRows()).length, before.length + 1);
  assert.is((await c.get(r!.alert_ref))?.fingerprint, "fp-c");
  await c.close();
});

test("a corrupt line in the middle is skipped and logged; the rest loads", async () => {
  const path = join(tempDir(), "alerts.jsonl");
  const a = await openAlerts(path);
  const [x] = await a.ingestBatch([item("fp-a")], T0);
  await a.close();
  appendFileSync(path, "not json at all\n");
  const b = await openAlerts(path);
  const [y] = await b.ingestBatch([item("fp-b")], T0);
  await b.close();

  const cap = captureLogger();
  const c = await openAlerts(path, cap.logger);
  assert.ok(await c.get(x!.alert_ref));
  assert.ok(await c.get(y!.alert_ref));
  const warn = cap.lines().find((l) => String(l.msg).includes("corrupt line"));
  assert.equal([warn?.level, warn?.line], [40, 2]);
  await c.close();
});

test("repeated updates are compacted into one line per record", async () => {
  const path = join(tempDir(), "alerts.jsonl");
  const store = new JsonlAlertStore({ path, minDeadLines: 10 });
  await store.init();
  const [r] = await store.ingestBatch([item("fp-a"), item("fp-b")], T0);
  for (let i = 1; i <= 30; i++) await store.ingestBatch([item("fp-a")], at(i / 10));
  assert.ok(lines(path).length <= 2 * 2 + 10, `file has ${lines(path).length} lines`);
  assert.is((await store.get(r!.alert_ref))?.occurrences, 31);
  await store.close();
  const again = await openAlerts(path);
  assert.is((await again.get(r!.alert_ref))?.occurrences, 31);
  await again.close();
});

test("compaction drops receipts older than a day, keeps recent ones", async () => {
  const path = join(tempDir(), "alerts.jsonl");
  const store = new JsonlAlertStore({ path, minDeadLines: 1 });
  await store.init();
  const now = new Date();
  await store.ingestBatch([item("fp-a", { key: "ancient" })], new Date(now.getTime() - 2 * 86_400_000));
  await store.ingestBatch([item("fp-b", { key: "recent" })], now);
  for (let i = 0; i < 5; i++) await store.ingestBatch([item("fp-b")], now);
  const keys = (await store.exportRows()).flatMap((r) => (r.kind === "receipt" ? [r.data.receipt_key] : []));
  assert.equal(keys, ["recent"]);
  await store.close();
});

test("audit records survive reopen and a torn last line", async () => {
  const path = join(tempDir(), "audit.jsonl");
  const a = new JsonlAuditStore({ path });
  await a.init();
  const recs = [auditRecord(), auditRecord()];
  await a.append(recs);
  await a.close();
  appendFileSync(path, '{"kind":"audit","da');
  const b = new JsonlAuditStore({ path });
  await b.init();
  const next = auditRecord();
  await b.append([next]);
  await b.close();
  const c = new JsonlAuditStore({ path });
  await c.init();
  assert.equal((await c.query({ limit: 10 })).map((r) => r.id).sort(), [...recs, next].map((r) => r.id).sort());
  await c.close();
});

test("a record without its final newline (written by hand) is kept", async () => {
  const path = join(tempDir(), "audit.jsonl");
  const rec = auditRecord();
  writeFileSync(path, JSON.stringify({ kind: "audit", data: rec }));
  const s = new JsonlAuditStore({ path });
  await s.init();
  const next = auditRecord();
  await s.append([next]);
  await s.close();
  assert.is(lines(path).length, 2);
  const t = new JsonlAuditStore({ path });
  await t.init();
  assert.is((await t.exportRows()).length, 2);
  await t.close();
});

test.run();
