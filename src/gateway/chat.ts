import type { Admission } from '../access/index.js';
import type { ApiKind } from '../config/index.js';
import { type Usage, usageFromOpenAI, ZERO_USAGE } from '../core/usage.js';
import { merged } from '../core/objects.js';
import { GatewayError, toGatewayError } from '../errors/index.js';
import type { CatalogModel, Deployment } from '../router/catalog.js';
import type { AttemptRecord, Execution, ExecutionCall, PlanHints } from '../router/executor.js';
import { featuresOf } from '../router/features.js';
import type { RouteScope, Skip } from '../router/licence-scope.js';
import { type ModelChain, resolveChain } from '../router/rules.js';
import type { UsageEvent } from '../store/index.js';
import type { RequestScope } from '../telemetry/observer.js';
import type { ClientSignal } from '../transport/abort.js';
import { withCostHeader, withSkipped } from './answer-headers.js';
import { costSwitch } from './cost-switch.js';
import type { GatewayDeps } from './gateway-deps.js';
import { jsonAnswer } from './json-answer.js';
import { meteredStream } from './metered-stream.js';
import { allowed, modelList, requireModelName } from './model-names.js';
import { planHints } from './plan-hints.js';
import { metaOf } from './route-meta.js';
import type { ChatInvocation, ChatOutcome, Gateway, Principal } from './types.js';
import { baseEvent, served } from './usage-event.js';

/**
 * The helpers `createGateway` shares with chat, made once per gateway (never per request):
 * recording the usage row, settling the admission, failing a request, the route scope and the
 * coverage guard.
 */
export interface ChatParts {
  write: (event: UsageEvent) => Promise<bigint | undefined>;
  settle: (admission: Admission | undefined, usage: Usage | undefined) => Promise<void>;
  fail: (
    event: UsageEvent,
    thrown: unknown,
    started: number,
    signal: ClientSignal,
    scope?: RequestScope,
    skipped?: Skip[],
  ) => Promise<never>;
  scopeOf: (principal: Principal, api: ApiKind) => RouteScope & { skipped: Skip[] };
  checkAgreement: (deployment: Deployment, api: ApiKind) => void;
}

/**
 * The gateway's chat operation, made once by `createGateway`: resolve the model chain, admit,
 * run the chain through the executor, and answer as JSON or as a metered stream.
 */
export function createChat(deps: GatewayDeps, parts: ChatParts): Gateway['chat'] {
  const { catalog, executor, clock } = deps;
  const { write, settle, fail, scopeOf, checkAgreement } = parts;

  return async function chat(invocation: ChatInvocation): Promise<ChatOutcome> {
    const started = clock();
    const { principal, signal } = invocation;
    const { body, asked } = costSwitch(invocation.body);
    const includeCost =
      asked ||
      invocation.includeCost === true ||
      principal.includeCost === true ||
      deps.config.billing.costInBody;
    const stream = body.stream === true;
    const event = baseEvent({
      requestId: invocation.requestId,
      surface: invocation.surface,
      principal,
      model: typeof body.model === 'string' ? body.model : null,
      stream,
      started,
      metadata: body.metadata,
    });
    const scope = deps.observer?.requestStart({
      requestId: invocation.requestId,
      surface: invocation.surface,
      operation: 'chat',
      model: event.modelRequested,
      stream,
      started,
      internal: invocation.internal === true,
      body,
    });
    const attempts: AttemptRecord[] = [];
    let deployment: Deployment | undefined;
    let admission: Admission | undefined;
    const api: ApiKind =
      invocation.apiKind ?? (invocation.surface === 'openai-responses' ? 'stateful' : 'chat');
    const routeScope = scopeOf(principal, api);
    try {
      const features = featuresOf(body, invocation.tags ?? []);
      const chain = resolveChain({
        requested: requireModelName(body.model),
        list: modelList(body['models']),
        features,
        principal,
        rules: deps.config.routing.rules,
        catalog,
        allowed,
      });
      const first = chain.models[0]!;
      event.model = first.name;
      admission = await deps.access.admit({
        requestId: invocation.requestId,
        principal,
        model: first.name,
        body,
        operation: 'chat',
        now: started,
        endUser: invocation.endUser,
      });
      // A hard budget that could not cover the worst case lowered the output limit.
      const routed =
        admission.maxOutputTokens === undefined
          ? body
          : merged(body, { max_completion_tokens: admission.maxOutputTokens });
      const hints: PlanHints = merged(
        planHints(chain, features, routed, deps.config.routing.strategy),
        routeScope,
      );
      const execution = await runChain(
        chain,
        {
          requestId: invocation.requestId,
          operation: 'chat',
          surface: invocation.surface,
          body: routed,
          stream,
          signal,
          ...(scope?.headers && { propagateHeaders: scope.headers }),
        },
        attempts,
        hints,
      );
      const model = execution.model;
      deployment = execution.deployment;
      checkAgreement(deployment, api);
      const answerHeaders = withSkipped(admission.headers, routeScope.skipped);
      served(event, deployment, attempts);
      const meta = metaOf(model.name, deployment, attempts.length, {
        served: model,
        figures: hints.figures,
        request: { body, translated: invocation.surface !== 'openai-chat' },
      });
      if (execution.kind === 'json') {
        const usage = usageFromOpenAI(execution.usage);
        Object.assign(event, usage ?? ZERO_USAGE);
        event.latencyMs = clock() - started;
        event.ttfbMs = event.latencyMs;
        await settle(admission, usage);
        const cost = invocation.internal ? undefined : await write(event);
        // A thunk: on the fast path the answer is parsed only if an observer wants its body.
        scope?.end(event, () => execution.completion);
        const shown = includeCost && cost !== undefined && execution.usage;
        return jsonAnswer(execution, meta.openAIFamily, shown ? cost : undefined, {
          usage,
          meta,
          headers: withCostHeader(answerHeaders, cost),
          cost,
        });
      }
      if (execution.kind !== 'stream')
        throw new GatewayError('Unexpected execution kind', {
          code: 'internal_error',
          status: 500,
        });
      const admitted = admission;
      return {
        kind: 'stream',
        items: meteredStream({
          items: execution.items,
          cancel: execution.cancel,
          event,
          body,
          started,
          signal,
          drainMs: deps.config.routing.drainOnDisconnectMs,
          clock,
          scope,
          includeCost,
          settle: (usage) => settle(admitted, usage),
          book: (row) => (invocation.internal ? Promise.resolve(undefined) : write(row)),
        }),
        meta,
        headers: answerHeaders,
      };
    } catch (error) {
      served(event, deployment, attempts);
      await settle(admission, undefined);
      return fail(event, error, started, signal, scope, routeScope.skipped);
    }
  };

  /**
   * Tries the chain's models in order: the next model is tried when one fails in a way another
   * model could fix (all its deployments down, or its context too small with an overflow rule).
   */
  async function runChain(
    chain: ModelChain,
    call: ExecutionCall,
    attempts: AttemptRecord[],
    hints: PlanHints,
  ): Promise<Execution & { model: CatalogModel }> {
    const queue = [...chain.models];
    let lastError: GatewayError | undefined;
    for (let index = 0; index < queue.length; index++) {
      const model = queue[index]!;
      if (index > 0 && call.signal.aborted) break;
      try {
        // Not spread: a fast-path answer's `completion` is a getter that parses on first read.
        const execution = (await executor.execute(model, call, attempts, hints)) as Execution & {
          model: CatalogModel;
        };
        execution.model = model;
        return execution;
      } catch (thrown) {
        const error = toGatewayError(thrown);
        lastError = error;
        if (error.errorClass === 'context_overflow') {
          const next = chain.overflow.get(model.name);
          if (next && !queue.includes(next)) queue.splice(index + 1, 0, next);
          continue;
        }
        if (!error.failover && !error.retryable) throw error;
      }
    }
    throw (
      lastError ??
      new GatewayError('No model could serve the request', {
        code: 'no_deployment_available',
        status: 503,
        errorClass: 'overloaded',
      })
    );
  }
}
