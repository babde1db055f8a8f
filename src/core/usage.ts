import type { ChatUsage } from './chat.js';

/**
 * Token usage in Switchyard's own terms. `inputTokens` includes `cachedInputTokens` (OpenAI's
 * convention); `outputTokens` includes `reasoningTokens`.
 */
export interface Usage {
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
  reasoningTokens: number;
}

/** Zero usage, for failed requests. */
export const ZERO_USAGE: Readonly<Usage> = Object.freeze({
  inputTokens: 0,
  cachedInputTokens: 0,
  outputTokens: 0,
  reasoningTokens: 0,
});

/** Reads an OpenAI usage block. */
export function usageFromOpenAI(usage: ChatUsage | null | undefined): Usage | undefined {
  if (!usage || typeof usage !== 'object') return undefined;
  return {
    inputTokens: num(usage.prompt_tokens),
    cachedInputTokens: num(usage.prompt_tokens_details?.cached_tokens),
    outputTokens: num(usage.completion_tokens),
    reasoningTokens: num(usage.completion_tokens_details?.reasoning_tokens),
  };
}

/** Writes an OpenAI usage block. */
export function usageToOpenAI(usage: Usage): ChatUsage {
  return {
    prompt_tokens: usage.inputTokens,
    completion_tokens: usage.outputTokens,
    total_tokens: usage.inputTokens + usage.outputTokens,
    prompt_tokens_details: { cached_tokens: usage.cachedInputTokens },
    completion_tokens_details: { reasoning_tokens: usage.reasoningTokens },
  };
}

function num(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? Math.floor(value) : 0;
}
