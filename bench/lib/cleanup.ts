/**
 * Teardown steps registered as resources come up and run in reverse, once, whatever happened:
 * normal end, a thrown error, or Ctrl-C. A failing step is reported and the rest still run.
 */
import { say } from "./progress.js";

type Step = { label: string; fn: () => unknown };

export class Cleanup {
  private readonly steps: Step[] = [];
  private running: Promise<void> | null = null;

  defer(label: string, fn: () => unknown): void {
    this.steps.push({ label, fn });
  }

  run(): Promise<void> {
    return (this.running ??= (async () => {
      for (const step of this.steps.reverse()) {
        try {
          await step.fn();
        } catch (err) {
          say(`cleanup: ${step.label} failed: ${(err as Error).message}`);
        }
      }
    })());
  }

  /** Runs cleanup and exits on SIGINT/SIGTERM; returns the uninstaller. */
  onSignals(): () => void {
    const handler = (sig: NodeJS.Signals) => {
      say(`${sig}: cleaning up…`);
      void this.run().finally(() => process.exit(130));
    };
    process.once("SIGINT", handler);
    process.once("SIGTERM", handler);
    return () => {
      process.off("SIGINT", handler);
      process.off("SIGTERM", handler);
    };
  }
}
