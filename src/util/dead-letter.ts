/**
 * A dead-letter file: records a store refused for good, one JSON line each (`{at, source, reason,
 * record}`), so an operator can inspect, fix and replay them. JSON.stringify escapes NUL and lone
 * surrogates, so whatever a store refused can always be written here.
 */
import { appendFile, mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";

export interface DeadLetter {
  /** Which path refused it, e.g. `audit`, `alerts-in`, `alert_store replay`. */
  source: string;
  reason: string;
  record: unknown;
}

/** `<dataDir>/dead-letter/<name>.jsonl`: where each component puts its dead letters. */
export function deadLetterPath(dataDir: string, name: string): string {
  return join(dataDir, "dead-letter", `${name}.jsonl`);
}

export class DeadLetterFile {
  private chain: Promise<void> = Promise.resolve();
  private written = 0;

  constructor(readonly path: string, private readonly now: () => Date = () => new Date()) {}

  /** Appends the letters in order; rejects when the file cannot be written (callers keep the records). */
  write(letters: DeadLetter[]): Promise<void> {
    if (letters.length === 0) return Promise.resolve();
    const at = this.now().toISOString();
    const text = letters.map((l) => `${JSON.stringify({ at, ...l })}\n`).join("");
    const next = this.chain.then(async () => {
      await mkdir(dirname(this.path), { recursive: true });
      await appendFile(this.path, text, "utf8");
      this.written += letters.length;
    });
    this.chain = next.catch(() => undefined);
    return next;
  }

  /** Letters this process wrote. */
  count(): number {
    return this.written;
  }
}
