import { GatewayError, invalidRequest, toGatewayError } from '../errors/index.js';
import type { Gateway } from '../gateway/types.js';
import { sendJson, sendOpenAIError, write } from '../server/respond.js';
import type { HttpContext, Route } from '../server/types.js';
import { credentialFrom } from '../surfaces/shared/credentials.js';
import type { Config } from '../config/index.js';
import type { BodyStore } from './bodies.js';
import type { PartnerHealthView } from './partner-health.js';
import { partnersView } from './partners-view.js';
import { createRunsView } from './runs-view.js';
import type { Database } from '../store/index.js';
import type { RollupQueries, UsageFilter } from './rollup-queries.js';
import type { UsageQueries } from './usage-queries.js';
import { merged } from '../core/objects.js';

/** What the telemetry routes read. */
export interface TelemetryRoutesDeps {
  gateway: Pick<Gateway, 'authenticate'>;
  clock: () => number;
  /** Prometheus exposition (undefined when `telemetry.metrics` is off). */
  metrics?: { contentType: string; render(): Promise<string> } | undefined;
  metricsPublic: boolean;
  rollups: RollupQueries | undefined;
  usage: UsageQueries;
  bodies: BodyStore | undefined;
  /** The store, for the runs view. */
  database: Database;
  /** Partners and agreements, for the Partners page. */
  partners: Config;
  /** Which cloud is failing now (in-memory attempt window, stored usage, breakers). */
  partnerHealth?: PartnerHealthView | undefined;
  /** Writes pending roll-ups before a summary is read. */
  flushRollups?: (() => Promise<void>) | undefined;
}

const RANGES: Record<string, number> = {
  '15m': 900_000,
  '1h': 3_600_000,
  '6h': 21_600_000,
  '24h': 86_400_000,
  '7d': 604_800_000,
  '30d': 2_592_000_000,
};

/**
 * `GET /metrics` (Prometheus text format) and the dashboard's read API under `/admin/v1`:
 * `metrics/summary` (series, totals, top models/tenants/deployments from the roll-ups),
 * `usage/events` (a page of usage events), `dashboard/latency` (p50/p95/p99 of latency and TTFB
 * and error rates per model, partner or deployment), `dashboard/health` (which cloud is failing), `usage/export.csv`, `usage/dimensions` (filter
 * values) and `debug/bodies/:requestId`. All need the master key; /metrics too unless
 * `telemetry.metricsPublic`.
 */
export function createTelemetryRoutes(deps: TelemetryRoutesDeps): Route[] {
  const admin = (path: string, handler: (context: HttpContext) => Promise<void>): Route => ({
    method: 'GET',
    path,
    async handler(context) {
      try {
        await requireMaster(deps.gateway, context);
        await handler(context);
      } catch (error) {
        sendOpenAIError(context.response, toGatewayError(error));
      }
    },
  });
  const routes: Route[] = [];
  const runs = createRunsView(deps.database);
  if (deps.metrics) {
    const metrics = deps.metrics;
    routes.push({
      method: 'GET',
      path: '/metrics',
      async handler(context) {
        try {
          if (!deps.metricsPublic) await requireMaster(deps.gateway, context);
          const text = await metrics.render();
          context.response.writeHead(200, {
            'content-type': metrics.contentType,
            'content-length': Buffer.byteLength(text),
          });
          context.response.end(text);
        } catch (error) {
          sendOpenAIError(context.response, toGatewayError(error));
        }
      },
    });
  }
  routes.push(
    admin('/admin/v1/metrics/summary', async (context) => {
      if (!deps.rollups)
        throw new GatewayError('Usage roll-ups are off (telemetry.rollups: false)', {
          code: 'not_found',
          status: 404,
          retryable: false,
        });
      const filter = filterOf(context.url, deps.clock());
      await deps.flushRollups?.(); // this replica's last seconds of traffic, so the numbers are live
      // `top=models,tenants` asks for those lists only (each is a query); default: all four.
      const wanted = new Set(
        (context.url.searchParams.get('top') ?? 'models,tenants,deployments,partners').split(','),
      );
      const top = (name: string, dimension: 'model' | 'tenant_id' | 'deployment' | 'partner') =>
        wanted.has(name) ? rollups.top(filter, dimension) : Promise.resolve(undefined);
      const rollups = deps.rollups;
      const [series, models, tenants, deployments, partners] = await Promise.all([
        rollups.series(filter),
        top('models', 'model'),
        top('tenants', 'tenant_id'),
        top('deployments', 'deployment'),
        top('partners', 'partner'),
      ]);
      const totals = series.points.reduce(
        (sum, point) => ({
          requests: sum.requests + point.requests,
          errors: sum.errors + point.errors,
          inputTokens: sum.inputTokens + point.inputTokens,
          outputTokens: sum.outputTokens + point.outputTokens,
          revenueUsd: sum.revenueUsd + point.revenueUsd,
          costUsd: sum.costUsd + point.costUsd,
        }),
        { requests: 0, errors: 0, inputTokens: 0, outputTokens: 0, revenueUsd: 0, costUsd: 0 },
      );
      sendJson(context.response, 200, {
        object: 'metrics.summary',
        from: filter.from,
        to: filter.to,
        bucket_minutes: series.bucketMinutes,
        totals: merged(totals, series.latency),
        series: series.points,
        top: { models, tenants, deployments, partners },
      });
    }),
    admin('/admin/v1/usage/events', async (context) => {
      const filter = filterOf(context.url, deps.clock());
      const limit = Math.min(
        Math.max(Number(context.url.searchParams.get('limit') ?? 100) || 100, 1),
        1000,
      );
      const beforeAt = context.url.searchParams.get('before_at');
      const beforeId = context.url.searchParams.get('before_id');
      const before =
        beforeAt && beforeId ? { createdAt: Number(beforeAt), requestId: beforeId } : undefined;
      const rows = await deps.usage.page(filter, { limit, before });
      sendJson(context.response, 200, {
        object: 'list',
        data: rows,
        has_more: rows.length === limit,
      });
    }),
    admin('/admin/v1/usage/export.csv', async (context) => {
      const filter = filterOf(context.url, deps.clock());
      context.response.writeHead(200, {
        'content-type': 'text/csv; charset=utf-8',
        'content-disposition': `attachment; filename="usage-${new Date(filter.from).toISOString().slice(0, 10)}.csv"`,
      });
      for await (const piece of deps.usage.csv(filter)) await write(context.response, piece);
      context.response.end();
    }),
    admin('/admin/v1/dashboard/partners', async (context) => {
      await deps.flushRollups?.();
      sendJson(context.response, 200, {
        object: 'list',
        data: await partnersView(deps.partners, deps.rollups, deps.clock()),
      });
    }),
    admin('/admin/v1/dashboard/latency', async (context) => {
      if (!deps.rollups)
        throw new GatewayError('Usage roll-ups are off (telemetry.rollups: false)', {
          code: 'not_found',
          status: 404,
          retryable: false,
        });
      const by = context.url.searchParams.get('by') ?? 'model';
      if (by !== 'model' && by !== 'partner' && by !== 'deployment')
        throw invalidRequest('by must be one of model, partner, deployment', 'by');
      const filter = filterOf(context.url, deps.clock());
      await deps.flushRollups?.();
      sendJson(context.response, 200, {
        object: 'list',
        by,
        from: filter.from,
        to: filter.to,
        data: await deps.rollups.breakdown(filter, by),
      });
    }),
    admin('/admin/v1/dashboard/health', async (context) => {
      if (!deps.partnerHealth)
        throw new GatewayError('Partner health is not available', {
          code: 'not_found',
          status: 404,
          retryable: false,
        });
      await deps.flushRollups?.();
      sendJson(context.response, 200, {
        object: 'list',
        at: deps.clock(),
        data: await deps.partnerHealth.summary(deps.rollups),
      });
    }),
    admin('/admin/v1/dashboard/responses', async (context) => {
      const limit = Math.min(
        Math.max(Number(context.url.searchParams.get('limit') ?? 50) || 50, 1),
        200,
      );
      sendJson(context.response, 200, {
        object: 'list',
        data: await runs.recent(limit, context.url.searchParams.get('status') ?? undefined),
      });
    }),
    admin('/admin/v1/dashboard/responses/:id', async (context) => {
      const found = await runs.response(context.params['id'] ?? '');
      if (!found)
        throw new GatewayError('No such stored response', {
          code: 'not_found',
          status: 404,
          retryable: false,
        });
      sendJson(context.response, 200, found);
    }),
    admin('/admin/v1/dashboard/conversations/:id', async (context) => {
      const found = await runs.conversation(context.params['id'] ?? '');
      if (!found)
        throw new GatewayError('No such conversation', {
          code: 'not_found',
          status: 404,
          retryable: false,
        });
      sendJson(context.response, 200, found);
    }),
    admin('/admin/v1/usage/dimensions', async (context) => {
      sendJson(
        context.response,
        200,
        deps.rollups ? await deps.rollups.dimensions(deps.clock()) : {},
      );
    }),
    admin('/admin/v1/debug/bodies/:requestId', async (context) => {
      if (!deps.bodies)
        throw new GatewayError('Body capture is off (telemetry.bodies.enabled: false)', {
          code: 'not_found',
          status: 404,
          retryable: false,
        });
      await deps.bodies.flush();
      const stored = await deps.bodies.get(context.params['requestId'] ?? '');
      if (!stored)
        throw new GatewayError('No stored bodies for this request', {
          code: 'not_found',
          status: 404,
          retryable: false,
        });
      sendJson(context.response, 200, stored);
    }),
  );
  return routes;
}

/** Authenticates the request and requires the master key (an admin principal). */
export async function requireMaster(
  gateway: Pick<Gateway, 'authenticate'>,
  context: HttpContext,
): Promise<void> {
  const principal = await gateway.authenticate(
    credentialFrom(context.request),
    context.remoteAddress,
  );
  if (!principal.isMaster)
    throw new GatewayError('This needs the master key', {
      code: 'forbidden',
      status: 403,
      errorClass: 'auth',
      retryable: false,
      failover: false,
    });
}

/** Reads `range` (15m…30d) or `from`/`to` (ISO or epoch ms) and the dimension filters. */
export function filterOf(url: URL, now: number): UsageFilter {
  const params = url.searchParams;
  const time = (name: string): number | undefined => {
    const value = params.get(name);
    if (value === null || value === '') return undefined;
    const parsed = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
    if (!Number.isFinite(parsed))
      throw invalidRequest(`${name} must be an ISO date or epoch ms`, name);
    return parsed;
  };
  const range = params.get('range') ?? '24h';
  const span = RANGES[range];
  if (span === undefined)
    throw invalidRequest(`range must be one of ${Object.keys(RANGES).join(', ')}`, 'range');
  const to = time('to') ?? now;
  const from = time('from') ?? to - span;
  const text = (name: string) => params.get(name) || undefined;
  return {
    from,
    to,
    tenantId: text('tenant'),
    projectId: text('project'),
    keyId: text('key'),
    model: text('model'),
    partner: text('partner'),
    deployment: text('deployment'),
    status: statusOf(text('status')),
    errorCode: text('error_code'),
  };
}

const STATUSES = ['ok', 'error', 'aborted'];

function statusOf(value: string | undefined): string | undefined {
  if (value !== undefined && !STATUSES.includes(value))
    throw invalidRequest(`status must be one of ${STATUSES.join(', ')}`, 'status');
  return value;
}
