/** A job runner process with test_tool registered (for kill -9 tests): `node --import tsx test/harness/job-runner-main.ts`. */
import { buildContext } from "../../src/app/runtime.js";
import { startRunnerWithHoldTool } from "./jobs.js";

const ctx = await buildContext({ name: "job-runner-test" });
const worker = await startRunnerWithHoldTool(ctx);
const stop = async () => {
  await worker.stop();
  await ctx.close();
  process.exit(0);
};
process.once("SIGTERM", () => void stop());
process.once("SIGINT", () => void stop());
