import { test } from "uvu";
import * as assert from "uvu/assert";
import { redactParams, REDACTION_BOUNDS } from "../../src/gateway/index.js";
import { scrubSecrets } from "../../src/log.js";

const KEYS = ["password", "token", "api_key"];

test("values under secret-looking keys become *** (case-insensitive substring)", () => {
  const out = redactParams({ user: "u", DB_PASSWORD: "p", accessToken: "t", my_api_key_2: "k", list: [{ token: "x" }] }, KEYS);
  assert.equal(out, { user: "u", DB_PASSWORD: "***", accessToken: "***", my_api_key_2: "***", list: [{ token: "***" }] });
});

test("a secret key hides a whole nested value", () => {
  assert.equal(redactParams({ token: { a: 1 } }, KEYS), { token: "***" });
});

test("bearer tokens and DSN passwords inside strings are masked", () => {
  const out = redactParams({ note: "use Bearer abc123 against postgres://u:pw@h:5432/db" }, KEYS);
  assert.is(out.note, "use Bearer *** against postgres://u:***@h:5432/db");
});

test("Basic credentials after Authorization are masked; the word basic elsewhere is not", () => {
  const out = redactParams({ note: 'sent Authorization: Basic bW9uaXRvcjprLW1vbml0b3I= and "authorization":"basic YTpi"; basic checks passed' }, KEYS);
  assert.is(out.note, 'sent Authorization: Basic *** and "authorization":"basic ***"; basic checks passed');
});

test("long strings are cut, deep structures and long arrays trimmed", () => {
  const deep: Record<string, unknown> = {};
  let cur = deep;
  for (let i = 0; i < 20; i++) cur = (cur.n = {}) as Record<string, unknown>;
  const out = redactParams({ s: "z".repeat(3000), deep, arr: Array.from({ length: 500 }, (_, i) => i) }, KEYS);
  assert.ok(String(out.s).startsWith("z".repeat(REDACTION_BOUNDS.maxStringChars)));
  assert.match(String(out.s), "cut 2488 chars");
  assert.match(JSON.stringify(out.deep), "[depth limit]");
  const arr = out.arr as unknown[];
  assert.is(arr.length, REDACTION_BOUNDS.maxArrayItems + 1);
  assert.is(arr.at(-1), "[400 more items]");
});

test("megabyte strings redact in linear time and a secret near the cut is still masked", () => {
  // Unbounded regexes here once backtracked quadratically: an 80 KB param blocked the gateway for 14 s.
  const long = "a".repeat(500) + " Bearer sk-live-123456 " + "postgres".repeat(300_000);
  const out = redactParams({ content: long, dsn_like: "x postgres://u:pw@db/x" }, KEYS);
  assert.not.match(String(out.content), "sk-live-123456");
  assert.match(String(out.content), `cut ${long.length - REDACTION_BOUNDS.maxStringChars} chars`);
  assert.equal(scrubSecrets("s3cr3t ".repeat(200_000)).length, 1_400_000);
});

test("non-object params are wrapped, absent params are {}", () => {
  assert.equal(redactParams(undefined, KEYS), {});
  assert.equal(redactParams([1], KEYS), { value: [1] });
  assert.equal(redactParams("x", KEYS), { value: "x" });
});

test.run();
