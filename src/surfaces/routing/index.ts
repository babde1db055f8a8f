import type { Clock } from '../../core/clock.js';
import { GatewayError, toGatewayError } from '../../errors/index.js';
import type { Gateway } from '../../gateway/types.js';
import type { Catalog } from '../../router/catalog.js';
import type { HealthTracker } from '../../router/health.js';
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
}

/** The routing state of every model: deployments, partner, breaker, latency, licence, current order. */
export function routingView(deps: RoutingViewDeps) {
  const now = deps.clock();
  return {
    object: 'list',
    at: new Date(now).toISOString(),
    data: deps.catalog.all().map((model) => {
      const order = deps.policy.plan({ model, now }).map((deployment) => deployment.key);
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
              excluded: deps.policy.excluded(deployment, now, model.deployments) ?? null,
            },
            position: order.indexOf(deployment.key),
          };
        }),
      };
    }),
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
      sendJson(context.response, 200, routingView(deps));
    } catch (error) {
      sendOpenAIError(context.response, toGatewayError(error));
    }
  };
  return [
    { method: 'GET', path: '/v1/routing', handler },
    { method: 'GET', path: '/admin/v1/routing', handler },
  ];
}
