import type { Admission } from '../access/index.js';
import type { ApiKind } from '../config/index.js';
import { merged } from '../core/objects.js';
import { type Usage, ZERO_USAGE } from '../core/usage.js';
import { GatewayError, toGatewayError } from '../errors/index.js';
import type { CatalogModel, Deployment } from '../router/catalog.js';
import type { AttemptRecord } from '../router/executor.js';
import {
  hasAgreement,
  type RouteScope,
  type Skip,
  skippedHeader,
} from '../router/licence-scope.js';
import type { UsageEvent } from '../store/index.js';
import type { RequestScope } from '../telemetry/observer.js';
import type { ClientSignal } from '../transport/abort.js';
import { failureHeaders } from './route-headers.js';
import { bookedCost } from './cost.js';
import { SKIPPED_HEADER, withCostHeader, withSkipped } from './answer-headers.js';
import { createChat } from './chat.js';
import type { GatewayDeps } from './gateway-deps.js';
import { allowed, requireModelName } from './model-names.js';
import { metaOf } from './route-meta.js';
import type { EmbeddingsInvocation, Gateway, ModelInfo, Principal } from './types.js';
import { baseEvent, served } from './usage-event.js';

/**
 * The gateway core every surface calls: resolve the principal and the model, run the executor,
 * and write exactly one usage event per request, durably, before the client gets the end of
 * the answer.
 */
export function createGateway(deps: GatewayDeps): Gateway {
  const { catalog, executor, clock } = deps;

  /** Records the usage row; resolves the cost the ledger booked for it, µUSD, when known. */
  const write = async (event: UsageEvent): Promise<bigint | undefined> => {
    try {
      return bookedCost(await deps.usage.record(event));
    } catch (error) {
      deps.onUsageError?.(error, event);
      return undefined;
    }
  };
  /** The request's API kind and its tenant's pinned regions, for the policy. */
  const scopeOf = (principal: Principal, api: ApiKind): RouteScope & { skipped: Skip[] } => ({
    api,
    regions: deps.config.tenants[principal.tenantId]?.regions,
    skipped: [],
  });
  /** Coverage guard `alert`: a partner deployment with no licence for the model served the request. */
  const checkAgreement = (deployment: Deployment, api: ApiKind) => {
    if (deps.config.routing.coverageGuard !== 'alert' || hasAgreement(deployment)) return;
    deps.onAgreementGap?.({
      model: deployment.model,
      partner: deployment.partner ?? '',
      deployment: deployment.provider,
      api,
      region: deployment.region ?? null,
      at: clock(),
    });
  };

  const resolveModel = (
    value: unknown,
    principal: Principal,
    kind: 'chat' | 'embedding',
  ): CatalogModel => {
    const name = requireModelName(value);
    const model = catalog.get(name);
    if (!model || !allowed(principal, name)) {
      throw new GatewayError(
        `The model \`${name}\` does not exist or you do not have access to it.`,
        {
          code: 'model_not_found',
          status: 404,
          param: 'model',
          errorClass: 'not_found',
          retryable: false,
          failover: false,
        },
      );
    }
    if (model.config.kind !== kind) {
      throw new GatewayError(
        `The model \`${name}\` is ${model.config.kind === 'embedding' ? 'an embedding model' : 'a chat model'}`,
        { code: 'invalid_request', status: 400, param: 'model', retryable: false, failover: false },
      );
    }
    return model;
  };

  const fail = async (
    event: UsageEvent,
    thrown: unknown,
    started: number,
    signal: ClientSignal,
    scope?: RequestScope,
    skipped: Skip[] = [],
  ): Promise<never> => {
    const error = toGatewayError(thrown);
    const skippedValue = skippedHeader(skipped);
    event.status = signal.aborted ? 'aborted' : 'error';
    event.httpStatus = signal.aborted ? 499 : error.status;
    event.errorCode = error.code;
    // Every surface renders error.headers: the error answer names the route like a success does.
    // A fresh object, since an error's headers may be shared with other requests.
    (error as { headers: Record<string, string> }).headers = merged(
      skippedValue !== undefined && { [SKIPPED_HEADER]: skippedValue },
      error.headers,
      failureHeaders(event),
    );
    event.latencyMs = clock() - started;
    await write(event);
    scope?.end(event);
    throw error;
  };

  return {
    authenticate: (credential, remoteAddress) =>
      deps.access.authenticate(credential, remoteAddress),
    resolveSigV4Secret: (accessKeyId) => deps.access.resolveSigV4Secret(accessKeyId),

    // Made once here: chat shares the helpers above (src/gateway/chat.ts).
    chat: createChat(deps, { write, settle, fail, scopeOf, checkAgreement }),

    async embeddings(invocation: EmbeddingsInvocation) {
      const started = clock();
      const event = baseEvent({
        requestId: invocation.requestId,
        surface: invocation.surface,
        principal: invocation.principal,
        model: typeof invocation.body.model === 'string' ? invocation.body.model : null,
        stream: false,
        started,
      });
      const scope = deps.observer?.requestStart({
        requestId: invocation.requestId,
        surface: invocation.surface,
        operation: 'embeddings',
        model: event.modelRequested,
        stream: false,
        started,
        internal: false,
        body: invocation.body,
      });
      const attempts: AttemptRecord[] = [];
      let admission: Admission | undefined;
      const routeScope = scopeOf(invocation.principal, 'embeddings');
      try {
        const model = resolveModel(invocation.body.model, invocation.principal, 'embedding');
        admission = await deps.access.admit({
          requestId: invocation.requestId,
          principal: invocation.principal,
          model: model.name,
          body: invocation.body,
          operation: 'embeddings',
          now: started,
        });
        const execution = await executor.execute(
          model,
          {
            requestId: invocation.requestId,
            operation: 'embeddings',
            body: invocation.body,
            stream: false,
            signal: invocation.signal,
            ...(scope?.headers && { propagateHeaders: scope.headers }),
          },
          attempts,
          routeScope,
        );
        if (execution.kind !== 'embeddings')
          throw new GatewayError('Unexpected execution kind', {
            code: 'internal_error',
            status: 500,
          });
        served(event, execution.deployment, attempts);
        checkAgreement(execution.deployment, 'embeddings');
        event.inputTokens = execution.response.usage?.prompt_tokens ?? 0;
        event.latencyMs = clock() - started;
        event.ttfbMs = event.latencyMs;
        await settle(admission, merged(ZERO_USAGE, { inputTokens: event.inputTokens }));
        const cost = await write(event);
        scope?.end(event);
        return {
          response: execution.response,
          meta: metaOf(model.name, execution.deployment, attempts.length),
          headers: withCostHeader(withSkipped(admission.headers, routeScope.skipped), cost),
        };
      } catch (error) {
        served(event, undefined, attempts);
        await settle(admission, undefined);
        return fail(event, error, started, invocation.signal, scope, routeScope.skipped);
      }
    },

    models(principal) {
      return catalog
        .all()
        .filter((model) => allowed(principal, model.name))
        .map(
          (model): ModelInfo => ({
            id: model.name,
            kind: model.config.kind,
            contextWindow: model.config.contextWindow,
            capabilities: [...model.config.capabilities],
            ownedBy: catalog.primaryPartner ?? 'switchyard',
          }),
        );
    },

    async recordRejected(input) {
      const started = clock();
      const event = baseEvent(merged(input, { started }));
      event.status = 'error';
      event.httpStatus = input.status;
      event.errorCode = input.code;
      await write(event);
      deps.observer
        ?.requestStart({
          requestId: input.requestId,
          surface: input.surface,
          operation: 'chat',
          model: input.model,
          stream: input.stream,
          started,
          internal: false,
        })
        .end(event);
    },
  };

  /** Settles an admission once; a failure to settle is logged, never thrown at the client. */
  async function settle(admission: Admission | undefined, usage: Usage | undefined): Promise<void> {
    if (!admission) return;
    try {
      await admission.settle(usage);
    } catch (error) {
      deps.onUsageError?.(error, undefined);
    }
  }
}
