/** A started worker: `stop()` finishes or naks what it holds, then resolves. */
export interface RunningWorker {
  name: string;
  stop(): Promise<void>;
}
