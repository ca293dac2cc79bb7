/** `opsbus tail [subject]`: print what happens on the bus, one line per message (core NATS). */
import { parseArgs } from "node:util";
import type { NatsConnection } from "@nats-io/nats-core";
import { cliConnection } from "./client.js";
import { formatMessage } from "./tail-format.js";
import { intOption, UsageError } from "./job-client.js";
import { parseSince, replaySource, type MessageSource } from "./tail-replay.js";

const HELP = `opsbus tail [subject] [--since 15m|ISO] [--json] [--count N] [--timeout S]

Subscribes to the events subject (default: every event, ops.events.> with the configured prefix)
or the given subject (wildcards allowed, e.g. 'ops.events.incident.>' or 'ops.alerts.in.*'; quote
a subject with > or *, or the shell reads > as a redirection into a file) and prints
each message on one line: time, type or subject, and the key fields (service, incident, severity,
alert, run and status). For people without the nats CLI. Live messages only, unless:
  --since T     replay events from the events stream (OPS_EVENTS, 30 days) since 15m, 2h, 1d
                or an ISO time, then keep following; event subjects only
  --json        print each message body as it arrived (one JSON document per line)
  --count N     exit 0 after N messages
  --timeout S   stop after S seconds (0 = never); exit 1 then if --count messages did not arrive
"listening on <subject>" goes to stderr once the subscription is active.
Examples: opsbus tail 'ops.events.job.>' --count 1
          opsbus tail 'ops.events.incident.>' --since 1h --timeout 5`;

export async function runTail(args: string[]): Promise<number> {
  let values;
  let positionals;
  try {
    ({ values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: { json: { type: "boolean" }, since: { type: "string" }, count: { type: "string" }, timeout: { type: "string", default: "0" }, help: { type: "boolean", short: "h" } },
    }));
  } catch (err) {
    console.error(`opsbus tail: ${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  let count: number | undefined;
  let timeoutS: number;
  let since: Date | undefined;
  try {
    since = values.since === undefined ? undefined : parseSince(values.since);
    count = values.count === undefined ? undefined : intOption("--count", values.count, 1);
    timeoutS = Number(values.timeout);
    if (!Number.isFinite(timeoutS) || timeoutS < 0) throw new UsageError(`--timeout must be seconds >= 0, got "${values.timeout}"`);
  } catch (err) {
    console.error(`opsbus tail: ${(err as Error).message}`);
    return 2;
  }
  const { nc, subjects } = await cliConnection();
  const subject = positionals[0] ?? subjects.events.wildcard;
  if (since && !subject.startsWith(subjects.events.prefix)) {
    await nc.close();
    console.error(`opsbus tail: --since replays the events stream; ${subject} is not under ${subjects.events.wildcard}`);
    return 2;
  }
  let seen = 0;
  let timedOut = false;
  const source = since ? await replaySource(nc, subjects.events.stream, subject, since) : liveSource(nc, subject, count);
  const stop = () => source.stop();
  const timer = timeoutS > 0 ? setTimeout(() => ((timedOut = true), stop()), timeoutS * 1000) : undefined;
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  try {
    await nc.flush();
    console.error(`listening on ${subject}${since ? ` since ${since.toISOString()}` : ""}${count ? ` for ${count} message${count > 1 ? "s" : ""}` : ""} (Ctrl-C to stop)`);
    for await (const m of source.messages) {
      seen += 1;
      console.log(values.json ? new TextDecoder().decode(m.data) : formatMessage(m.subject, m.data, subjects.events.prefix));
      if (count && seen >= count) break;
    }
  } finally {
    clearTimeout(timer);
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
    await nc.close();
  }
  if (timedOut && count !== undefined && seen < count) {
    console.error(`opsbus tail: ${seen} of ${count ?? "?"} messages on ${subject} within ${timeoutS} s`);
    return 1;
  }
  return 0;
}

function liveSource(nc: NatsConnection, subject: string, count: number | undefined): MessageSource {
  const sub = nc.subscribe(subject, count ? { max: count } : {});
  return { messages: sub, stop: () => sub.unsubscribe() };
}
