import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import { estimateTokens } from '../access/estimate.js';
import type { ChatRequest } from '../core/chat.js';
import { type Usage, ZERO_USAGE } from '../core/usage.js';
import type { StreamItem } from '../providers/index.js';

/**
 * Usage of a stream that ended without the upstream's usage report (cut, stalled, malformed or
 * abandoned): output tokens are the o200k tokens of what was forwarded to the client (text,
 * reasoning, tool call names and arguments), input tokens the estimate of the request. The
 * cloud has spent them, so the usage row carries them rather than zeros.
 */
export function forwardedUsage(items: readonly StreamItem[], body: ChatRequest): Usage {
  let text = '';
  for (const item of items) {
    let chunk: ReturnType<StreamItem['chunk']>;
    try {
      chunk = item.chunk();
    } catch {
      continue; // a malformed event is never forwarded, so it is not counted either
    }
    for (const choice of chunk.choices ?? []) {
      const delta = choice.delta;
      if (!delta) continue;
      if (typeof delta.content === 'string') text += delta.content;
      if (typeof delta.reasoning_content === 'string') text += delta.reasoning_content;
      for (const call of delta.tool_calls ?? []) {
        if (typeof call.function?.name === 'string') text += call.function.name;
        if (typeof call.function?.arguments === 'string') text += call.function.arguments;
      }
    }
  }
  return {
    ...ZERO_USAGE,
    inputTokens: estimateTokens(body, 'chat').inputTokens,
    outputTokens: countTokens(text),
  };
}
