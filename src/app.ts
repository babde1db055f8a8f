import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { AccessModule, BudgetAlert } from './access/index.js';
import { type Alerts, createAlerts } from './alerts/index.js';
import type { AgreementGap } from './router/licence-scope.js';
import { createCoverageMetrics } from './telemetry/coverage-metrics.js';
import { type Billing, createBilling } from './billing/index.js';
import type { Config } from './config/index.js';
import { type Clock, systemClock } from './core/clock.js';
import type { ClusterClient } from './cluster/ipc.js';
import {
  clusterChanges,
  clusterCounters,
  clusterUsageSink,
  shareHealthInCluster,
} from './cluster/shared.js';
import { withStoreTimeout } from './errors/index.js';
import { createGateway } from './gateway/create-gateway.js';
import type { Gateway } from './gateway/types.js';
import type { Catalog } from './router/catalog.js';
import type { HealthTracker } from './router/health.js';
import type { Runtime } from './runtime/index.js';
import { checkExposure } from './server/exposure.js';
import { createHttpServer1And2 } from './server/http-server.js';
import type { Route } from './server/types.js';
import type { Database, UsageRepository } from './store/index.js';
import { createTelemetry, type Telemetry } from './telemetry/index.js';
import { createLogger, type Logger } from './telemetry/logger.js';
import type { Transport } from './transport/http.js';
import { wireAccess } from './wiring/access.js';
import { wireExecutor, wireRouterBase } from './wiring/router.js';
import { wireRoutes } from './wiring/routes.js';
import { wireRuntime } from './wiring/runtime.js';
import { wireStore } from './wiring/store.js';
import { wireUsageSink } from './wiring/usage.js';

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
  /**
   * Set in a `server.workers` worker: the channel to the cluster primary. Without Redis the
   * primary owns rate limits, concurrency, budgets and breaker fan-out; on SQLite it is also the
   * one usage writer (see src/cluster/primary.ts).
   */
  cluster?: ClusterClient;
}

/** A composed Switchyard: every plane wired, not yet listening. */
export interface App {
  config: Config;
  /** Budget, partner-cap and licence alerts (config `alerts`). */
  alerts: Alerts;
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
  /** Partners whose committed spend is still open this period, as routing sees it (refreshed in the background). */
  commitments: { refresh(): Promise<void>; open(partner: string): boolean } | undefined;
  /** Metrics, traces, usage roll-ups and the debug body store. */
  telemetry: Telemetry;
  logger: Logger;
  /**
   * Listens; refuses (ExposureError) a non-loopback host when there is no master key, unless
   * `server.allowNoMasterKey` is set.
   */
  listen(port?: number, host?: string): Promise<{ url: string; port: number }>;
  /**
   * The SIGTERM sequence: readiness answers 503 at once and background runs hand over to other
   * replicas, while the listener keeps serving for `server.shutdownDelayMs` (load balancers see
   * "not ready" and stop sending); then {@link App.close}.
   */
  shutdown(): Promise<void>;
  /**
   * Drains in-flight requests (and hands background runs over, a tool call in flight getting
   * up to `server.drainTimeoutMs` to finish), then closes the server, the store and upstream
   * connections.
   */
  close(): Promise<void>;
}

/**
 * The composition root: the only place that wires the planes together. Each plane's own
 * wiring (and so its dependencies) is one function in src/wiring/; this function shows the
 * order: store, router, telemetry, billing, executor, access, gateway, runtime, routes.
 */
export async function createApp(options: AppOptions): Promise<App> {
  const { config } = options;
  const env = options.env ?? process.env;
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? createLogger({ level: config.logging.level });
  // In a `server.workers` set the primary checkpoints the SQLite file for every process.
  const { database, usage, ownsDatabase } = await wireStore(config, options.database, logger, {
    checkpoint: options.cluster === undefined,
  });
  const router = await wireRouterBase({
    config,
    clock,
    logger,
    database,
    ...(options.transport && { transport: options.transport }),
  });
  const { catalog, health } = router;
  const cluster = options.cluster;
  // With Redis, workers share state through Redis as separate replicas do; without it, the primary.
  const viaPrimary = cluster !== undefined && !config.redis;
  if (viaPrimary) shareHealthInCluster(health, cluster);
  // Telemetry reads Redis only at scrape time, after access has connected it below.
  let redis: AccessPlaneRedis;
  const telemetry = await createTelemetry({
    config,
    catalog,
    health,
    database,
    redis: () => redis,
    clock,
    spanExporter: options.spanExporter,
    onError: (error, what) => logger.warn({ err: error }, what),
    logger,
  });
  // Usage rows are written by billing, in the same transaction as their ledger postings.
  // Usage commits are timed once per group commit (the metrics' store histogram), not per request.
  const billing = createBilling({
    config,
    database,
    clock,
    ...(telemetry.metrics && { onCommit: telemetry.metrics.usageCommit }),
    ...(router.accruals && { onClauseTotals: router.accruals.apply }),
  });
  await billing.start();
  // Share accruals for `lowest-net-cost`: read once the config's clauses are in, then kept fresh.
  await router.accruals?.refresh();
  router.accruals?.start();
  const executor = wireExecutor({ config, env, clock, router, telemetry });
  const alertSink: { send?: (alert: BudgetAlert) => Promise<void> } = {};
  // Coverage guard `alert`: counted, logged once a day per combination, and sent as an alert.
  const coverageMetrics = telemetry.metrics
    ? createCoverageMetrics(telemetry.metrics.registry, catalog, clock)
    : undefined;
  const gapSink: { send?: (gap: AgreementGap) => Promise<void> } = {};
  const gapsLogged = new Set<string>();
  const accessPlane = await wireAccess({
    config,
    database,
    clock,
    logger,
    telemetry,
    alertSink,
    ...(viaPrimary && { shared: clusterCounters(cluster) }),
    ...(cluster && { changes: clusterChanges(cluster) }),
  });
  // SQLite has one writer per file: in a cluster the primary commits every worker's usage.
  const commitSink =
    cluster && database.dialect === 'sqlite' ? clusterUsageSink(cluster) : undefined;
  // The gateway's usage sink: billing's group commit (or the primary's); usage the store cannot
  // take in time is spooled on local disk and replayed later.
  const usageSink = wireUsageSink({
    config,
    billing: commitSink ?? billing,
    clock,
    logger,
    telemetry,
  });
  const { access } = accessPlane;
  redis = accessPlane.redis;
  // Reserved capacity counts across replicas through the access plane's Redis, when there is one.
  router.capacity.useRedis(redis, config.redisPrefix);
  // Workers without Redis: the primary's counters, as for rate limits.
  if (viaPrimary) router.capacity.useRates(clusterCounters(cluster).rates);
  const gateway = createGateway({
    config,
    catalog,
    executor,
    access,
    // Each usage event also corrects the reserved-capacity estimates of its request.
    usage: router.capacity.meter(usageSink),
    observer: telemetry.observer,
    clock,
    onAgreementGap: (gap) => {
      coverageMetrics?.gapServed(gap);
      gapSink
        .send?.(gap)
        .catch((error: unknown) => logger.warn({ err: error }, 'agreement gap alert not queued'));
    },
    onUsageError: (error, event) =>
      logger.error(
        { err: error, requestId: event?.requestId },
        event ? 'usage event not recorded' : 'budget settlement failed',
      ),
  });
  const runtime = wireRuntime({ config, database, gateway, catalog, clock, logger, telemetry });
  const alerts = createAlerts({
    config,
    database,
    clock,
    send: (alert) => runtime.agent.sendAlert(alert),
    onError: (error) => logger.warn({ err: error }, 'alert check failed'),
  });
  alertSink.send = (alert) => alerts.budget(alert);
  gapSink.send = async (gap) => {
    if (gapsLogged.size < 10_000 && !gapsLogged.has(gapKey(gap))) {
      gapsLogged.add(gapKey(gap));
      logger.warn({ ...gap }, 'served with no agreement in force (routing.coverageGuard: alert)');
    }
    await alerts.gap(gap);
  };

  let draining = false;
  const routes: Route[] = [
    ...wireRoutes({
      config,
      clock,
      database,
      router,
      gateway,
      access,
      billing,
      runtime,
      telemetry,
      draining: () => draining,
      spool: () => usageSink.stats(),
    }),
    ...(options.extraRoutes?.({ health, catalog }) ?? []),
  ];
  const server = createHttpServer1And2({
    routes,
    logger,
    observer: telemetry.http,
    maxBodyBytes: config.server.maxBodyBytes,
    drainTimeoutMs: config.server.drainTimeoutMs,
    trustProxy: config.server.trustProxy,
    maxJsonDepth: config.server.maxJsonDepth,
    limits: config.server,
  });
  let listening = false;
  async function close(): Promise<void> {
    draining = true;
    // Runs hand over while requests drain; both are bounded by the drain timeout.
    const handover = runtime.agent.stop(config.server.drainTimeoutMs);
    if (listening) await server.close();
    await runtime.sweeper.stop();
    alerts.stop();
    router.commitments?.stop();
    await handover;
    await runtime.agent.close();
    await telemetry.close();
    await usageSink.stop();
    if (commitSink) await commitSink.flush().catch(() => undefined);
    // Bounded: every event still in a commit was spooled when its commit timed out.
    await withStoreTimeout(billing.flush(), config.store.spool.commitTimeoutMs, 'flush').catch(
      () => undefined,
    );
    router.accruals?.stop();
    if (router.ownsTransport) await router.transport.close();
    await router.sharedHealth?.close();
    await access.close();
    redis?.disconnect();
    // A stalled store must not hold shutdown: queries end at their own timeouts after exit.
    if (ownsDatabase)
      await withStoreTimeout(database.close(), config.store.readyTimeoutMs, 'close').catch(
        (error: unknown) => logger.warn({ err: error }, 'store close'),
      );
  }

  return {
    config,
    alerts,
    gateway,
    health,
    catalog,
    database,
    usage,
    billing,
    access,
    commitments: router.commitments,
    telemetry,
    runtime,
    logger,
    async listen(port = config.server.port, host = config.server.host) {
      await checkExposure({
        host,
        masterKey: config.auth.masterKey,
        allowNoMasterKey: config.server.allowNoMasterKey,
      });
      const address = await server.listen(port, host);
      listening = true;
      runtime.sweeper.start();
      runtime.agent.start();
      alerts.start();
      router.commitments?.start();
      telemetry.start();
      usageSink.start();
      return address;
    },
    async shutdown() {
      draining = true;
      const handover = runtime.agent.stop(config.server.drainTimeoutMs);
      logger.info(
        { delayMs: config.server.shutdownDelayMs },
        'shutting down: not ready, still serving',
      );
      await new Promise((resolve) => setTimeout(resolve, config.server.shutdownDelayMs));
      await close();
      await handover;
    },
    close,
  };
}

type AccessPlaneRedis = Awaited<ReturnType<typeof wireAccess>>['redis'];

/** Model × partner × API × region: the warning line is logged once per combination and app. */
function gapKey(gap: AgreementGap): string {
  return `${gap.model}|${gap.partner}|${gap.api}|${gap.region ?? ''}`;
}
