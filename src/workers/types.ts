/** A started worker: `stop()` finishes or naks what it holds, then resolves. */
export interface RunningWorker {
  name: string;
  stop(): Promise<void>;
}

/**
 * Delay of the nak for a message that arrives while its worker stops. An immediate nak would
 * send it straight back to the same pull, still open until it closes or expires: a ping-pong
 * that spends the message's max_deliver in milliseconds, so it dies without ever being handled.
 * Longer than any worker's pull expiry, so the redelivery goes to a live worker.
 */
export const STOPPING_NAK_DELAY_MS = 6_000;
