import type { RoutingRule } from '../config/index.js';
import { GatewayError } from '../errors/index.js';
import type { Principal } from '../gateway/types.js';
import type { Catalog, CatalogModel } from './catalog.js';
import type { RequestFeatures } from './features.js';
import type { RoutingStrategy } from './policy.js';

/** The longest chain of models one request tries (client list plus configured fallbacks). */
const MAX_CHAIN = 10;

/** The models a request will try, in order, and why. */
export interface ModelChain {
  models: CatalogModel[];
  /** Model to move to when a model answers context_length_exceeded (a `contextOverflow` rule). */
  overflow: Map<string, CatalogModel>;
  /** The strategy the matching rule chose (its `strategy` action), if any. */
  strategy?: RoutingStrategy | undefined;
}

export interface ChainInput {
  /** `model` from the body. */
  requested: string;
  /** `models: [...]` from the body (OpenRouter style), if any. */
  list: string[] | undefined;
  features: RequestFeatures;
  principal: Principal;
  rules: readonly RoutingRule[];
  catalog: Catalog;
  allowed: (principal: Principal, model: string) => boolean;
}

/**
 * Turns the requested model into the chain of models to try: the client's list (or the one
 * model), the first matching rule applied to the first model, models that cannot take the
 * request (capabilities, context window) skipped, each model's configured `fallbacks` appended,
 * and context-overflow fallbacks collected.
 */
export function resolveChain(input: ChainInput): ModelChain {
  const names = input.list && input.list.length > 0 ? input.list : [input.requested];
  const lookup = (name: string, param: string): CatalogModel => {
    const model = input.catalog.get(name);
    if (!model || !input.allowed(input.principal, name)) {
      throw new GatewayError(
        `The model \`${name}\` does not exist or you do not have access to it.`,
        {
          code: 'model_not_found',
          status: 404,
          param,
          errorClass: 'not_found',
          retryable: false,
          failover: false,
        },
      );
    }
    return model;
  };
  const models = names.map((name, index) =>
    lookup(name, input.list ? `models[${index}]` : 'model'),
  );
  const first = models[0]!;
  let strategy: RoutingStrategy | undefined;
  // The first matching rule that does something decides: another model, a strategy, or both.
  for (const rule of input.rules) {
    if (rule.when.contextOverflow) continue;
    const moves = rule.model !== undefined && rule.model !== first.name;
    if (
      (!moves && rule.strategy === undefined) ||
      !matches(rule, first.name, input.features, input.principal)
    )
      continue;
    const target = moves ? input.catalog.get(rule.model!) : undefined;
    if (target) models[0] = target;
    strategy = rule.strategy;
    break;
  }
  // Each model's configured fallbacks follow the models the client named, in order, once each;
  // a fallback this key may not use is skipped rather than refused.
  for (let index = 0; index < models.length && models.length < MAX_CHAIN; index++) {
    for (const name of models[index]!.config.fallbacks) {
      const fallback = input.catalog.get(name);
      if (
        fallback &&
        input.allowed(input.principal, name) &&
        !models.includes(fallback) &&
        models.length < MAX_CHAIN
      )
        models.push(fallback);
    }
  }
  const overflow = new Map<string, CatalogModel>();
  for (const model of models) {
    const rule = input.rules.find(
      (candidate) =>
        candidate.when.contextOverflow &&
        (candidate.when.model === undefined || candidate.when.model === model.name),
    );
    const target = rule?.model === undefined ? undefined : input.catalog.get(rule.model);
    if (target && target.name !== model.name) overflow.set(model.name, target);
  }
  // Skip models that cannot take the request at all; keep the reason for a clear error.
  const able: CatalogModel[] = [];
  let refusal: GatewayError | undefined;
  const visit = (model: CatalogModel, depth: number) => {
    const problem = unable(model, input.features);
    if (!problem) {
      if (!able.includes(model)) able.push(model);
      return;
    }
    refusal ??= problem;
    const next = overflow.get(model.name);
    if (problem.code === 'context_length_exceeded' && next && depth < 4) visit(next, depth + 1);
  };
  for (const model of models) visit(model, 0);
  if (able.length === 0) throw refusal!;
  return { models: able, overflow, ...(strategy && { strategy }) };
}

/** Why a model cannot take a request (missing capability, context too small), or undefined. */
export function unable(model: CatalogModel, features: RequestFeatures): GatewayError | undefined {
  const declared = model.config.capabilities;
  if (declared.length > 0) {
    for (const need of features.needs) {
      if (!declared.includes(need)) {
        return new GatewayError(
          `The model \`${model.name}\` does not support ${need.replace('_', ' ')}`,
          {
            code: 'unsupported_parameter',
            status: 400,
            param: need === 'tools' ? 'tools' : null,
            errorClass: 'invalid_request',
            retryable: false,
            failover: false,
          },
        );
      }
    }
  }
  const window = largestWindow(model);
  if (window !== undefined) {
    const output = features.maxOutputTokens ?? 0;
    // Characters bound tokens from above: tokenize only when the cheap bound does not settle it.
    if (features.inputCharacters + output > window && features.inputTokens() + output > window) {
      return new GatewayError(
        `This model's maximum context length is ${window} tokens; the request needs ${features.inputTokens()} input + ${output} output tokens.`,
        {
          code: 'context_length_exceeded',
          status: 400,
          param: 'messages',
          errorClass: 'context_overflow',
          retryable: false,
          failover: false,
        },
      );
    }
  }
  return undefined;
}

function largestWindow(model: CatalogModel): number | undefined {
  let window: number | undefined;
  for (const deployment of model.deployments) {
    const size = deployment.config.contextWindow ?? model.config.contextWindow;
    if (size === undefined) return undefined;
    window = window === undefined ? size : Math.max(window, size);
  }
  return window;
}

function matches(
  rule: RoutingRule,
  model: string,
  features: RequestFeatures,
  principal: Principal,
): boolean {
  const when = rule.when;
  if (when.model !== undefined && when.model !== model) return false;
  if (when.tenant !== undefined && when.tenant !== principal.tenantId) return false;
  if (when.tag !== undefined && !features.tags.includes(when.tag)) return false;
  if (when.needs && !when.needs.every((need) => features.needs.has(need))) return false;
  if (
    when.metadata &&
    !Object.entries(when.metadata).every(([key, value]) => features.metadata[key] === value)
  )
    return false;
  if (
    when.maxInputTokens !== undefined &&
    features.inputCharacters > when.maxInputTokens &&
    features.inputTokens() > when.maxInputTokens
  )
    return false;
  if (
    when.minInputTokens !== undefined &&
    (features.inputCharacters < when.minInputTokens || features.inputTokens() < when.minInputTokens)
  )
    return false;
  return true;
}
