/** Alertmanager label matchers: its parser's syntax and errors, anchored RE2 regexes. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { matchesAll, MatcherError, parseMatcher } from "../../src/silences/matchers.js";

const parse = (s: string) => {
  const m = parseMatcher(s);
  return [m.name, m.type, m.value];
};

test("the four operators, quoted and bare values, escapes, whitespace", () => {
  assert.equal(parse('alertname="X"'), ["alertname", "=", "X"]);
  assert.equal(parse("alertname=X"), ["alertname", "=", "X"]);
  assert.equal(parse(' severity != "info" '), ["severity", "!=", "info"]);
  assert.equal(parse('job=~"api|web"'), ["job", "=~", "api|web"]);
  assert.equal(parse('job!~"db.*"'), ["job", "!~", "db.*"]);
  assert.equal(parse('q="say \\"hi\\"\\n\\\\ \\x"'), ["q", "=", 'say "hi"\n\\ \\x']);
  assert.equal(parse("empty="), ["empty", "=", ""]);
});

test("refusals use Alertmanager's wording", () => {
  const err = (s: string) => {
    try {
      parseMatcher(s);
    } catch (e) {
      assert.instance(e, MatcherError);
      return (e as Error).message;
    }
    throw new Error(`accepted ${s}`);
  };
  assert.is(err("0bad=x"), "bad matcher format: 0bad=x");
  assert.is(err("nameonly"), "bad matcher format: nameonly");
  assert.is(err('a="b'), 'matcher value contains unescaped double quote: "b');
  assert.is(err('a=b"c'), 'matcher value contains unescaped double quote: b"c');
  assert.match(err('a=~"("'), /^error parsing regexp: missing closing \)/);
});

test("regexes are fully anchored; a missing label is the empty string", () => {
  const m = parseMatcher('job=~"api|web"');
  assert.equal([m.matches("api"), m.matches("web"), m.matches("apix"), m.matches("xapi")], [true, true, false, false]);
  assert.ok(matchesAll([parseMatcher("team=")], { job: "x" }));
  assert.ok(!matchesAll([parseMatcher("team!=")], { job: "x" }));
  assert.ok(matchesAll([parseMatcher('job=~"a.*"'), parseMatcher("env!=dev")], { job: "abc", env: "prod" }));
  assert.ok(!matchesAll([parseMatcher('job=~"a.*"'), parseMatcher("env!=dev")], { job: "abc", env: "dev" }));
});

test("a catastrophic-backtracking pattern runs in linear time (RE2, not a JS RegExp)", () => {
  const m = parseMatcher('x=~"(a+)+$"');
  const started = performance.now();
  assert.ok(!m.matches(`${"a".repeat(5000)}b`));
  assert.ok(performance.now() - started < 1000);
});

test.run();
