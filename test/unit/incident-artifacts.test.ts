import { test } from "uvu";
import * as assert from "uvu/assert";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { OpsError } from "../../src/errors.js";
import { attachArtifact, readArtifact, writeArtifact } from "../../src/incidents/artifacts.js";
import { MAX_ARTIFACT_BYTES } from "../../src/incidents/store.js";
import { at, MemoryIncidentStore, seed, tmpDir } from "./incident-fixtures.js";

const NOW = at("2026-03-02T12:00:00Z");
const ID = "inc_20260302_1200_abc123";

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    assert.instance(err, OpsError);
    return (err as OpsError).code;
  }
  throw new Error("expected a failure");
}

const write = (dir: string, name: string, content: string | Buffer, incident_id = ID) =>
  writeArtifact({ dir, incident_id, name, content, created_by: "sofiia", now: NOW });

test("writes <dir>/<incident>/<name> with format, bytes and sha256", async () => {
  const dir = tmpDir("art");
  const rec = await write(dir, "triage_report.md", "# hello\n");
  assert.equal(rec, {
    incident_id: ID,
    name: "triage_report.md",
    format: "md",
    path: `${ID}/triage_report.md`,
    bytes: 8,
    sha256: createHash("sha256").update("# hello\n").digest("hex"),
    created_at: NOW.toISOString(),
    created_by: "sofiia",
  });
  assert.is(readFileSync(join(dir, ID, "triage_report.md"), "utf8"), "# hello\n");
  const withRun = await writeArtifact({ dir, incident_id: ID, name: "r.json", content: Buffer.from('{"a":1}'), created_by: "g", run_id: "run_1", now: NOW });
  assert.equal([withRun.format, withRun.run_id], ["json", "run_1"]);
  // Only the two files: the temp files were renamed away.
  assert.equal(readdirSync(join(dir, ID)).sort(), ["r.json", "triage_report.md"]);
  const back = await readArtifact({ dir, incident_id: ID, name: "triage_report.md" });
  assert.equal([back.content, back.format, back.sha256], ["# hello\n", "md", rec.sha256]);
});

test("rewriting a name replaces the file", async () => {
  const dir = tmpDir("art");
  await write(dir, "notes.txt", "one");
  const rec = await write(dir, "NOTES.TXT", "upper-case extension is still txt");
  assert.is(rec.format, "txt");
  await write(dir, "notes.txt", "two");
  assert.is(readFileSync(join(dir, ID, "notes.txt"), "utf8"), "two");
});

test("refuses other types, naming the allowed ones", async () => {
  const dir = tmpDir("art");
  for (const name of ["run.sh", "image.png", "archive.tar.gz", "README", "x.jsonl"]) {
    try {
      await write(dir, name, "x");
      assert.unreachable(name);
    } catch (err) {
      assert.is((err as OpsError).code, "invalid_request");
      assert.match((err as OpsError).message, "json, md, txt");
    }
  }
  assert.not.ok(existsSync(join(dir, ID)));
});

test("refuses unsafe names and bad incident ids", async () => {
  const dir = tmpDir("art");
  for (const name of ["../escape.md", "a/b.md", "a\\b.md", "..md", ".hidden.md", "a..b.txt", `${"x".repeat(126)}.md`, ""]) {
    assert.is(await codeOf(write(dir, name, "x")), "invalid_request", name);
  }
  for (const id of ["inc_x", "../inc_20260302_1200_abc123", "inc_20260302_1200_ABC", "inc_20260302_12_abc"]) {
    assert.is(await codeOf(write(dir, "a.md", "x", id)), "invalid_request", id);
  }
  assert.equal(readdirSync(dir), []);
});

test("over 2 MB is payload_too_large; exactly 2 MB is fine", async () => {
  const dir = tmpDir("art");
  assert.is(await codeOf(write(dir, "big.txt", Buffer.alloc(MAX_ARTIFACT_BYTES + 1, 0x61))), "payload_too_large");
  const ok = await write(dir, "edge.txt", Buffer.alloc(MAX_ARTIFACT_BYTES, 0x61));
  assert.is(ok.bytes, MAX_ARTIFACT_BYTES);
});

test("json must parse; text must be UTF-8", async () => {
  const dir = tmpDir("art");
  assert.is(await codeOf(write(dir, "bad.json", "{nope")), "invalid_request");
  assert.is(await codeOf(write(dir, "bin.txt", Buffer.from([0xff, 0xfe, 0x00]))), "invalid_request");
  assert.not.ok(existsSync(join(dir, ID, "bad.json")));
});

test("readArtifact: not_found for a missing file", async () => {
  assert.is(await codeOf(readArtifact({ dir: tmpDir("art"), incident_id: ID, name: "none.md" })), "not_found");
});

test("attachArtifact records metadata and one timeline event; a retry of the same bytes adds none", async () => {
  const dir = tmpDir("art");
  const store = new MemoryIncidentStore();
  const inc = await seed(store, { started_at: "2026-03-02T11:00:00Z" });
  const input = { dir, incident_id: inc.id, name: "n.md", content: "# n", created_by: "helion", now: NOW };
  const first = await attachArtifact(store, input);
  const again = await attachArtifact(store, input);
  assert.is(again.replayed, true);
  assert.is(again.event.id, first.event.id);
  assert.equal((await store.artifacts(inc.id)).map((a) => a.name), ["n.md"]);
  assert.is((await store.events({ incident_ids: [inc.id], type: "artifact" })).length, 1);
  assert.is(await codeOf(attachArtifact(store, { ...input, incident_id: "inc_20260302_1200_000000" })), "not_found");
});

test.run();
