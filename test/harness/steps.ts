/**
 * Tests that each build on the one before (an alert's life through a real sender): after one
 * fails, the rest fail at once, naming it, instead of each waiting out its timeouts.
 */
import type { Test } from "uvu";
import * as assert from "uvu/assert";

export function dependentSteps(test: Test): (name: string, fn: () => Promise<void>) => void {
  let failedStep: string | undefined;
  return (name, fn) =>
    test(name, async () => {
      if (failedStep) assert.unreachable(`not run: an earlier step failed ("${failedStep}")`);
      try {
        await fn();
      } catch (err) {
        failedStep = name;
        throw err;
      }
    });
}
