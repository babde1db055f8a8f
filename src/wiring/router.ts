import {
  type AccrualCache,
  clauseLoader,
  createAccrualCache,
  createNetCostSource,
} from '../billing/net-cost.js';
import type { Config } from '../config/index.js';
import type { Clock } from '../core/clock.js';
import { createAdapters } from '../providers/index.js';
import { type Catalog, createCatalog } from '../router/catalog.js';
import { createExecutor, type Executor, type FrameDecoder } from '../router/executor.js';
import { createHealthTracker, type HealthTracker } from '../router/health.js';
import type { NetCostSource } from '../router/net-cost.js';
import { createPolicy, type Policy } from '../router/policy.js';
import { shareHealth } from '../router/shared-health.js';
import type { Database } from '../store/index.js';
import type { Telemetry } from '../telemetry/index.js';
import type { Logger } from '../telemetry/logger.js';
import { decodeEventStream } from '../transport/aws-eventstream.js';
import { createTransport, type Transport } from '../transport/http.js';
import { decodeSse } from '../transport/sse.js';
import {
  type CapacityPlane,
  type CommitmentCache,
  createCapacityPlane,
  createCommitmentCache,
} from './commitments.js';

/** The routing plane before the executor: what telemetry reads, and what the executor needs. */
export interface RouterBase {
  catalog: Catalog;
  health: HealthTracker;
  policy: Policy;
  transport: Transport;
  /** Whether the app created the transport (and so closes it). */
  ownsTransport: boolean;
  /** Breaker transitions shared through Redis, when configured. */
  sharedHealth: { close(): Promise<void> } | undefined;
  /**
   * Revenue-share clause totals for `lowest-net-cost` (read from the store in the background;
   * billing's `onClauseTotals` feeds it this replica's bookings at once). Undefined without a
   * database.
   */
  accruals: AccrualCache | undefined;
  /** Reserved capacity (`reservedTpm`) counters and spill-over state. */
  capacity: CapacityPlane;
  /** Partners whose committed spend is still open this period (refreshed in the background). */
  commitments: CommitmentCache | undefined;
}

/** Transport, catalog, breakers (shared through Redis when configured) and the routing policy. */
export async function wireRouterBase(deps: {
  config: Config;
  clock: Clock;
  logger: Logger;
  transport?: Transport;
  /** The store the revenue-share accruals and the commitment burn-down are read from. */
  database?: Database;
}): Promise<RouterBase> {
  const { config, clock, logger } = deps;
  const poolConnections = Object.fromEntries(
    Object.entries(config.providers).flatMap(([id, provider]) =>
      provider.maxConnections === undefined ? [] : [[id, provider.maxConnections]],
    ),
  );
  const transport =
    deps.transport ??
    createTransport({
      headersTimeoutMs: config.routing.attemptTimeoutMs,
      // No fixed body timeout: the executor bounds every body (the attempt timeout, then each
      // stream's idle and total timeouts, per model or deployment).
      bodyTimeoutMs: 0,
      poolConnections,
    });
  const catalog = createCatalog(config);
  const health = createHealthTracker(clock);
  const sharedHealth = config.redis
    ? await shareHealth(
        health,
        config.redis,
        config.redisPrefix,
        (error) => logger.warn({ err: error }, 'redis (health) error'),
        {
          connectTimeoutMs: config.redisConnectTimeoutMs,
          commandTimeoutMs: config.redisCommandTimeoutMs,
        },
      )
    : undefined;
  const accruals = deps.database
    ? createAccrualCache({
        load: clauseLoader(deps.database),
        now: clock,
        timeoutMs: config.store.readyTimeoutMs,
        onError: (error) => logger.warn({ err: error }, 'revenue-share accruals not refreshed'),
      })
    : undefined;
  const netCost: NetCostSource | undefined = accruals
    ? createNetCostSource(config, accruals)
    : undefined;
  const capacity = createCapacityPlane({ catalog, clock, logger });
  const commitments = deps.database
    ? createCommitmentCache({ config, database: deps.database, clock, logger })
    : undefined;
  const policy = createPolicy({
    routing: config.routing,
    health,
    netCost,
    capacity,
    commitments,
  });
  logBreakerTransitions(health, logger);
  return {
    catalog,
    health,
    policy,
    transport,
    ownsTransport: deps.transport === undefined,
    sharedHealth,
    accruals,
    capacity,
    commitments,
  };
}

/** The executor: provider adapters over the transport, ordered by the policy, observed. */
export function wireExecutor(deps: {
  config: Config;
  env: Record<string, string | undefined>;
  clock: Clock;
  router: RouterBase;
  telemetry: Telemetry;
}): Executor {
  const { config, clock, router } = deps;
  const decoders: Partial<Record<'sse' | 'aws-eventstream', FrameDecoder>> = {
    sse: decodeSse,
    'aws-eventstream': decodeEventStream,
  };
  return createExecutor({
    adapters: createAdapters(config, { env: deps.env, now: clock }),
    transport: router.transport,
    health: router.health,
    policy: router.policy,
    routing: config.routing,
    clock,
    decoders,
    observer: deps.telemetry.observer,
    capacity: router.capacity,
  });
}

/**
 * One log line per breaker transition of this replica (opened, half-open, closed), so on-call
 * can see which cloud failed and when it came back. Transitions only: the listener also hears
 * every change of a deployment's hold-off time, which is not news.
 */
function logBreakerTransitions(health: HealthTracker, logger: Logger): void {
  const last = new Map<string, string>();
  health.onChange((key, state) => {
    const previous = last.get(key) ?? 'closed';
    if (state.state === previous) return;
    last.set(key, state.state);
    const fields = {
      deployment: key,
      from: previous,
      to: state.state,
      ...(state.state === 'open' && {
        retryAt: new Date(state.unavailableUntil).toISOString(),
      }),
      lastError: health.get(key).lastError,
    };
    if (state.state === 'open') logger.warn(fields, 'breaker opened');
    else if (state.state === 'closed') logger.info(fields, 'breaker closed');
    else logger.info(fields, 'breaker half-open');
  });
}
