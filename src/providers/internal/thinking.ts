import { invalidRequest } from '../../errors/index.js';

/**
 * One mapping between the three ways clients ask for reasoning (an OpenAI `reasoning_effort`,
 * an Anthropic/Bedrock `budget_tokens`, Anthropic's adaptive "may think") and what each
 * provider accepts, so Anthropic and Bedrock-Claude budgets agree and stay below max tokens.
 */

/** Anthropic's smallest thinking budget (https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking). */
export const MIN_THINKING_BUDGET = 1024;

/** Room left for the answer when the client set no max tokens: the budget counts toward them. */
export const ANSWER_ROOM_TOKENS = 4096;

/** Claude thinking budget per OpenAI `reasoning_effort`. */
export const THINKING_BUDGETS: Readonly<Record<string, number>> = {
  minimal: 1024,
  low: 2048,
  medium: 8192,
  high: 16_384,
  xhigh: 32_000,
};

/**
 * An OpenAI effort for an explicit budget (for providers that think in levels). `xhigh` is left
 * out: only some OpenAI models take it, while every reasoning model takes low/medium/high.
 */
export function effortForBudget(budget: number): 'low' | 'medium' | 'high' {
  if (budget < 4096) return 'low';
  if (budget < 16_384) return 'medium';
  return 'high';
}

/** Claude `thinking` plus the max tokens to send with it. */
export interface ClaudeThinking {
  thinking: { type: 'enabled'; budget_tokens: number } | { type: 'adaptive' };
  /** Max tokens to send: the client's, or budget + answer room when the client set none. */
  maxTokens: number | undefined;
}

/**
 * The Claude thinking config for a request, or undefined for none. An explicit budget is kept
 * exact and must be at least 1024 and below max tokens (Anthropic and Bedrock refuse otherwise;
 * the 400 says so in the client's terms). An effort maps through {@link THINKING_BUDGETS},
 * clamped below max tokens. Adaptive thinking is passed as is.
 */
export function claudeThinking(input: {
  effort: string | undefined;
  budget: number | undefined;
  mode: 'adaptive' | undefined;
  maxTokens: number | undefined;
}): ClaudeThinking | undefined {
  const { effort, budget, mode, maxTokens } = input;
  if (typeof budget === 'number') {
    if (!Number.isInteger(budget) || budget < MIN_THINKING_BUDGET)
      throw invalidRequest(
        `thinking.budget_tokens: must be an integer of at least ${MIN_THINKING_BUDGET}`,
        'thinking.budget_tokens',
      );
    if (maxTokens === undefined)
      return {
        thinking: { type: 'enabled', budget_tokens: budget },
        maxTokens: budget + ANSWER_ROOM_TOKENS,
      };
    if (budget >= maxTokens)
      throw invalidRequest(
        '`max_tokens` must be greater than `thinking.budget_tokens`',
        'thinking.budget_tokens',
      );
    return { thinking: { type: 'enabled', budget_tokens: budget }, maxTokens };
  }
  if (effort !== undefined && effort !== 'none') {
    const wanted = THINKING_BUDGETS[effort];
    if (wanted === undefined)
      throw invalidRequest(
        `reasoning_effort must be one of none, ${Object.keys(THINKING_BUDGETS).join(', ')}`,
        'reasoning_effort',
      );
    if (maxTokens === undefined)
      return {
        thinking: { type: 'enabled', budget_tokens: wanted },
        maxTokens: wanted + ANSWER_ROOM_TOKENS,
      };
    if (maxTokens <= MIN_THINKING_BUDGET)
      throw invalidRequest(
        `max_tokens must be above ${MIN_THINKING_BUDGET} when reasoning_effort is set (Claude thinking minimum)`,
        'max_tokens',
      );
    return {
      thinking: { type: 'enabled', budget_tokens: Math.min(wanted, maxTokens - 1) },
      maxTokens,
    };
  }
  if (mode === 'adaptive') return { thinking: { type: 'adaptive' }, maxTokens };
  return undefined;
}
