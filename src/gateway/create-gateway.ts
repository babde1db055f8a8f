import type { Access, Admission } from '../access/index.js';
import type { ApiKind, Config } from '../config/index.js';
import type { ChatRequest } from '../core/chat.js';
import type { Clock } from '../core/clock.js';
import { type Usage, usageFromOpenAI, ZERO_USAGE } from '../core/usage.js';
import { GatewayError, toGatewayError } from '../errors/index.js';
import type { Catalog, CatalogModel, Deployment } from '../router/catalog.js';
import type {
  AttemptRecord,
  Execution,
  ExecutionCall,
  Executor,
  PlanHints,
} from '../router/executor.js';
import { featuresOf, type RequestFeatures } from '../router/features.js';
import {
  DEFAULT_OUTPUT_TOKENS,
  microsToUsd,
  type NetCostFigure,
  netCostHeader,
} from '../router/net-cost.js';
import type { RoutingStrategy } from '../router/policy.js';
import {
  type AgreementGap,
  hasAgreement,
  type RouteScope,
  type Skip,
  skippedHeader,
} from '../router/licence-scope.js';
import { type ModelChain, resolveChain } from '../router/rules.js';
import type { UsageEvent } from '../store/index.js';
import { droppedControls } from '../providers/controls.js';
import type { GatewayObserver, RequestScope } from '../telemetry/observer.js';
import type { ClientSignal } from '../transport/abort.js';
import { failureHeaders } from './route-headers.js';
import { bookedCost, COST_HEADER, costDecimal } from './cost.js';
import { jsonAnswer } from './json-answer.js';
import { meteredStream } from './metered-stream.js';
import type {
  ChatInvocation,
  ChatOutcome,
  EmbeddingsInvocation,
  Gateway,
  ModelInfo,
  Principal,
  RouteMeta,
  SurfaceName,
} from './types.js';
import { merged } from '../core/objects.js';

/** Where usage events go (the store's usage repository, or billing on top of it). */
export interface UsageSink {
  record(event: UsageEvent): Promise<unknown>;
}

export interface GatewayDeps {
  config: Config;
  catalog: Catalog;
  executor: Executor;
  access: Access;
  usage: UsageSink;
  clock: Clock;
  /** Called when recording a usage event fails (it is logged; the answer still goes out). */
  onUsageError?: (error: unknown, event: UsageEvent | undefined) => void;
  /** Telemetry hooks (metrics, traces): told when each request starts and ends. */
  observer?: GatewayObserver;
  /**
   * Told when a request was served through a partner with no licence for the model while
   * `routing.coverageGuard` is `alert` (metrics, log, the `agreement.gap` alert).
   */
  onAgreementGap?: (gap: AgreementGap) => void;
}

/** Header naming the deployments routing left out of a request, and why. */
export const SKIPPED_HEADER = 'x-switchyard-skipped';

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
  /** Admission headers plus the booked cost (a new object: admissions may share theirs). */
  const withCostHeader = (headers: Record<string, string>, cost: bigint | undefined) =>
    cost === undefined ? headers : merged(headers, { [COST_HEADER]: costDecimal(cost) });

  /** The request's API kind and its tenant's pinned regions, for the policy. */
  const scopeOf = (principal: Principal, api: ApiKind): RouteScope & { skipped: Skip[] } => ({
    api,
    regions: deps.config.tenants[principal.tenantId]?.regions,
    skipped: [],
  });
  /** Adds the skipped header to an answer's headers (a new object: admissions may share theirs). */
  const withSkipped = (headers: Record<string, string>, skipped: Skip[]) => {
    const value = skippedHeader(skipped);
    return value === undefined ? headers : merged(headers, { [SKIPPED_HEADER]: value });
  };
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
    name: unknown,
    principal: Principal,
    kind: 'chat' | 'embedding',
  ): CatalogModel => {
    if (typeof name !== 'string' || name.length === 0) {
      throw new GatewayError('`model` is required', {
        code: 'invalid_request',
        status: 400,
        param: 'model',
        retryable: false,
        failover: false,
      });
    }
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

  const baseEvent = (input: {
    requestId: string;
    surface: SurfaceName;
    principal: Principal | null;
    model: string | null;
    stream: boolean;
    started: number;
    metadata?: unknown;
  }): UsageEvent => ({
    requestId: input.requestId,
    createdAt: input.started,
    tenantId: input.principal?.tenantId ?? 'unknown',
    projectId: input.principal?.projectId ?? 'unknown',
    keyId: input.principal?.keyId ?? null,
    surface: input.surface,
    modelRequested: input.model ?? '',
    model: null,
    deployment: null,
    upstreamModel: null,
    partner: null,
    attempts: 0,
    attemptLog: [],
    // ZERO_USAGE's fields written out: a spread in the middle of a literal takes V8's slow path
    // (about 2% of a request's busy time in a profile at 20 connections).
    inputTokens: 0,
    cachedInputTokens: 0,
    outputTokens: 0,
    reasoningTokens: 0,
    latencyMs: 0,
    ttfbMs: null,
    status: 'ok',
    httpStatus: 200,
    errorCode: null,
    stream: input.stream,
    sandbox: false,
    metadata: stringRecord(input.metadata),
  });

  const served = (
    event: UsageEvent,
    deployment: Deployment | undefined,
    attempts: AttemptRecord[],
  ) => {
    event.attempts = attempts.length;
    event.attemptLog = attempts.map((attempt) => ({
      provider: attempt.deployment,
      status: attempt.status,
      errorClass: attempt.errorClass,
      ms: attempt.ms,
    }));
    if (deployment) {
      event.model = deployment.model;
      event.deployment = deployment.provider;
      event.upstreamModel = deployment.upstreamModel;
      event.partner = deployment.partner;
      event.sandbox = deployment.sandbox;
    } else {
      const last = attempts[attempts.length - 1];
      event.deployment = last?.deployment ?? null;
      event.upstreamModel = last?.upstreamModel ?? null;
      // A failed request is the failure of the cloud it last tried: partner error rates count it.
      event.partner = last?.partner ?? null;
    }
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

    async chat(invocation: ChatInvocation): Promise<ChatOutcome> {
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
    },

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

/**
 * The plan hints of a chat request: the strategy its rule chose and, when the strategy is
 * `lowest-net-cost`, its expected tokens (input: characters / 4; output: the request's limit,
 * else the model's `maxOutputTokens`, else 1024) and a map for the figures behind the order.
 */
function planHints(
  chain: ModelChain,
  features: RequestFeatures,
  body: ChatRequest,
  configured: RoutingStrategy,
): PlanHints {
  const strategy = chain.strategy ?? configured;
  const hints: PlanHints = chain.strategy ? { strategy } : {};
  if (strategy !== 'lowest-net-cost') return hints;
  const limit = body.max_completion_tokens ?? body.max_tokens;
  hints.estimate = {
    // Characters / 4 (o200k's English average): a request is not tokenized just to be routed.
    inputTokens: Math.ceil(features.inputCharacters / 4),
    outputTokens:
      typeof limit === 'number' && limit > 0
        ? limit
        : (chain.models[0]!.config.maxOutputTokens ?? DEFAULT_OUTPUT_TOKENS),
  };
  hints.figures = new Map();
  return hints;
}

function metaOf(
  model: string,
  deployment: Deployment,
  attempts: number,
  extra: {
    served?: CatalogModel;
    figures?: Map<string, NetCostFigure> | undefined;
    request?: { body: Record<string, unknown>; translated: boolean };
  } = {},
): RouteMeta {
  const type = deployment.providerConfig.type;
  const openAIFamily =
    type === 'openai' ||
    type === 'azure-openai' ||
    type === 'openai-compatible' ||
    (type === 'bedrock' && deployment.api === 'openai');
  const { served, figures, request } = extra;
  const dropped =
    request && droppedControls(type, deployment.api, request.body, request.translated);
  return {
    model,
    deployment: deployment.provider,
    upstreamModel: deployment.upstreamModel,
    partner: deployment.partner,
    attempts,
    sandbox: deployment.sandbox,
    openAIFamily,
    ...(dropped && dropped.length > 0 && { dropped }),
    ...(served && figures && figures.size > 0 && netCostMeta(deployment, served, figures)),
  };
}

/** The `x-switchyard-net-cost(s)` figures of the served model's plan. */
function netCostMeta(
  deployment: Deployment,
  model: CatalogModel,
  figures: Map<string, NetCostFigure>,
): Pick<RouteMeta, 'netCost' | 'netCosts'> {
  const chosen = figures.get(deployment.key);
  const ranked = model.deployments
    .map((candidate) => figures.get(candidate.key))
    .filter((figure): figure is NetCostFigure => figure !== undefined)
    .sort((a, b) =>
      a.net === b.net ? 0 : a.net === null ? 1 : b.net === null ? -1 : a.net < b.net ? -1 : 1,
    );
  return merged(chosen && { netCost: chosen.net === null ? 'unknown' : microsToUsd(chosen.net) }, {
    netCosts: netCostHeader(
      ranked.map((figure) => figure.deployment),
      figures,
    ),
  });
}

function requireModelName(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new GatewayError('`model` is required', {
      code: 'invalid_request',
      status: 400,
      param: 'model',
      retryable: false,
      failover: false,
    });
  }
  return value;
}

function modelList(value: unknown): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (
    !Array.isArray(value) ||
    value.length === 0 ||
    value.length > 10 ||
    !value.every((item) => typeof item === 'string' && item.length > 0)
  ) {
    throw new GatewayError('`models` must be a list of 1 to 10 model names', {
      code: 'invalid_request',
      status: 400,
      param: 'models',
      retryable: false,
      failover: false,
    });
  }
  return value as string[];
}

function allowed(principal: Principal, model: string): boolean {
  const patterns = principal.allowedModels;
  if (!patterns) return true;
  return patterns.some((pattern) =>
    pattern.endsWith('*') ? model.startsWith(pattern.slice(0, -1)) : pattern === model,
  );
}

/**
 * OpenRouter's request switch `usage: { include: true }` asks for `usage.cost` in the answer.
 * The field is Switchyard's to read, never forwarded: upstreams refuse unknown parameters.
 */
function costSwitch(body: ChatInvocation['body']): {
  body: ChatInvocation['body'];
  asked: boolean;
} {
  const usage = body['usage'];
  if (usage === undefined) return { body, asked: false };
  const { usage: _dropped, ...rest } = body;
  const asked =
    typeof usage === 'object' &&
    usage !== null &&
    (usage as { include?: unknown }).include === true;
  return { body: rest as ChatInvocation['body'], asked };
}

function stringRecord(value: unknown): Record<string, string> | null {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return null;
  const out: Record<string, string> = {};
  for (const [key, item] of Object.entries(value)) if (typeof item === 'string') out[key] = item;
  return Object.keys(out).length > 0 ? out : null;
}
