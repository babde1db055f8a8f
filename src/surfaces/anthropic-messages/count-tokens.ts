import type { ChatRequest } from '../../core/chat.js';
import { o200kTokens } from '../../core/tokens.js';

/** Tokens charged per image in the estimate (Anthropic: about width·height/750; ~1600 for a large image). */
const IMAGE_TOKENS = 1600;

/**
 * Estimates the input tokens of a request for `POST /v1/messages/count_tokens`: o200k_base over
 * every text, tool-call name and arguments, and tool definition, plus a flat amount per image.
 * Claude's tokenizer is not public, so this is an estimate, good for budgeting a context window,
 * not for billing (billing uses the usage the upstream reports).
 */
export function estimateInputTokens(body: ChatRequest): number {
  let total = 0;
  const text = (value: string) => {
    total += o200kTokens(value);
  };
  for (const message of body.messages) {
    if (typeof message.content === 'string') text(message.content);
    else
      for (const part of message.content ?? []) {
        if (part.type === 'text' && typeof part.text === 'string') text(part.text);
        else if (part.type === 'image_url' || part.type === 'file') total += IMAGE_TOKENS;
      }
    if (message.reasoning_content !== undefined) text(message.reasoning_content);
    for (const call of message.tool_calls ?? []) {
      text(call.function.name);
      text(call.function.arguments);
    }
  }
  for (const tool of body.tools ?? []) text(JSON.stringify(tool.function));
  return total;
}
