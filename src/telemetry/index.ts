import type { Redis } from 'ioredis';
import type { Config } from '../config/index.js';
import type { Gateway } from '../gateway/types.js';
import type { Catalog } from '../router/catalog.js';
import type { HealthTracker } from '../router/health.js';
import type { Route } from '../server/types.js';
import type { Database } from '../store/index.js';
import { type BodyStore, createBodyStore } from './bodies.js';
import { createCollector } from './collect.js';
import { upstreamAddress } from './gen-ai.js';
import { createGatewayMetrics, type GatewayMetrics } from './metrics.js';
import { createPricer } from './money.js';
import { createLogLimiter } from './log-limiter.js';
import type { Logger } from './logger.js';
import {
  combineHttpObservers,
  combineObservers,
  type GatewayObserver,
  type HttpObserver,
} from './observer.js';
import { createPartnerHealth } from './partner-health.js';
import { createRequestLog } from './request-log.js';
import { createRollupQueries, type RollupQueries } from './rollup-queries.js';
import { createRollupRecorder, type RollupRecorder } from './rollups.js';
import { createTelemetryRoutes } from './routes.js';
import { createTracing, type Tracing } from './tracing.js';
import { createUsageQueries } from './usage-queries.js';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';

export type { GatewayObserver, HttpObserver } from './observer.js';
export { combineObservers } from './observer.js';
export { createLogger, REDACT_PATHS, type Logger } from './logger.js';

/** What telemetry is built from. */
export interface TelemetryDeps {
  config: Config;
  catalog: Catalog;
  health: HealthTracker;
  database: Database;
  /** The Redis command connection, read at scrape time (it connects after telemetry is built). */
  redis?: () => Redis | undefined;
  clock: () => number;
  /** Replaces the OTLP exporter (tests). */
  spanExporter?: SpanExporter | undefined;
  onError?: (error: unknown, what: string) => void;
  /** Gets the on-call lines: failed upstream attempts, failovers, OTLP export failures. */
  logger?: Logger;
}

/** Metrics, traces, roll-ups and body capture, wired for the app. */
export interface Telemetry {
  /** For the gateway core and the executor. */
  observer: GatewayObserver | undefined;
  /** For the HTTP server: trace context and the log line's trace id. */
  http: HttpObserver;
  metrics: GatewayMetrics | undefined;
  tracing: Tracing;
  rollups: RollupRecorder | undefined;
  bodies: BodyStore | undefined;
  /** Counts a budget alert. */
  budgetAlert(alert: {
    level: string;
    scope: string;
    percent: number;
    spentMicros: bigint;
    limitMicros: bigint;
  }): void;
  /** Routes: /metrics and the dashboard's read API. */
  routes(gateway: Pick<Gateway, 'authenticate'>): Route[];
  /** Starts background flushes. */
  start(): void;
  /** Flushes roll-ups, bodies and spans, then stops. */
  close(): Promise<void>;
}

/**
 * Builds telemetry from `config.telemetry`: Prometheus metrics (default on), traces (when an
 * OTLP endpoint or exporter is given), usage roll-ups for the dashboard (default on), and the
 * debug body store (default off). Its tables come with the store's migrations (`0007-telemetry`).
 */
export async function createTelemetry(deps: TelemetryDeps): Promise<Telemetry> {
  const settings = deps.config.telemetry;
  const providerTypes = new Map(
    Object.entries(deps.config.providers).map(([id, provider]) => [id, provider.type as string]),
  );
  const pricer = createPricer(deps.catalog);
  const onError = (what: string) => (error: unknown) => deps.onError?.(error, what);
  const metrics = settings.metrics
    ? createGatewayMetrics({
        providerTypes,
        pricer,
        models: new Set(deps.catalog.all().map((model) => model.name)),
        redis: deps.config.redis !== undefined,
      })
    : undefined;
  const providerAddresses = new Map(
    Object.entries(deps.config.providers).flatMap(([id, provider]) => {
      const address = upstreamAddress(provider);
      return address ? [[id, address] as const] : [];
    }),
  );
  // One limiter for every on-call line: an outage logs a line per deployment and fault every
  // few seconds, with the count of what it held back, not one per request.
  const limiter = createLogLimiter();
  const tracing = createTracing({
    config: settings,
    providerTypes,
    providerAddresses,
    exporter: deps.spanExporter,
    onExportError: (error) =>
      limiter.run('otlp-export', (suppressed) =>
        deps.logger?.warn(
          { err: error, endpoint: settings.otlpEndpoint, ...(suppressed > 0 && { suppressed }) },
          'OTLP trace export failed',
        ),
      ),
  });
  const requestLog = deps.logger ? createRequestLog({ logger: deps.logger, limiter }) : undefined;
  const rollups = settings.rollups
    ? createRollupRecorder({
        database: deps.database,
        pricer,
        clock: deps.clock,
        onError: onError('usage roll-up flush failed'),
      })
    : undefined;
  const bodies = settings.bodies.enabled
    ? createBodyStore({
        database: deps.database,
        maxBytes: settings.bodies.maxBytes,
        retentionHours: settings.bodies.retentionHours,
        clock: deps.clock,
        onError: onError('body capture failed'),
      })
    : undefined;
  const partnerHealth = createPartnerHealth({
    config: deps.config,
    catalog: deps.catalog,
    health: deps.health,
    database: deps.database,
    clock: deps.clock,
  });
  const observers = [
    metrics?.observer,
    partnerHealth.observer,
    tracing.observer,
    rollups?.observer,
    bodies?.observer,
    requestLog?.observer,
  ].filter((observer): observer is GatewayObserver => observer !== undefined);
  let closed = false;
  const rollupQueries = rollups ? createRollupQueries(deps.database) : undefined;
  const collect = metrics
    ? createCollector({
        metrics,
        catalog: deps.catalog,
        health: deps.health,
        database: deps.database,
        redis: deps.redis,
        clock: deps.clock,
      })
    : undefined;

  return {
    observer: combineObservers(observers),
    http: requestLog ? combineHttpObservers([tracing.http, requestLog.http]) : tracing.http,
    metrics,
    tracing,
    rollups,
    bodies,
    budgetAlert(alert) {
      if (!metrics) return;
      metrics.budgetAlerts.inc({ level: alert.level, percent: String(alert.percent) });
      if (alert.limitMicros > 0n)
        metrics.budgetUse.set(
          { level: alert.level, scope: alert.scope },
          Number(alert.spentMicros) / Number(alert.limitMicros),
        );
    },
    routes(gateway) {
      return createTelemetryRoutes({
        gateway,
        clock: deps.clock,
        metrics:
          metrics && collect
            ? {
                contentType: metrics.registry.contentType,
                render: async () => (await collect(), metrics.registry.metrics()),
              }
            : undefined,
        metricsPublic: settings.metricsPublic,
        rollups: rollupQueries,
        usage: createUsageQueries(deps.database),
        bodies,
        flushRollups: rollups?.flush,
        partners: deps.config,
        database: deps.database,
        partnerHealth,
      });
    },
    start() {
      rollups?.start();
      bodies?.start();
      if (rollupQueries)
        void warmDashboard(rollupQueries, deps.clock()).catch(
          (error: unknown) => closed || onError('dashboard warm-up failed')(error),
        );
    },
    async close() {
      closed = true;
      await rollups?.stop();
      await bodies?.stop();
      await tracing.shutdown();
    },
  };
}

/**
 * Runs the queries of the dashboard's default pages once, in the background, when the server
 * starts: the sign-in (filter values), the overview's last hour (its default), day (the usage page's default) and week. The
 * first person to open the dashboard after a restart then finds the roll-up pages in the store's
 * cache and the statements prepared, instead of paying for both (over a second at 10 million
 * events on a cold SQLite file).
 */
async function warmDashboard(queries: RollupQueries, now: number): Promise<void> {
  await queries.dimensions(now);
  for (const span of [3_600_000, 86_400_000, 7 * 86_400_000]) {
    const filter = { from: now - span, to: now };
    await queries.series(filter);
    await queries.top(filter, 'model');
    await queries.top(filter, 'tenant_id');
  }
}
