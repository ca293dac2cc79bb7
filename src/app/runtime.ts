/** Builds the shared context: config, logger, NATS, streams, stores. main.ts only wires. */
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/nats-core";
import { loadEnv, type RuntimeEnv } from "../config/env.js";
import { loadPolicies } from "../config/load.js";
import { routesUseAlertGroups } from "../config/notification-routes.js";
import type { Policies } from "../config/policies.js";
import type { Ctx } from "./context.js";
import { createLogger, type Logger } from "../log.js";
import { OpsMetrics } from "../observability/metrics/opsbus.js";
import { connectNats } from "../nats/connect.js";
import { detectFeatures } from "../nats/features.js";
import { ensureLocalNats, type LocalNats } from "../nats/local-server.js";
import { ensureConsumers, ensureStreams } from "../nats/provision.js";
import { createStores } from "../stores/factory.js";
import { openKvSilenceStore, silenceBucketName } from "../stores/silences/kv.js";
import type { SilenceStore } from "../silences/store.js";
import { openKvSentLog } from "../stores/notify/kv.js";
import { naming, subjects } from "../subjects/index.js";
import { acquireDirLock, type DirLock } from "../util/dir-lock.js";

export interface ContextOptions {
  env?: RuntimeEnv;
  policies?: Policies;
  logger?: Logger;
  /** The connection's name as the NATS server shows it. */
  name?: string;
  /** Start a local nats-server when none answers (npm start on a laptop). */
  allowLocalNats?: boolean;
  replicas?: number;
  /** The clock every window and timestamp uses; tests pass a controllable one. */
  now?: () => Date;
}

export async function buildContext(opts: ContextOptions = {}): Promise<Ctx & { close(): Promise<void> }> {
  const env = opts.env ?? loadEnv();
  const logger = opts.logger ?? createLogger({ level: env.LOG_LEVEL });
  const policies = opts.policies ?? loadPolicies(env.CONFIG_DIR);
  const subs = subjects(naming(env.OPS_SUBJECT_PREFIX));
  const retryIntervalMs = env.STORE_RETRY_INTERVAL_SEC * 1000;

  // One owner per data dir: JSONL stores (and auto's JSONL fallback) live there. Taken first, so a
  // second process refuses before it starts a server or opens a file.
  const usesDataDir = Object.values(env.stores).some((st) => st.backend === "jsonl" || st.backend === "auto");
  const lock: DirLock | null = usesDataDir ? await acquireDirLock(env.DATA_DIR, logger) : null;
  let localNats: LocalNats | null = null;
  let connection: NatsConnection | undefined;
  let silences: SilenceStore | undefined;
  try {
    localNats = opts.allowLocalNats && env.OPSBUS_START_NATS === "1" ? await ensureLocalNats(env.NATS_URL, env.DATA_DIR, logger) : null;
    const nc = (connection = await connectNats({ url: env.NATS_URL, name: opts.name ?? `opsbus@${env.NODE_ID}`, logger }));
    const features = detectFeatures(nc.info?.version ?? "0.0.0");
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    await ensureStreams(jsm, subs, opts.replicas ?? env.OPS_STREAM_REPLICAS, logger);
    await ensureConsumers(jsm, subs, policies.alertRouting, { alertGroups: routesUseAlertGroups(policies.notificationRoutes) }, logger);
    // Created with the streams and loaded before any role starts, so ingest never runs without them.
    silences = await openKvSilenceStore({ js, jsm, bucket: silenceBucketName(subs.naming.streamPrefix), replicas: opts.replicas ?? env.OPS_STREAM_REPLICAS, logger });
    const silenceStore = silences;
    const sentLog = await openKvSentLog({ js, jsm, bucket: subs.notify.sentLogBucket, replicas: opts.replicas ?? env.OPS_STREAM_REPLICAS });

    const { stores, close: closeStores } = await createStores({ opsEnv: env.OPS_ENV, dataDir: env.DATA_DIR, logger, retryIntervalMs }, env.stores);
    const backends = Object.fromEntries(Object.entries(stores).map(([name, st]) => [name, st.backendName]));
    logger.info({ node_id: env.NODE_ID, env: env.OPS_ENV, nats: features.version, ...backends }, "context ready");
    const nats = localNats;

    return {
      env,
      policies,
      subjects: subs,
      logger,
      nc,
      js,
      jsm,
      features,
      stores,
      silences: silenceStore,
      sentLog,
      now: opts.now ?? (() => new Date()),
      metrics: new OpsMetrics(),
      async close() {
        await silenceStore.close().catch(() => undefined);
        await nc.drain().catch(() => undefined);
        await closeStores().finally(() => lock?.release());
        await nats?.stop();
      },
    };
  } catch (err) {
    await silences?.close().catch(() => undefined);
    await connection?.close().catch(() => undefined);
    await localNats?.stop();
    lock?.release();
    throw err;
  }
}
