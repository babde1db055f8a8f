import type { ChatUsage } from './chat.js';
import { merged } from './objects.js';

/**
 * Token usage in Switchyard's own terms. `inputTokens` includes `cachedInputTokens` (OpenAI's
 * convention); `outputTokens` includes `reasoningTokens`.
 */
export interface Usage {
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
  reasoningTokens: number;
  /**
   * Input tokens written to a prompt cache (Anthropic `cache_creation_input_tokens`, Bedrock
   * `cacheWriteInputTokens`), included in `inputTokens`; absent means none. In the OpenAI-shaped
   * usage block they travel as the extension `prompt_tokens_details.cache_write_tokens`.
   */
  cacheWriteTokens?: number;
  /**
   * The part of `cacheWriteTokens` written with a one-hour lifetime (Anthropic's
   * `cache_creation.ephemeral_1h_input_tokens`); extension `cache_write_1h_tokens`.
   */
  cacheWrite1hTokens?: number;
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
    ...cacheWrites(usage.prompt_tokens_details as Record<string, unknown> | undefined),
  };
}

function cacheWrites(
  details: Record<string, unknown> | undefined,
): Pick<Usage, 'cacheWriteTokens' | 'cacheWrite1hTokens'> {
  const written = num(details?.['cache_write_tokens']);
  const hour = num(details?.['cache_write_1h_tokens']);
  return merged(
    written > 0 && { cacheWriteTokens: written },
    hour > 0 && { cacheWrite1hTokens: hour },
  );
}

/** Writes an OpenAI usage block. */
export function usageToOpenAI(usage: Usage): ChatUsage {
  return {
    prompt_tokens: usage.inputTokens,
    completion_tokens: usage.outputTokens,
    total_tokens: usage.inputTokens + usage.outputTokens,
    prompt_tokens_details: {
      cached_tokens: usage.cachedInputTokens,
      ...(usage.cacheWriteTokens ? { cache_write_tokens: usage.cacheWriteTokens } : {}),
      ...(usage.cacheWrite1hTokens ? { cache_write_1h_tokens: usage.cacheWrite1hTokens } : {}),
    },
    completion_tokens_details: { reasoning_tokens: usage.reasoningTokens },
  };
}

function num(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? Math.floor(value) : 0;
}
