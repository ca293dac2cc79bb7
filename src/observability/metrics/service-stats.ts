/**
 * `$SRV.STATS` numbers for the tool service that tell the truth. @nats-io/services times only the
 * synchronous part of a callback handler (ours returns at once and answers later) and counts an
 * error only when the handler throws, never a reply sent with `respondError`. So each request is
 * timed here from arrival to reply, an error reply counts as an error, and the service's
 * `statsHandler` writes these numbers over the library's before it answers `$SRV.STATS`.
 */

interface EndpointNumbers {
  num_requests: number;
  num_errors: number;
  /** Nanoseconds, as the services API reports them. */
  processing_time: number;
  last_error?: string;
}

/** What `statsHandler` is handed: the endpoint, whose `stats` the library renders next. */
interface EndpointWithStats {
  name?: unknown;
  stats?: Partial<EndpointNumbers & { average_processing_time: number }>;
}

export class EndpointStatsBook {
  private readonly byName = new Map<string, EndpointNumbers>();

  /** Starts timing one request of `endpoint`; call the result once replied, with the error text for an error reply. */
  begin(endpoint: string): (error?: string) => void {
    const started = process.hrtime.bigint();
    return (error) => {
      const n = this.numbersOf(endpoint);
      n.num_requests += 1;
      n.processing_time += Number(process.hrtime.bigint() - started);
      if (error !== undefined) {
        n.num_errors += 1;
        n.last_error = error;
      }
    };
  }

  get(endpoint: string): Readonly<EndpointNumbers> {
    return { ...this.numbersOf(endpoint) };
  }

  /** The services API's `statsHandler`: puts this book's numbers on the endpoint's stats; adds no `data`. */
  statsHandler = async (endpoint: unknown): Promise<undefined> => {
    const ep = endpoint as EndpointWithStats;
    if (typeof ep.name !== "string" || !ep.stats) return undefined;
    const n = this.numbersOf(ep.name);
    Object.assign(ep.stats, {
      num_requests: n.num_requests,
      num_errors: n.num_errors,
      processing_time: n.processing_time,
      average_processing_time: n.num_requests ? Math.round(n.processing_time / n.num_requests) : 0,
      last_error: n.last_error,
    });
    return undefined;
  };

  private numbersOf(endpoint: string): EndpointNumbers {
    let n = this.byName.get(endpoint);
    if (!n) {
      n = { num_requests: 0, num_errors: 0, processing_time: 0 };
      this.byName.set(endpoint, n);
    }
    return n;
  }
}
