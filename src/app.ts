import { Redis } from 'ioredis';
import { sql } from 'kysely';
import { type AccessModule, createAccess } from './access/index.js';
import { type Billing, createBilling } from './billing/index.js';
import type { Config } from './config/index.js';
import { type Clock, systemClock } from './core/clock.js';
import { createGateway } from './gateway/create-gateway.js';
import type { Gateway } from './gateway/types.js';
import { createAdapters } from './providers/index.js';
import { createCatalog, type Catalog } from './router/catalog.js';
import { createExecutor, type FrameDecoder } from './router/executor.js';
import { createHealthTracker, type HealthTracker } from './router/health.js';
import { shareHealth } from './router/shared-health.js';
import { createPolicy } from './router/policy.js';
import { createRuntime, type Runtime } from './runtime/index.js';
import { resolveSecretBox } from './runtime/secrets.js';
import { createHealthRoutes } from './server/health-routes.js';
import { createHttpServer1And2 } from './server/http-server.js';
import type { Route } from './server/types.js';
import {
  createDatabase,
  createUsageRepository,
  type Database,
  migrate,
  type UsageRepository,
} from './store/index.js';
import {
  createOpenAIChatRoutes,
  createOpenAIEmbeddingsRoutes,
  createOpenAIModelsRoutes,
} from './surfaces/openai/index.js';
import { createAdminRoutes } from './surfaces/admin/index.js';
import { createToolAdminRoutes } from './surfaces/admin/tools-routes.js';
import { createMemoryAdminRoutes } from './surfaces/admin/memory-routes.js';
import { createWebhookAdminRoutes } from './surfaces/admin/webhook-routes.js';
import { createWebhookDeliveryStore } from './store/webhooks/deliveries.js';
import { createAdminBillingRoutes } from './surfaces/admin-billing/index.js';
import { createAnthropicMessagesRoutes } from './surfaces/anthropic-messages/index.js';
import { createBedrockConverseRoutes } from './surfaces/bedrock-converse/index.js';
import { createRoutingRoutes } from './surfaces/routing/index.js';
import { createConversationsRoutes } from './surfaces/openai-conversations/index.js';
import { createResponsesRoutes } from './surfaces/openai-responses/index.js';
import { createLogger, type Logger } from './telemetry/logger.js';
import { createTelemetry, type Telemetry } from './telemetry/index.js';
import { createUiRoutes } from './ui/serve.js';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import { createTransport, type Transport } from './transport/http.js';
import { decodeEventStream } from './transport/aws-eventstream.js';
import { decodeSse } from './transport/sse.js';

/** What createApp needs. Tests pass a config object and, optionally, a clock and a logger. */
export interface AppOptions {
  config: Config;
  env?: Record<string, string | undefined>;
  logger?: Logger;
  clock?: Clock;
  /** Extra routes mounted by the caller (the sandbox's fault-injection endpoints). */
  extraRoutes?: (app: { health: HealthTracker; catalog: Catalog }) => Route[];
  /** An already-open database (tests share one). */
  database?: Database;
  transport?: Transport;
  /** Receives the trace spans instead of the OTLP exporter (tests). */
  spanExporter?: SpanExporter;
}

/** A composed Switchyard: every plane wired, not yet listening. */
export interface App {
  config: Config;
  gateway: Gateway;
  health: HealthTracker;
  catalog: Catalog;
  database: Database;
  usage: UsageRepository;
  /** Ledger, agreements, periods, statements and reports; it is the gateway's usage sink. */
  billing: Billing;
  /** Keys, limits, budgets; `access.admin` manages tenants, projects and keys. */
  access: AccessModule;
  /** Responses and Conversations state; its retention sweeper runs while the app listens. */
  runtime: Runtime;
  /** Metrics, traces, usage roll-ups and the debug body store. */
  telemetry: Telemetry;
  logger: Logger;
  listen(port?: number, host?: string): Promise<{ url: string; port: number }>;
  /** Drains in-flight requests, then closes the server, the store and upstream connections. */
  close(): Promise<void>;
}

/** The composition root: the only place that wires dependencies. */
export async function createApp(options: AppOptions): Promise<App> {
  const { config } = options;
  const env = options.env ?? process.env;
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? createLogger({ level: config.logging.level });
  const ownsDatabase = options.database === undefined;
  const database = options.database ?? (await createDatabase(config.store));
  if (ownsDatabase) await migrate(database);
  const usage = createUsageRepository(database);
  const poolConnections = Object.fromEntries(
    Object.entries(config.providers).flatMap(([id, provider]) =>
      provider.maxConnections === undefined ? [] : [[id, provider.maxConnections]],
    ),
  );
  const transport =
    options.transport ??
    createTransport({ headersTimeoutMs: config.routing.attemptTimeoutMs, poolConnections });
  const catalog = createCatalog(config);
  const health = createHealthTracker(clock);
  const sharedHealth = config.redis
    ? await shareHealth(health, config.redis, config.redisPrefix, (error) =>
        logger.warn({ err: error }, 'redis (health) error'),
      )
    : undefined;
  const policy = createPolicy({ routing: config.routing, health });
  const adapters = createAdapters(config, { env, now: clock });
  const decoders: Partial<Record<'sse' | 'aws-eventstream', FrameDecoder>> = {
    sse: decodeSse,
    'aws-eventstream': decodeEventStream,
  };
  // Telemetry reads Redis only at scrape time, after it is connected below.
  const telemetry = await createTelemetry({
    config,
    catalog,
    health,
    database,
    redis: () => redis,
    clock,
    spanExporter: options.spanExporter,
    onError: (error, what) => logger.warn({ err: error }, what),
  });
  // Usage rows are written by billing, in the same transaction as their ledger postings.
  // Usage commits are timed once per group commit (the metrics' store histogram), not per request.
  const billing = createBilling({
    config,
    database,
    clock,
    ...(telemetry.metrics && { onCommit: telemetry.metrics.usageCommit }),
  });
  await billing.start();
  const executor = createExecutor({
    adapters,
    transport,
    health,
    policy,
    routing: config.routing,
    clock,
    decoders,
    observer: telemetry.observer,
  });
  // One command connection for limits, budgets and revocations (auto-pipelined: the checks of one
  // request go out together); access opens its own subscriber for revocation messages.
  const redis = config.redis
    ? new Redis(config.redis, {
        lazyConnect: true,
        enableAutoPipelining: true,
        maxRetriesPerRequest: 2,
      })
    : undefined;
  if (redis) {
    redis.on('error', (error) => logger.warn({ err: error }, 'redis (access) error'));
    await redis.connect();
  }
  const access = await createAccess({
    config,
    database,
    redis,
    prefix: config.redisPrefix,
    clock,
    onAlert: (alert) => {
      telemetry.budgetAlert({
        level: alert.level.kind,
        scope: alert.scope,
        percent: alert.percent,
        spentMicros: alert.spentMicros,
        limitMicros: alert.limitMicros,
      });
      logger.warn(
        {
          level: alert.level,
          scope: alert.scope,
          percent: alert.percent,
          spentMicros: alert.spentMicros.toString(),
          limitMicros: alert.limitMicros.toString(),
        },
        'budget alert',
      );
    },
    onError: (error) => logger.warn({ err: error }, 'access error'),
  });
  const gateway = createGateway({
    config,
    catalog,
    executor,
    access,
    usage: billing,
    observer: telemetry.observer,
    clock,
    onUsageError: (error, event) =>
      logger.error(
        { err: error, requestId: event?.requestId },
        event ? 'usage event not recorded' : 'budget settlement failed',
      ),
  });
  // Tool secrets at rest (runtime/secrets.ts): runtime.secretKey, else derived from the master key, else a key file.
  const sealed = resolveSecretBox({
    secretKey: config.runtime.secretKey,
    previousSecretKeys: config.runtime.previousSecretKeys,
    masterKey: config.auth.masterKey,
    store: config.store,
  });
  if (sealed.warning) logger.warn({ keyId: sealed.box.keyId }, sealed.warning);
  else logger.debug({ keyId: sealed.box.keyId, source: sealed.box.source }, 'tool secrets key');
  const runtime = createRuntime({
    database,
    gateway,
    catalog,
    clock,
    retention: config.runtime,
    sweepIntervalMs: config.runtime.sweepIntervalMs,
    onSweepError: (error) => logger.warn({ err: error }, 'retention sweep failed'),
    tools: {
      allowPrivateNetworks: config.runtime.tools.allowPrivateNetworks,
      allowHosts: config.runtime.tools.allowHosts,
      toolTimeoutMs: config.runtime.tools.timeoutMs,
      maxSteps: config.runtime.tools.maxSteps,
      maxToolOutputChars: config.runtime.tools.maxOutputChars,
      leaseMs: config.runtime.tools.leaseMs,
      workerIntervalMs: config.runtime.tools.workerIntervalMs,
      interruptedCalls: config.runtime.tools.interruptedCalls,
      secrets: sealed.box,
      memory: config.runtime.memory,
      webhooks: config.runtime.webhooks,
      logger,
      ...(telemetry.metrics && { onWebhookAttempt: telemetry.metrics.webhookAttempt }),
    },
  });

  let draining = false;
  const routes: Route[] = [
    ...createHealthRoutes({
      ready: async () => {
        const checks: Record<string, string> = {};
        try {
          await sql`select 1`.execute(database.db);
          checks['store'] = 'ok';
        } catch (error) {
          checks['store'] = (error as Error).message;
        }
        if (draining) checks['server'] = 'draining';
        return { ok: checks['store'] === 'ok' && !draining, checks };
      },
    }),
    ...createOpenAIChatRoutes({ gateway }),
    ...createOpenAIEmbeddingsRoutes({ gateway }),
    ...createOpenAIModelsRoutes({ gateway, created: clock() }),
    ...createRoutingRoutes({ gateway, catalog, health, policy, clock }),
    ...createAnthropicMessagesRoutes({ gateway }),
    ...createBedrockConverseRoutes({ gateway }),
    ...createResponsesRoutes({ gateway, responses: runtime.responses }),
    ...createConversationsRoutes({ gateway, conversations: runtime.conversations }),
    ...createAdminRoutes({ gateway, admin: access.admin }),
    ...createMemoryAdminRoutes({ gateway, memory: runtime.agent.memory }),
    ...createToolAdminRoutes({
      gateway,
      registry: runtime.agent.httpTools,
      policy: {
        allowPrivateNetworks: config.runtime.tools.allowPrivateNetworks,
        allowHosts: config.runtime.tools.allowHosts,
      },
      clock,
    }),
    ...createAdminBillingRoutes({ gateway, billing, clock }),
    ...createWebhookAdminRoutes({
      gateway,
      deliveries: createWebhookDeliveryStore(database),
      clock,
      kick: runtime.agent.kickWebhooks,
    }),
    ...telemetry.routes(gateway),
    ...createUiRoutes(),
    ...(options.extraRoutes?.({ health, catalog }) ?? []),
  ];
  const server = createHttpServer1And2({
    routes,
    logger,
    observer: telemetry.http,
    maxBodyBytes: config.server.maxBodyBytes,
    drainTimeoutMs: config.server.drainTimeoutMs,
  });
  let listening = false;

  return {
    config,
    gateway,
    health,
    catalog,
    database,
    usage,
    billing,
    access,
    telemetry,
    runtime,
    logger,
    async listen(port = config.server.port, host = config.server.host) {
      const address = await server.listen(port, host);
      listening = true;
      runtime.sweeper.start();
      runtime.agent.start();
      telemetry.start();
      return address;
    },
    async close() {
      draining = true;
      if (listening) await server.close();
      await runtime.sweeper.stop();
      await runtime.agent.stop();
      await telemetry.close();
      await billing.flush();
      if (!options.transport) await transport.close();
      await sharedHealth?.close();
      await access.close();
      redis?.disconnect();
      if (ownsDatabase) await database.close();
    },
  };
}
