import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/**
 * The metric families set from outside the request path: store and usage-commit timings, the
 * usage spool, webhooks, and the gauges scrape-time collectors fill (breakers, latency, budgets,
 * background runs, store and Redis pings).
 */

/** What the hooks need to know about the deployment. */
export interface HookOptions {
  /** Whether Redis is configured: without it, no Redis series is exported at all. */
  redis?: boolean;
}

/** The families and hooks the store, billing, webhooks and scrape-time collectors use. */
export interface MetricHooks {
  breakerState: Gauge<'model' | 'deployment' | 'partner' | 'state'>;
  deploymentLatency: Gauge<'model' | 'deployment' | 'partner' | 'kind'>;
  budgetAlerts: Counter<'level' | 'percent'>;
  budgetUse: Gauge<'level' | 'scope'>;
  backgroundRuns: Gauge<'status'>;
  /** Webhook deliveries queued in the last 24 h by status (read from the store at scrape). */
  webhookDeliveries: Gauge<'status'>;
  /** Age of the oldest pending webhook delivery, seconds (0 when none): what to alert on. */
  webhookOldestPending: Gauge;
  /** Counts a webhook delivery attempt by how it ended (delivered, retry, failed, interrupted). */
  webhookAttempt(outcome: string): void;
  storeDuration: Histogram<'operation'>;
  /** Billing's group-commit hook: one usage commit of `events` events took `ms`. */
  usageCommit(ms: number, events: number): void;
  storeLatency: Gauge;
  /** Present only when Redis is configured. */
  redisLatency: Gauge | undefined;
  /** Reads the usage spool's counters at scrape (spooled, replayed, waiting, oldest). */
  watchSpool(read: () => SpoolCounters | undefined): void;
}

/** The usage spool's counters, as billing/spool.ts reports them. */
export interface SpoolCounters {
  spooled: number;
  replayed: number;
  rejected: number;
  waiting: number;
  oldestAt: number | null;
}

/** Creates the hooks' families in the registry of `registers`. */
export function createMetricHooks(registers: Registry[], options: HookOptions): MetricHooks {
  // Usage commits are timed per group commit (billing's hook), not per request: one observation
  // per batch, and the figure an operator needs (how long the store takes to commit, and how
  // many events share a commit under the current load).
  const storeDuration = new Histogram({
    name: 'switchyard_store_operation_duration_seconds',
    help: 'Store writes on the request path (usage_commit: one group commit of usage events and their ledger postings).',
    labelNames: ['operation'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers,
  });
  const commitDuration = storeDuration.labels({ operation: 'usage_commit' });
  const commitEvents = new Histogram({
    name: 'switchyard_usage_commit_events',
    help: 'Usage events per group commit (grows with load as concurrent requests share a commit).',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048],
    registers,
  });

  // The usage spool (store outages): read at scrape from the spool's own counters.
  let readSpool: () => SpoolCounters | undefined = () => undefined;
  const spoolTotal = (name: string, help: string, pick: (counters: SpoolCounters) => number) =>
    new Counter({
      name,
      help,
      registers,
      collect() {
        const counters = readSpool();
        this.reset();
        if (counters) this.inc(pick(counters));
      },
    });
  spoolTotal(
    'switchyard_usage_spooled_total',
    'Usage events written to the local spool because the store could not commit them in time.',
    (counters) => counters.spooled,
  );
  spoolTotal(
    'switchyard_usage_replayed_total',
    'Spooled usage events replayed into the store.',
    (counters) => counters.replayed,
  );
  spoolTotal(
    'switchyard_usage_rejected_total',
    'Spooled usage events the store refused for their data, set aside in rejected.jsonl.',
    (counters) => counters.rejected,
  );
  new Gauge({
    name: 'switchyard_usage_spool_waiting',
    help: 'Usage events waiting in the local spool for the store.',
    registers,
    collect() {
      this.set(readSpool()?.waiting ?? 0);
    },
  });
  new Gauge({
    name: 'switchyard_usage_spool_oldest_seconds',
    help: 'Age of the oldest usage event waiting in the spool (0 when none): what to alert on.',
    registers,
    collect() {
      const oldest = readSpool()?.oldestAt ?? null;
      this.set(oldest === null ? 0 : Math.max(0, Date.now() - oldest) / 1000);
    },
  });

  const webhookAttempts = new Counter({
    name: 'switchyard_webhook_attempts_total',
    help: 'Webhook delivery attempts by how they ended: delivered, retry (will try again), failed (gave up), interrupted (shutdown).',
    labelNames: ['outcome'],
    registers,
  });

  return {
    breakerState: new Gauge({
      name: 'switchyard_breaker_state',
      help: 'Circuit breaker state per deployment (1 for the current state).',
      labelNames: ['model', 'deployment', 'partner', 'state'],
      registers,
    }),
    deploymentLatency: new Gauge({
      name: 'switchyard_deployment_latency_seconds',
      help: "The router's latency estimate (EWMA) per deployment.",
      labelNames: ['model', 'deployment', 'partner', 'kind'],
      registers,
    }),
    budgetAlerts: new Counter({
      name: 'switchyard_budget_alerts_total',
      help: 'Budget thresholds crossed.',
      labelNames: ['level', 'percent'],
      registers,
    }),
    budgetUse: new Gauge({
      name: 'switchyard_budget_use_ratio',
      help: 'Share of a budget spent, as of its last alert.',
      labelNames: ['level', 'scope'],
      registers,
    }),
    backgroundRuns: new Gauge({
      name: 'switchyard_background_runs',
      help: 'Stored responses (background runs) of the last 24 h by status.',
      labelNames: ['status'],
      registers,
    }),
    webhookDeliveries: new Gauge({
      name: 'switchyard_webhook_deliveries',
      help: 'Webhook deliveries queued in the last 24 h by status (pending, delivered, failed, skipped).',
      labelNames: ['status'],
      registers,
    }),
    webhookAttempt: (outcome) => webhookAttempts.inc({ outcome }),
    webhookOldestPending: new Gauge({
      name: 'switchyard_webhook_oldest_pending_seconds',
      help: 'Age of the oldest pending webhook delivery (0 when none is pending).',
      registers,
    }),
    storeDuration,
    usageCommit(ms, events) {
      commitDuration.observe(ms / 1000);
      commitEvents.observe(events);
    },
    watchSpool(read) {
      readSpool = read;
    },
    storeLatency: new Gauge({
      name: 'switchyard_store_ping_seconds',
      help: 'Round trip of `select 1` to the store, measured at scrape.',
      registers,
    }),
    redisLatency: options.redis
      ? new Gauge({
          name: 'switchyard_redis_ping_seconds',
          help: 'Round trip of PING to Redis, measured at scrape (absent without Redis).',
          registers,
        })
      : undefined,
  };
}
