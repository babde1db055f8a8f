import type { ChatContentPart, ChatMessage, ChatRequest, EmbeddingsRequest } from '../core/chat.js';
import { o200kTokens } from '../core/tokens.js';

/** Worst-case tokens of a request, known before the call. */
export interface TokenEstimate {
  inputTokens: number;
  /** The most output the request may produce (max tokens × n). */
  outputTokens: number;
}

/** Options of {@link estimateTokens}. */
export interface EstimateOptions {
  /** Output tokens when the request sets no max: the model's `maxOutputTokens`, else this. Default 4096. */
  defaultMaxOutputTokens?: number;
  /** The model's own output cap (`models.<name>.maxOutputTokens`), used when the request sets none. */
  modelMaxOutputTokens?: number | undefined;
  /**
   * Chat-format overhead: tokens added per message, plus once per request for the reply primer.
   * Default `{ perMessage: 4, perRequest: 3 }` (OpenAI's cookbook figures), so the estimate stays
   * at or above what OpenAI-style upstreams report.
   */
  overhead?: { perMessage: number; perRequest: number };
  /** Input tokens per image part. Default 85 (OpenAI low detail). */
  imageTokens?: number;
}

const DEFAULT_OVERHEAD = { perMessage: 4, perRequest: 3 };

// System prompts, tool definitions and earlier turns repeat from request to request: their counts
// are remembered (exact, by content), so tokenizing is paid mostly for new text.
const CACHE_LIMIT = 5_000;
const CACHEABLE_CHARACTERS = 64 * 1024;
const counted = new Map<string, number>();

/** o200k_base tokens in `text` (special-token strings count as plain text). */
export function countTokens(text: string): number {
  if (text.length === 0) return 0;
  const known = counted.get(text);
  if (known !== undefined) return known;
  const tokens = o200kTokens(text);
  if (text.length <= CACHEABLE_CHARACTERS) {
    if (counted.size >= CACHE_LIMIT) counted.clear();
    counted.set(text, tokens);
  }
  return tokens;
}

/**
 * Estimates the tokens a chat or embeddings request can consume: input by the o200k tokenizer
 * over every message text, tool call and tool definition (plus the chat-format overhead and a
 * fixed count per image), output from `max_completion_tokens` / `max_tokens` (or the model's
 * maximum, or `defaultMaxOutputTokens`) times `n`.
 */
export function estimateTokens(
  body: ChatRequest | EmbeddingsRequest,
  operation: 'chat' | 'embeddings',
  options: EstimateOptions = {},
): TokenEstimate {
  if (operation === 'embeddings')
    return { inputTokens: embeddingTokens((body as EmbeddingsRequest).input), outputTokens: 0 };
  const chat = body as ChatRequest;
  const overhead = options.overhead ?? DEFAULT_OVERHEAD;
  const imageTokens = options.imageTokens ?? 85;
  let input = overhead.perRequest;
  for (const message of chat.messages ?? [])
    input += overhead.perMessage + messageTokens(message, imageTokens);
  if (Array.isArray(chat.tools) && chat.tools.length > 0)
    input += countTokens(JSON.stringify(chat.tools));
  const requested = requestedMaxTokens(chat);
  const max = requested ?? options.modelMaxOutputTokens ?? options.defaultMaxOutputTokens ?? 4096;
  const choices = choicesOf(chat);
  return { inputTokens: input, outputTokens: max * choices };
}

/** The output limit the request itself sets (`max_completion_tokens`, else `max_tokens`), if any. */
export function requestedMaxTokens(body: ChatRequest): number | undefined {
  return positive(body.max_completion_tokens) ?? positive(body.max_tokens);
}

/** The number of choices a chat request asks for (`n`, default 1). */
export function choicesOf(body: ChatRequest): number {
  return positive(body.n) ?? 1;
}

function messageTokens(message: ChatMessage, imageTokens: number): number {
  let total = 0;
  const content = message.content;
  if (typeof content === 'string') total += countTokens(content);
  else if (Array.isArray(content)) {
    for (const part of content as ChatContentPart[]) {
      if (part.type === 'text' && typeof part['text'] === 'string')
        total += countTokens(part['text']);
      else if (part.type === 'image_url' || part.type === 'image') total += imageTokens;
    }
  }
  for (const call of message.tool_calls ?? [])
    total += countTokens(call.function.name) + countTokens(call.function.arguments);
  if (typeof message.reasoning_content === 'string')
    total += countTokens(message.reasoning_content);
  return total;
}

function embeddingTokens(input: unknown): number {
  if (typeof input === 'string') return countTokens(input);
  if (!Array.isArray(input)) return 0;
  let total = 0;
  for (const item of input) {
    if (typeof item === 'string') total += countTokens(item);
    else if (typeof item === 'number') total += 1;
    else if (Array.isArray(item)) total += item.length;
  }
  return total;
}

function positive(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : undefined;
}
