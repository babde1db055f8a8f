import { clientClosed, GatewayError } from '../errors/index.js';
import type { GatewayCall, ProviderAdapter, UpstreamRequest } from '../providers/adapter.js';
import type { CatalogModel, Deployment } from './catalog.js';
import { type RouteScope, type Skip, skippedHeader } from './licence-scope.js';

/**
 * The errors an execution raises of its own (as opposed to those its adapters classify): a body
 * that is not JSON, a connection that failed mid-answer, a client that left, a model no
 * deployment may serve, and a request that could not be built (whose failure is the request's,
 * not the deployment's).
 */

export function parseJson(text: string, provider: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new GatewayError(`Upstream ${provider} sent a body that is not JSON`, {
      code: 'upstream_bad_response',
      status: 502,
      errorClass: 'bad_response',
      cause: error,
    });
  }
}

export function midStreamError(deployment: Deployment, error: unknown): GatewayError {
  const code = (error as { code?: string }).code ?? (error as Error).message;
  if (code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT')
    return new GatewayError(`Upstream ${deployment.provider} timed out mid-answer`, {
      code: 'upstream_timeout',
      status: 504,
      errorClass: 'timeout',
      cause: error,
    });
  return new GatewayError(`Connection to ${deployment.provider} failed (${code})`, {
    code: 'upstream_unreachable',
    status: 502,
    errorClass: 'connection',
    cause: error,
  });
}

export function abortError(signal: { readonly reason: unknown }): GatewayError {
  if (signal.reason instanceof GatewayError) return signal.reason;
  return clientClosed();
}

/**
 * The error when the policy left no deployment: 403 `no_deployment_in_region` when the tenant's
 * regions left some out, 403 `no_agreement` when licence scope or the coverage guard did, else
 * 503 `no_deployment_available` (licence windows, exclusivity). The message and the
 * `x-switchyard-skipped` header say why each deployment was left out.
 */
export function nothingMayServe(
  model: CatalogModel,
  scope: RouteScope | undefined,
  skipped: Skip[],
): GatewayError {
  const why = skipped.map((skip) => `${skip.deployment.provider}: ${skip.reason}`).join('; ');
  const header = skippedHeader(skipped);
  const headers: Record<string, string> = header ? { 'x-switchyard-skipped': header } : {};
  const api = scope?.api === undefined ? '' : ` for ${scope.api} requests`;
  if (skipped.some((skip) => skip.cause === 'region'))
    return new GatewayError(
      `No deployment of model "${model.name}" in your regions (${scope?.regions?.join(', ')}) may serve${api} (${why})`,
      {
        code: 'no_deployment_in_region',
        status: 403,
        errorClass: 'invalid_request',
        retryable: false,
        // Another model of the chain (fallbacks) may be covered.
        failover: true,
        headers,
      },
    );
  if (skipped.some((skip) => skip.cause === 'licence' || skip.cause === 'agreement'))
    return new GatewayError(
      `No agreement in force covers model "${model.name}"${api} on any of its deployments (${why})`,
      {
        code: 'no_agreement',
        status: 403,
        errorClass: 'invalid_request',
        retryable: false,
        // Another model of the chain (fallbacks) may be covered.
        failover: true,
        headers,
      },
    );
  return new GatewayError(
    `No deployment of model "${model.name}" may serve now (licence windows)${why ? ` (${why})` : ''}`,
    {
      code: 'no_deployment_available',
      status: 503,
      errorClass: 'overloaded',
      retryable: false,
      headers,
    },
  );
}

/** Failures of the request itself (it could not be built): never retried, never the deployment's. */
const REQUEST_SIDE = new WeakSet<GatewayError>();
/** Errors an adapter raised while building the request: they keep their own failover flags (another provider may support what this one refused) but say nothing of the deployment's health. */
const BUILD_FAILED = new WeakSet<GatewayError>();

/**
 * Builds the upstream request. Whatever goes wrong here is the request's doing, not the
 * deployment's: a body nested too deeply to serialise (RangeError) is a 400; anything else
 * unexpected is a 500 internal error (logged by the server), neither retried nor counted.
 */
export async function buildRequest(
  adapter: ProviderAdapter,
  call: GatewayCall,
  deployment: Deployment,
): Promise<UpstreamRequest> {
  try {
    return await adapter.buildRequest(call);
  } catch (thrown) {
    if (thrown instanceof GatewayError) {
      BUILD_FAILED.add(thrown);
      throw thrown;
    }
    const error =
      thrown instanceof RangeError
        ? new GatewayError(`The request cannot be serialised for ${deployment.provider}`, {
            code: 'invalid_request',
            status: 400,
            errorClass: 'invalid_request',
            retryable: false,
            failover: false,
            cause: thrown,
          })
        : new GatewayError(`Request for ${deployment.provider} could not be built`, {
            code: 'internal_error',
            status: 500,
            errorClass: 'internal',
            retryable: false,
            failover: false,
            cause: thrown,
          });
    REQUEST_SIDE.add(error);
    throw error;
  }
}

/** The request itself could not be built: never retried, never the deployment's fault. */
export function isRequestSide(error: GatewayError): boolean {
  return REQUEST_SIDE.has(error);
}

/** An adapter refused to build the request: it keeps its failover flags, but says nothing of health. */
export function buildFailed(error: GatewayError): boolean {
  return BUILD_FAILED.has(error);
}
