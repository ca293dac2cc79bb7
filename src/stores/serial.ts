/**
 * The base of the in-memory stores, and so of the JSONL stores built on them: mutations run one
 * at a time, each atomic with respect to the others, with hooks where a subclass persists.
 */
export abstract class SerialStore<Row> {
  private tail: Promise<unknown> = Promise.resolve();

  async init(): Promise<void> {}

  async close(): Promise<void> {}

  /** Called with the rows a mutation changes, before they are applied (JSONL appends here). */
  protected async persist(_rows: Row[]): Promise<void> {}

  /** Called after a mutation that removed rows (purge, clear): JSONL rewrites its file. */
  protected async persistAll(): Promise<void> {}

  /** Called after each mutation was applied (JSONL compacts here). */
  protected async settle(): Promise<void> {}

  protected exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const body = async () => {
      const result = await fn();
      await this.settle();
      return result;
    };
    const run = this.tail.then(body, body);
    this.tail = run.catch(() => undefined);
    return run;
  }
}
