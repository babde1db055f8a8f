import type { Capability } from '../config/index.js';
import type { ChatMessage, ChatRequest } from '../core/chat.js';
import { o200kTokens } from '../core/tokens.js';

/** What a request needs from a model, read once per request. */
export interface RequestFeatures {
  needs: Set<Capability>;
  /** Upper bound of input tokens without tokenizing (characters ≥ tokens for o200k text). */
  inputCharacters: number;
  /** Output tokens the request may produce (max_completion_tokens / max_tokens), if set. */
  maxOutputTokens: number | undefined;
  /** Exact input tokens by the o200k tokenizer, computed on first use. */
  inputTokens(): number;
  tags: string[];
  metadata: Record<string, string>;
}

/** Per-message overhead of the chat format, in tokens (OpenAI's cookbook figure). */
const MESSAGE_OVERHEAD = 4;

/** Reads the features of a chat request. Tokenizing is lazy: most routing decisions never need it. */
export function featuresOf(body: ChatRequest, tags: string[] = []): RequestFeatures {
  const needs = new Set<Capability>();
  if (Array.isArray(body.tools) && body.tools.length > 0) needs.add('tools');
  if (body.response_format?.type === 'json_schema') needs.add('json_schema');
  if (body.logprobs === true) needs.add('logprobs');
  // An explicit effort or budget needs a reasoning model; adaptive thinking (reasoning_mode) only
  // allows one, so it never narrows the choice of deployment.
  if (
    (body.reasoning_effort !== undefined && body.reasoning_effort !== 'none') ||
    typeof body.reasoning_budget_tokens === 'number'
  )
    needs.add('reasoning');
  let characters = 0;
  for (const message of body.messages) {
    characters += textLength(message);
    if (
      Array.isArray(message.content) &&
      message.content.some((part) => part.type === 'image_url' || part.type === 'image')
    )
      needs.add('vision');
  }
  if (body.tools) characters += JSON.stringify(body.tools).length;
  let tokens: number | undefined;
  const metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(body.metadata ?? {}))
    if (typeof value === 'string') metadata[key] = value;
  const maxOutput = body.max_completion_tokens ?? body.max_tokens;
  return {
    needs,
    inputCharacters: characters + body.messages.length * MESSAGE_OVERHEAD,
    maxOutputTokens: typeof maxOutput === 'number' ? maxOutput : undefined,
    inputTokens() {
      tokens ??= countInputTokens(body);
      return tokens;
    },
    tags,
    metadata,
  };
}

/** Input tokens of a chat request with the o200k tokenizer (text parts, tool calls, tool definitions). */
export function countInputTokens(body: ChatRequest): number {
  let total = 3;
  for (const message of body.messages) {
    total += MESSAGE_OVERHEAD;
    for (const text of texts(message)) total += o200kTokens(text);
    if (Array.isArray(message.content))
      total += 85 * message.content.filter((part) => part.type === 'image_url').length;
  }
  if (body.tools) total += o200kTokens(JSON.stringify(body.tools));
  return total;
}

function textLength(message: ChatMessage): number {
  let length = 0;
  for (const text of texts(message)) length += text.length;
  return length;
}

function* texts(message: ChatMessage): Generator<string> {
  if (typeof message.content === 'string') yield message.content;
  else if (Array.isArray(message.content)) {
    for (const part of message.content)
      if (part.type === 'text' && typeof part['text'] === 'string') yield part['text'] as string;
  }
  for (const call of message.tool_calls ?? []) {
    yield call.function.name;
    yield call.function.arguments;
  }
}
