import type { ChatMessage, ChatTool } from '../core/chat.js';
import { o200kTokens } from '../core/tokens.js';
import { contextTooLong } from './errors.js';

/**
 * Token counting (o200k_base, gpt-tokenizer) and fitting a context into a model's window.
 * Counting is an estimate for non-OpenAI models, close enough to keep a request under its
 * window; each message adds {@link MESSAGE_OVERHEAD} tokens for its framing.
 */

/** Tokens for a message's role and framing (OpenAI's chat format spends 3–4). */
const MESSAGE_OVERHEAD = 4;
/** Flat cost of an image part (OpenAI's low-detail cost). */
const IMAGE_TOKENS = 85;

/** Tokens of one string. */
export function tokensOf(text: string): number {
  return o200kTokens(text);
}

/** Estimated tokens of one chat message. */
export function messageTokens(message: ChatMessage): number {
  let total = MESSAGE_OVERHEAD;
  const content = message.content;
  if (typeof content === 'string') total += tokensOf(content);
  else if (Array.isArray(content)) {
    for (const part of content)
      total +=
        part.type === 'text' && typeof part['text'] === 'string'
          ? tokensOf(part['text'])
          : IMAGE_TOKENS;
  }
  for (const call of message.tool_calls ?? [])
    total += tokensOf(call.function.name) + tokensOf(call.function.arguments);
  if (typeof message.refusal === 'string') total += tokensOf(message.refusal);
  if (typeof message.reasoning_content === 'string') total += tokensOf(message.reasoning_content);
  return total;
}

/** Estimated tokens of a whole request context: messages plus tool definitions. */
export function contextTokens(messages: ChatMessage[], tools: ChatTool[] = []): number {
  let total = 0;
  for (const message of messages) total += messageTokens(message);
  for (const tool of tools) total += tokensOf(JSON.stringify(tool));
  return total;
}

/**
 * An upper bound on the tokens, computed without tokenizing: a BPE token covers at least one
 * UTF-8 byte, so bytes (plus framing) bound tokens from above. When the bound fits, counting
 * is skipped, which keeps long chains cheap on the hot path.
 */
function upperBound(messages: ChatMessage[], tools: ChatTool[]): number {
  let total = 0;
  for (const message of messages) {
    total += MESSAGE_OVERHEAD;
    const content = message.content;
    if (typeof content === 'string') total += Buffer.byteLength(content);
    else if (Array.isArray(content))
      for (const part of content)
        total += typeof part['text'] === 'string' ? Buffer.byteLength(part['text']) : IMAGE_TOKENS;
    for (const call of message.tool_calls ?? [])
      total += Buffer.byteLength(call.function.name) + Buffer.byteLength(call.function.arguments);
    if (typeof message.refusal === 'string') total += Buffer.byteLength(message.refusal);
    if (typeof message.reasoning_content === 'string')
      total += Buffer.byteLength(message.reasoning_content);
  }
  for (const tool of tools) total += Buffer.byteLength(JSON.stringify(tool));
  return total;
}

/** True when the context certainly fits in `budget` tokens, or its counted size does. */
export function fits(messages: ChatMessage[], tools: ChatTool[], budget: number): boolean {
  return upperBound(messages, tools) <= budget || contextTokens(messages, tools) <= budget;
}

/**
 * Makes `messages` fit `budget` tokens (the model's window minus the output reserve).
 * - `disabled`: too long → 400 `context_length_exceeded`.
 * - `auto`: drops the oldest turns first. System messages (instructions, compaction
 *   summaries) and the last user message onwards are kept; an assistant message goes together
 *   with the tool results that answer it, and the kept part starts at a user message, so no
 *   provider sees an orphan tool result. If even that does not fit → the same 400.
 */
export function fitToWindow(
  messages: ChatMessage[],
  tools: ChatTool[],
  budget: number,
  truncation: 'auto' | 'disabled',
): ChatMessage[] {
  if (upperBound(messages, tools) <= budget) return messages;
  const counts = messages.map(messageTokens);
  const toolTokens = tools.reduce((sum, tool) => sum + tokensOf(JSON.stringify(tool)), 0);
  let total = counts.reduce((a, b) => a + b, toolTokens);
  if (total <= budget) return messages;
  if (truncation === 'disabled') throw contextTooLong(total, budget);

  const lastUser = messages.findLastIndex((message) => message.role === 'user');
  const protectedFrom = lastUser === -1 ? messages.length - 1 : lastUser;
  const dropped = new Set<number>();
  for (let i = 0; i < protectedFrom && total > budget; i++) {
    if (messages[i]!.role === 'system') continue;
    dropped.add(i);
    total -= counts[i]!;
  }
  // Start the kept conversation at a user message.
  for (let i = 0; i < protectedFrom; i++) {
    if (messages[i]!.role === 'system' || dropped.has(i)) continue;
    if (messages[i]!.role === 'user') break;
    dropped.add(i);
    total -= counts[i]!;
  }
  if (total > budget) throw contextTooLong(total, budget);
  return messages.filter((_, index) => !dropped.has(index));
}
