/** `nestsDeeperThan` (the HTTP edge's nesting scan) against a plain character-by-character reference, on random JSON-ish text. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { nestsDeeperThan } from "../../src/gateway/decode.js";
import { seededRng } from "../harness/fuzz.js";

/** Brackets outside strings; a backslash inside a string skips the next character. */
function reference(text: string, max: number): boolean {
  if (text.length < 8192) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "{" || c === "[") {
      if (++depth > max) return true;
    } else if (c === "}" || c === "]") depth--;
  }
  return false;
}

test("agrees with the reference on random text of brackets, quotes and backslash runs", () => {
  const r = seededRng(3);
  const pieces = ["[", "]", "{", "}", '"', "\\", "\\\\", '\\"', "a", " ", ":", ",", '"x"', "😀"];
  let deep = 0;
  for (let n = 0; n < 3000; n++) {
    const parts: string[] = [];
    let len = 0;
    const target = 8192 + r.int(600);
    // Bracket-heavy or string-heavy, so both answers come up.
    const bias = r.next();
    while (len < target) {
      const p = r.chance(bias) ? r.pick(["[", "{", "]", "}"]) : r.pick(pieces);
      parts.push(p);
      len += p.length;
    }
    const text = parts.join("");
    for (const max of [2, 8, 64]) {
      const want = reference(text, max);
      if (want) deep++;
      assert.is(nestsDeeperThan(text, max), want, `max ${max}: ${text.slice(0, 200)}…`);
    }
  }
  assert.ok(deep > 500 && deep < 8500, `${deep} of 9000 answers were "deeper": the inputs should cover both`);
});

test("an Alertmanager body with escaped quotes and brackets inside strings is not deep; real nesting is", () => {
  const alert = JSON.stringify({ labels: { a: 'x"]]]]}}}}\\', b: "[[[[{{{{" }, annotations: { s: '\\"[' } });
  const body = `[${Array.from({ length: 200 }, () => alert).join(",")}]`;
  assert.not.ok(nestsDeeperThan(body));
  assert.ok(nestsDeeperThan(`${"[".repeat(65)}${" ".repeat(8192)}${"]".repeat(65)}`));
  assert.not.ok(nestsDeeperThan(`${"[".repeat(64)}${" ".repeat(8192)}${"]".repeat(64)}`));
});

test.run();
