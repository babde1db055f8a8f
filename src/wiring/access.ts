import { Redis } from 'ioredis';
import {
  type AccessModule,
  type BudgetAlert,
  type ChangeRelay,
  createAccess,
  type SharedCounters,
} from '../access/index.js';
import { guardRedis, redisTimeouts } from '../access/redis-guard.js';
import type { Config } from '../config/index.js';
import type { Clock } from '../core/clock.js';
import type { Database } from '../store/index.js';
import type { Telemetry } from '../telemetry/index.js';
import type { Logger } from '../telemetry/logger.js';

/** The access plane and the Redis command connection it shares with telemetry's scrape. */
export interface AccessPlane {
  access: AccessModule;
  redis: Redis | undefined;
}

/**
 * Keys, limits and budgets. One command connection serves limits, budgets and revocations
 * (auto-pipelined: the checks of one request go out together); access opens its own subscriber
 * for revocation messages. Budget alerts reach telemetry, the log and the alert webhooks.
 */
export async function wireAccess(deps: {
  config: Config;
  database: Database;
  clock: Clock;
  logger: Logger;
  telemetry: Telemetry;
  /** Where budget alerts go beyond telemetry and the log (alerts/index.ts, bound once the runtime exists). */
  alertSink?: { send?: (alert: BudgetAlert) => Promise<void> };
  /** Counters owned by the cluster primary (`server.workers` without Redis). */
  shared?: SharedCounters | undefined;
  /** "Keys changed" relayed between cluster workers. */
  changes?: ChangeRelay | undefined;
}): Promise<AccessPlane> {
  const { config, logger, telemetry } = deps;
  const redis = config.redis
    ? new Redis(config.redis, {
        lazyConnect: true,
        enableAutoPipelining: true,
        maxRetriesPerRequest: 2,
        // Every command is bounded: a stalled Redis costs a request one timeout, not forever.
        ...redisTimeouts({
          connectTimeoutMs: config.redisConnectTimeoutMs,
          commandTimeoutMs: config.redisCommandTimeoutMs,
        }),
      })
    : undefined;
  if (redis) {
    redis.on('error', (error) => logger.warn({ err: error }, 'redis (access) error'));
    const stop = guardRedis(redis, {
      onChange: (state) =>
        state === 'stalled'
          ? logger.warn('redis (access) stalled: limits and budgets take their fallback')
          : logger.info('redis (access) answers again'),
    });
    redis.once('end', stop);
    await redis.connect();
  }
  const access = await createAccess({
    config,
    database: deps.database,
    redis,
    prefix: config.redisPrefix,
    clock: deps.clock,
    shared: deps.shared,
    changes: deps.changes,
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
      deps.alertSink
        ?.send?.(alert)
        .catch((error: unknown) =>
          logger.warn({ err: error, scope: alert.scope }, 'budget alert not queued'),
        );
    },
    onError: (error) => logger.warn({ err: error }, 'access error'),
  });
  return { access, redis };
}
