/** The NATS binding of the gateway: one services-API endpoint per tool, all through executeTool. */
import type { Msg, NatsConnection } from "@nats-io/nats-core";
import { Svcm, type ServiceMsg } from "@nats-io/services";
import { EndpointStatsBook } from "../observability/metrics/service-stats.js";
import { SERVICE_NAME, type Subjects } from "../subjects/index.js";
import { executeTool } from "./execute.js";
import { endpointMetadata } from "./jsonSchema.js";
import { encodeReply, errorReply, classifyError, serviceStatusOf } from "./replies.js";
import type { CallHeaders, GatewayDeps } from "./types.js";

export interface ToolServiceDeps extends GatewayDeps {
  nc: NatsConnection;
  subjects: Subjects;
  version: string;
}

export interface ToolService {
  stop(): Promise<void>;
}

/** The channel name recorded in audit records for calls that came over NATS. */
export const NATS_CHANNEL = "nats";

/**
 * Registers the `opsbus-tools` service: a group on the tools prefix and one endpoint per
 * registered tool, in the services API's default queue group so several gateway processes
 * share the load. Errors reply with the envelope and the `Nats-Service-Error(-Code)` headers.
 */
export async function startToolService(deps: ToolServiceDeps): Promise<ToolService> {
  const { nc, subjects, logger } = deps;
  // $SRV.STATS from our own timing: the library would time only the handler's synchronous part.
  const stats = new EndpointStatsBook();
  const service = await new Svcm(nc).add({
    statsHandler: stats.statsHandler,
    name: SERVICE_NAME,
    version: deps.version,
    description: "opsbus tool API: request {action, params, agent_id}; reply {ok, result} or {ok:false, error}",
    metadata: { node_id: deps.nodeId, env: deps.opsEnv },
  });
  const group = service.addGroup(subjects.tools.group);
  for (const tool of deps.registry.values()) {
    const subject = subjects.tools.of(tool.name);
    group.addEndpoint(tool.name, {
      metadata: endpointMetadata(tool),
      handler: (err, msg) => {
        if (err) {
          logger.error({ err, subject }, "tool endpoint subscription failed");
          return;
        }
        void answer(deps, tool.name, msg, stats.begin(tool.name));
      },
    });
  }
  logger.info({ service: SERVICE_NAME, tools: [...deps.registry.keys()] }, "tool service started");
  return {
    async stop() {
      await service.stop();
    },
  };
}

/** Runs one request and replies; never throws. `done` gets the error text of an error reply. */
async function answer(deps: ToolServiceDeps, tool: string, msg: ServiceMsg, done: (error?: string) => void): Promise<void> {
  const log = deps.logger.child({ subject: msg.subject });
  let error: string | undefined;
  try {
    const maxPayload = deps.nc.info?.max_payload;
    const reply = await executeTool(deps, {
      tool,
      body: msg.data,
      headers: headersOf(msg),
      channel: NATS_CHANNEL,
      ...(maxPayload ? { maxReplyBytes: maxPayload } : {}),
    });
    error = respond(msg, encodeReply(reply, log));
  } catch (err) {
    try {
      error = respond(msg, encodeReply(errorReply(classifyError(err, log)), log));
    } catch (respondErr) {
      error = "no reply sent";
      log.error({ err: respondErr }, "could not reply to a tool request");
    }
  } finally {
    done(error);
  }
}

/** Replies; returns the error text (`<code> <description>`) when the reply is an error. */
function respond(msg: ServiceMsg, encoded: ReturnType<typeof encodeReply>): string | undefined {
  const status = serviceStatusOf(encoded.reply);
  if (msg.reply) {
    if (status) msg.respondError(status.code, status.description, encoded.bytes);
    else msg.respond(encoded.bytes);
  }
  return status ? `${status.code} ${status.description}` : undefined;
}

/** NATS headers as a record for the channel-independent core; a repeated name keeps every value. */
function headersOf(msg: Msg): CallHeaders {
  const out: Record<string, string | string[]> = {};
  if (!msg.headers) return out;
  for (const key of msg.headers.keys()) {
    const values = msg.headers.values(key);
    out[key] = values.length === 1 ? values[0]! : values;
  }
  return out;
}
