/** A started worker: `stop()` finishes or naks what it holds, then resolves. */
export interface RunningWorker {
  name: string;
  stop(): Promise<void>;
  /** For a drain out of time: naks at once what its consume loop still holds; how many. */
  abandon?(): number;
}
