import { sql } from 'kysely';
import type { Redis } from 'ioredis';
import type { Gauge } from 'prom-client';
import { withStoreTimeout } from '../errors/index.js';
import type { Catalog } from '../router/catalog.js';
import type { HealthTracker } from '../router/health.js';
import type { Database } from '../store/index.js';
import {
  createWebhookDeliveryStore,
  WEBHOOK_DELIVERY_STATUSES,
} from '../store/webhooks/deliveries.js';
import type { GatewayMetrics } from './metrics.js';
import { merged } from '../core/objects.js';

/** What the scrape-time gauges read. */
export interface CollectDeps {
  metrics: GatewayMetrics;
  catalog: Catalog;
  health: HealthTracker;
  database: Database;
  redis?: (() => Redis | undefined) | undefined;
  clock: () => number;
}

const STATES = ['closed', 'open', 'half-open'] as const;
/** Store counts are read at most this often, ms (scrapes may come every few seconds). */
const STORE_REFRESH_MS = 15_000;
/**
 * Longest a scrape waits for the store and Redis, ms: a stalled store must not hang /metrics
 * (the ping then reads NaN and the counts keep their last values).
 */
const SCRAPE_TIMEOUT_MS = 2_000;

/**
 * Returns a function that refreshes the gauges read at scrape time: breaker states and latency
 * estimates per deployment, background runs and webhook deliveries by status, the oldest pending
 * webhook's age, store and Redis round trips.
 */
export function createCollector(deps: CollectDeps): () => Promise<void> {
  const { metrics } = deps;
  let storeReadAt = Number.NEGATIVE_INFINITY;
  const webhooks = createWebhookDeliveryStore(deps.database);
  /** When the oldest pending webhook was queued, as of the last store read (null: none, or unknown). */
  let oldestPendingAt: number | null = null;
  return async () => {
    metrics.breakerState.reset();
    metrics.deploymentLatency.reset();
    for (const model of deps.catalog.all()) {
      for (const deployment of model.deployments) {
        const health = deps.health.get(deployment.key);
        const labels = {
          model: model.name,
          deployment: deployment.provider,
          partner: deployment.partner ?? '',
        };
        for (const state of STATES)
          metrics.breakerState.set(merged(labels, { state }), health.state === state ? 1 : 0);
        if (health.ttfbMs !== undefined)
          metrics.deploymentLatency.set(merged(labels, { kind: 'ttfb' }), health.ttfbMs / 1000);
        if (health.latencyMs !== undefined)
          metrics.deploymentLatency.set(merged(labels, { kind: 'total' }), health.latencyMs / 1000);
      }
    }
    const pings: Array<Promise<void>> = [timeStore()];
    const redis = deps.redis?.();
    if (redis && metrics.redisLatency) pings.push(timeRedis(redis, metrics.redisLatency));
    if (deps.clock() - storeReadAt >= STORE_REFRESH_MS) {
      storeReadAt = deps.clock();
      pings.push(countRuns(), countWebhooks());
    }
    await withStoreTimeout(Promise.all(pings), SCRAPE_TIMEOUT_MS, 'scrape').catch(() => undefined);
    // The age grows between store reads, so it is computed at every scrape from the last read.
    metrics.webhookOldestPending.set(
      oldestPendingAt === null ? 0 : Math.max(0, deps.clock() - oldestPendingAt) / 1000,
    );
  };

  async function timeStore() {
    const started = performance.now();
    try {
      await withStoreTimeout(
        sql`select 1`.execute(deps.database.db),
        SCRAPE_TIMEOUT_MS - 100,
        'ping',
      );
      metrics.storeLatency.set((performance.now() - started) / 1000);
    } catch {
      metrics.storeLatency.set(Number.NaN);
    }
  }

  async function timeRedis(redis: Redis, gauge: Gauge) {
    const started = performance.now();
    try {
      await withStoreTimeout(redis.ping(), SCRAPE_TIMEOUT_MS - 100, 'redis ping');
      gauge.set((performance.now() - started) / 1000);
    } catch {
      gauge.set(Number.NaN);
    }
  }

  async function countRuns() {
    try {
      const since = deps.clock() - 86_400_000;
      const result = await sql<{
        status: string;
        count: number | bigint;
      }>`select status, count(*) as count from runtime_responses where created_at >= ${since} group by status`.execute(
        deps.database.db,
      );
      metrics.backgroundRuns.reset();
      for (const row of result.rows)
        metrics.backgroundRuns.set({ status: row.status }, Number(row.count));
    } catch {
      // The runtime tables are absent in a store migrated by an older release: no gauge then.
    }
  }

  async function countWebhooks() {
    try {
      const stats = await webhooks.stats(deps.clock() - 86_400_000);
      // Every status is set (0 when absent), so an alert on `failed > 0` has a series before the first failure.
      for (const status of WEBHOOK_DELIVERY_STATUSES)
        metrics.webhookDeliveries.set({ status }, stats.counts[status] ?? 0);
      oldestPendingAt = stats.oldestPendingAt;
    } catch {
      // A store migrated by an older release has no webhook_deliveries: no series then.
      metrics.webhookDeliveries.reset();
      oldestPendingAt = null;
    }
  }
}
