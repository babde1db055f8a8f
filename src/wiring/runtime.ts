import type { Config } from '../config/index.js';
import type { Clock } from '../core/clock.js';
import type { Gateway } from '../gateway/types.js';
import type { Catalog } from '../router/catalog.js';
import { createRunBus } from '../runtime/agent/run-bus.js';
import { createRuntime, type Runtime } from '../runtime/index.js';
import { resolveSecretBox } from '../runtime/secrets.js';
import type { Database } from '../store/index.js';
import type { Telemetry } from '../telemetry/index.js';
import type { Logger } from '../telemetry/logger.js';
import { merged } from '../core/objects.js';

/**
 * The stateful runtime: Responses and Conversations over the gateway, background runs, tools,
 * memory and webhooks. Tool secrets at rest (runtime/secrets.ts) are sealed with
 * runtime.secretKey, else a key derived from the master key, else a key file. Background runs
 * talk between replicas over Redis when configured, else Postgres LISTEN/NOTIFY (run-bus.ts).
 */
export function wireRuntime(deps: {
  config: Config;
  database: Database;
  gateway: Gateway;
  catalog: Catalog;
  clock: Clock;
  logger: Logger;
  telemetry: Telemetry;
}): Runtime {
  const { config, logger, telemetry } = deps;
  const sealed = resolveSecretBox({
    secretKey: config.runtime.secretKey,
    previousSecretKeys: config.runtime.previousSecretKeys,
    masterKey: config.auth.masterKey,
    store: config.store.url,
  });
  if (sealed.warning) logger.warn({ keyId: sealed.box.keyId }, sealed.warning);
  else logger.debug({ keyId: sealed.box.keyId, source: sealed.box.source }, 'tool secrets key');
  const tools = config.runtime.tools;
  return createRuntime({
    database: deps.database,
    gateway: deps.gateway,
    catalog: deps.catalog,
    clock: deps.clock,
    retention: config.runtime,
    sweepIntervalMs: config.runtime.sweepIntervalMs,
    onSweepError: (error) => logger.warn({ err: error }, 'retention sweep failed'),
    tools: {
      allowPrivateNetworks: tools.allowPrivateNetworks,
      allowHosts: tools.allowHosts,
      toolTimeoutMs: tools.timeoutMs,
      maxSteps: tools.maxSteps,
      maxToolOutputChars: tools.maxOutputChars,
      leaseMs: tools.leaseMs,
      workerIntervalMs: tools.workerIntervalMs,
      cancelTakeoverMs: tools.cancelTakeoverMs,
      ...(config.server.replicaId !== undefined && { replicaId: config.server.replicaId }),
      bus: createRunBus({
        redis: config.redis,
        redisPrefix: config.redisPrefix,
        store: config.store.url,
        onError: (error, what) => logger.warn({ err: error }, what),
      }),
      interruptedCalls: tools.interruptedCalls,
      secrets: sealed.box,
      memory: config.runtime.memory,
      webhooks: config.runtime.webhooks,
      alertWebhooks: config.alerts.webhooks.map(({ events, ...endpoint }) =>
        merged(endpoint, events ? { alertEvents: events } : {}),
      ),
      logger,
      ...(telemetry.metrics && { onWebhookAttempt: telemetry.metrics.webhookAttempt }),
    },
  });
}
