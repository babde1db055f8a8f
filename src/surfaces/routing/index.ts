import type { Clock } from '../../core/clock.js';
import { scaledToDecimal } from '../../core/money.js';
import { GatewayError, toGatewayError } from '../../errors/index.js';
import type { Gateway } from '../../gateway/types.js';
import type { ApiKind, Config } from '../../config/index.js';
import { API_KINDS } from '../../config/index.js';
import type { Catalog } from '../../router/catalog.js';
import { apiKindsOf, coverageReport } from '../../router/coverage.js';
import type { RouteScope } from '../../router/licence-scope.js';
import type { HealthTracker } from '../../router/health.js';
import {
  microsToUsd,
  type NetCostFigure,
  REFERENCE_ESTIMATE,
  type TokenEstimate,
} from '../../router/net-cost.js';
import type { Policy } from '../../router/policy.js';
import { sendJson, sendOpenAIError } from '../../server/respond.js';
import type { Route } from '../../server/types.js';
import { credentialFrom } from '../shared/credentials.js';

/** Dependencies of the routing view. */
export interface RoutingViewDeps {
  gateway: Gateway;
  catalog: Catalog;
  health: HealthTracker;
  policy: Policy;
  clock: Clock;
  /** `routing.strategy`, shown at the top of the view. */
  strategy?: string;
  /** For tenants' pinned regions (`?tenant=`). */
  config?: Pick<Config, 'tenants'>;
  /** Reserved capacity (`reservedTpm`) as this replica sees it. */
  capacity?: ReservedCapacityState | undefined;
}

/** What the view reads of the capacity plane (wiring/commitments.ts). */
export interface ReservedCapacityState {
  /** Reserved tokens this replica counted in the last minute; null without `reservedTpm`. */
  usedTokens(key: string, now: number): number | null;
  /** Until when (and why) a reserved deployment is put last, or undefined. */
  spilling(key: string, now: number): { until: number; reason: string } | undefined;
}

/** The scope `?api=&tenant=` asks the view for; undefined parts are not checked. */
export interface RoutingViewScope {
  api?: ApiKind | undefined;
  tenant?: string | undefined;
}

/**
 * The routing state of every model: deployments, partner, region, breaker, latency, licence
 * (and why it is excluded, per API kind), current order for `asked` (API kind, tenant), and the
 * net cost of a reference request (`estimate`, default 1,000 tokens in and out) with the
 * revenue-share figures behind it.
 */
export function routingView(
  deps: RoutingViewDeps,
  estimate: TokenEstimate = REFERENCE_ESTIMATE,
  asked: RoutingViewScope = {},
) {
  const now = deps.clock();
  const regions =
    asked.tenant === undefined ? undefined : deps.config?.tenants[asked.tenant]?.regions;
  const scope: RouteScope = { api: asked.api, regions };
  return {
    object: 'list',
    at: new Date(now).toISOString(),
    strategy: deps.strategy ?? null,
    estimate: { input_tokens: estimate.inputTokens, output_tokens: estimate.outputTokens },
    scope: { api: asked.api ?? null, tenant: asked.tenant ?? null, regions: regions ?? null },
    data: deps.catalog.all().map((model) => {
      const order = deps.policy
        .plan({ model, now, estimate, ...scope })
        .map((deployment) => deployment.key);
      const figures = deps.policy.netCosts(model, now, estimate);
      return {
        model: model.name,
        kind: model.config.kind,
        order,
        deployments: model.deployments.map((deployment) => {
          const health = deps.health.get(deployment.key);
          const licence = deployment.partnerConfig?.license;
          return {
            key: deployment.key,
            provider: deployment.provider,
            type: deployment.providerConfig.type,
            upstream_model: deployment.upstreamModel,
            partner: deployment.partner,
            region: deployment.region ?? null,
            primary: deployment.partnerConfig?.primary === true,
            weight: deployment.weight,
            sandbox: deployment.sandbox,
            breaker: health.state,
            available: deps.health.isAvailable(deployment.key),
            unavailable_until:
              health.unavailableUntil > now && health.unavailableUntil < Number.MAX_SAFE_INTEGER
                ? new Date(health.unavailableUntil).toISOString()
                : null,
            consecutive_failures: health.consecutiveFailures,
            last_error: health.lastError ?? null,
            ttfb_ms: health.ttfbMs === undefined ? null : Math.round(health.ttfbMs * 10) / 10,
            latency_ms:
              health.latencyMs === undefined ? null : Math.round(health.latencyMs * 10) / 10,
            licence: {
              from: licence?.from === undefined ? null : new Date(licence.from).toISOString(),
              until: licence?.until === undefined ? null : new Date(licence.until).toISOString(),
              exclusive: licence?.exclusive ?? false,
              apis: licence?.apis ?? null,
              regions: licence?.regions ?? null,
              excluded: deps.policy.excluded(deployment, now, model.deployments, scope) ?? null,
              // Why it would be skipped for each API kind the model serves (null: it may serve).
              excluded_by_api: Object.fromEntries(
                apiKindsOf(model.config.kind).map((api) => [
                  api,
                  deps.policy.excluded(deployment, now, model.deployments, { api, regions }) ??
                    null,
                ]),
              ),
            },
            position: order.indexOf(deployment.key),
            net_cost: netCostView(figures.get(deployment.key)),
            ...reservedView(deps.capacity, deployment.key, deployment.config.reservedTpm, now),
          };
        }),
      };
    }),
  };
}

/**
 * A deployment's reserved capacity: `reserved_tpm`, the tokens this replica counted in the
 * current minute window, and until when it is put last (`spilling_until`, with why: its
 * window is used or its upstream answered 429). All null without `reservedTpm`.
 */
function reservedView(
  capacity: ReservedCapacityState | undefined,
  key: string,
  reservedTpm: number | undefined,
  now: number,
) {
  if (reservedTpm === undefined)
    return {
      reserved_tpm: null,
      reserved_used_tokens: null,
      spilling_until: null,
      spilling_reason: null,
    };
  const spilling = capacity?.spilling(key, now);
  return {
    reserved_tpm: reservedTpm,
    reserved_used_tokens: capacity?.usedTokens(key, now) ?? null,
    spilling_until: spilling ? new Date(spilling.until).toISOString() : null,
    spilling_reason: spilling?.reason ?? null,
  };
}

/** A deployment's net-cost figures in USD decimal strings (null when the cloud price is unknown). */
function netCostView(figure: NetCostFigure | undefined) {
  if (!figure) return null;
  const usd = (micros: bigint | null) => (micros === null ? null : microsToUsd(micros));
  return {
    net_usd: usd(figure.net),
    cloud_usd: usd(figure.cloud),
    revenue_usd: usd(figure.revenue),
    share_usd: usd(figure.share),
    shares: figure.clauses.map((clause) => ({
      clause: clause.clause,
      partner: clause.partner,
      rate: scaledToDecimal(clause.ratePpm, 6),
      cap_usd: usd(clause.cap),
      basis_usd: usd(clause.basis),
      accrued_usd: usd(clause.accrued),
      share_usd: usd(clause.share),
      state: clause.state,
    })),
  };
}

/** `?input_tokens=&output_tokens=`: the routing view's reference request; a bad value is a 400. */
function estimateFrom(query: URLSearchParams): TokenEstimate {
  const read = (name: string, fallback: number): number => {
    const raw = query.get(name);
    if (raw === null) return fallback;
    const value = Number(raw);
    if (!/^\d{1,9}$/.test(raw) || !Number.isSafeInteger(value))
      throw new GatewayError(`\`${name}\` must be a whole number of tokens`, {
        code: 'invalid_request',
        status: 400,
        param: name,
        errorClass: 'invalid_request',
        retryable: false,
      });
    return value;
  };
  return {
    inputTokens: read('input_tokens', REFERENCE_ESTIMATE.inputTokens),
    outputTokens: read('output_tokens', REFERENCE_ESTIMATE.outputTokens),
  };
}

/** GET /v1/routing (also /admin/v1/routing): master key only. */
export function createRoutingRoutes(deps: RoutingViewDeps): Route[] {
  const handler: Route['handler'] = async (context) => {
    try {
      const principal = await deps.gateway.authenticate(
        credentialFrom(context.request),
        context.remoteAddress,
      );
      if (!principal.isMaster)
        throw new GatewayError('The routing view needs the master key', {
          code: 'forbidden',
          status: 403,
          errorClass: 'auth',
          retryable: false,
        });
      const query = context.url.searchParams;
      const api = query.get('api');
      if (api !== null && !(API_KINDS as readonly string[]).includes(api))
        throw new GatewayError(`api must be one of ${API_KINDS.join(', ')}`, {
          code: 'invalid_request',
          status: 400,
          param: 'api',
          retryable: false,
        });
      sendJson(
        context.response,
        200,
        routingView(deps, estimateFrom(query), {
          api: (api ?? undefined) as ApiKind | undefined,
          tenant: query.get('tenant') ?? undefined,
        }),
      );
    } catch (error) {
      sendOpenAIError(context.response, toGatewayError(error));
    }
  };
  const coverage: Route['handler'] = async (context) => {
    try {
      const principal = await deps.gateway.authenticate(
        credentialFrom(context.request),
        context.remoteAddress,
      );
      if (!principal.isMaster)
        throw new GatewayError('Agreement coverage needs the master key', {
          code: 'forbidden',
          status: 403,
          errorClass: 'auth',
          retryable: false,
        });
      sendJson(context.response, 200, coverageReport(deps.catalog, deps.clock()));
    } catch (error) {
      sendOpenAIError(context.response, toGatewayError(error));
    }
  };
  return [
    { method: 'GET', path: '/v1/routing', handler },
    { method: 'GET', path: '/admin/v1/routing', handler },
    { method: 'GET', path: '/admin/v1/agreements/coverage', handler: coverage },
  ];
}
