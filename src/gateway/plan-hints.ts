import type { ChatRequest } from '../core/chat.js';
import type { PlanHints } from '../router/executor.js';
import type { RequestFeatures } from '../router/features.js';
import { DEFAULT_OUTPUT_TOKENS } from '../router/net-cost.js';
import type { RoutingStrategy } from '../router/policy.js';
import type { ModelChain } from '../router/rules.js';

/**
 * The plan hints of a chat request: the strategy its rule chose and, when the strategy is
 * `lowest-net-cost`, its expected tokens (input: characters / 4; output: the request's limit,
 * else the model's `maxOutputTokens`, else 1024) and a map for the figures behind the order.
 */
export function planHints(
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
