/**
 * The internal representation: the OpenAI Chat Completions wire format, typed loosely enough
 * that unknown fields survive (every object keeps an index signature), plus a few named
 * extensions (`reasoning_content`, `reasoning_signature`, `provider_options`).
 * See ../shared/ARCHITECTURE.md, "Internal representation".
 */

/** A content part of a user/system/assistant message. */
export type ChatContentPart =
  | { type: 'text'; text: string; [key: string]: unknown }
  | {
      type: 'image_url';
      image_url: { url: string; detail?: 'auto' | 'low' | 'high' };
      [key: string]: unknown;
    }
  | { type: string; [key: string]: unknown };

/** One tool call made by the assistant. */
export interface ChatToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
  [key: string]: unknown;
}

/** A chat message. `tool` messages answer a tool call by `tool_call_id`. */
export interface ChatMessage {
  role: 'system' | 'developer' | 'user' | 'assistant' | 'tool';
  content?: string | ChatContentPart[] | null;
  name?: string;
  tool_calls?: ChatToolCall[];
  tool_call_id?: string;
  refusal?: string | null;
  /** Extension: reasoning text that a provider returned (Anthropic thinking, Bedrock reasoningContent, Gemini thought). */
  reasoning_content?: string;
  /** Extension: the opaque signature that must come back with the reasoning on the next turn. */
  reasoning_signature?: string;
  [key: string]: unknown;
}

/** A function tool offered to the model. */
export interface ChatTool {
  type: 'function';
  function: {
    name: string;
    description?: string;
    parameters?: Record<string, unknown>;
    strict?: boolean;
  };
  [key: string]: unknown;
}

export type ChatToolChoice =
  | 'none'
  | 'auto'
  | 'required'
  | { type: 'function'; function: { name: string } };

/** POST /v1/chat/completions body. Unknown fields are kept and forwarded where the upstream is OpenAI-shaped. */
export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  stream?: boolean;
  stream_options?: { include_usage?: boolean; [key: string]: unknown } | null;
  tools?: ChatTool[];
  tool_choice?: ChatToolChoice;
  parallel_tool_calls?: boolean;
  response_format?:
    | { type: 'text' }
    | { type: 'json_object' }
    | {
        type: 'json_schema';
        json_schema: {
          name: string;
          schema?: Record<string, unknown>;
          strict?: boolean;
          description?: string;
        };
      };
  temperature?: number | null;
  top_p?: number | null;
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
  stop?: string | string[] | null;
  n?: number | null;
  seed?: number | null;
  logprobs?: boolean | null;
  top_logprobs?: number | null;
  user?: string;
  metadata?: Record<string, string>;
  reasoning_effort?: string;
  /**
   * Extension: an explicit thinking budget in tokens (Anthropic `thinking.budget_tokens`, Bedrock
   * `additionalModelRequestFields.thinking`). Providers map it faithfully: Anthropic and Bedrock
   * keep it exact, OpenAI gets an effort from it, Gemini 2.x a `thinkingBudget`.
   */
  reasoning_budget_tokens?: number;
  /**
   * Extension: `adaptive` is Anthropic's "may think" (`thinking: {type: "adaptive"}`): a
   * permission, not a requirement. Claude models get it; models that do not reason ignore it.
   */
  reasoning_mode?: 'adaptive';
  /** Extension: provider-only fields, keyed by provider type (`provider_options.anthropic.top_k`). */
  provider_options?: Record<string, Record<string, unknown>>;
  [key: string]: unknown;
}

/** OpenAI usage block. `prompt_tokens` includes cached tokens. */
export interface ChatUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details?: { cached_tokens?: number; [key: string]: unknown };
  completion_tokens_details?: { reasoning_tokens?: number; [key: string]: unknown };
  [key: string]: unknown;
}

export type FinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'function_call';

export interface ChatChoice {
  index: number;
  message: ChatMessage & { role: 'assistant' };
  finish_reason: FinishReason | null;
  logprobs?: unknown;
  [key: string]: unknown;
}

/** A non-streaming chat completion. */
export interface ChatCompletion {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: ChatChoice[];
  usage?: ChatUsage;
  system_fingerprint?: string | null;
  [key: string]: unknown;
}

/** A streamed tool-call fragment: only `index` is always present. */
export interface ChatToolCallDelta {
  index: number;
  id?: string;
  type?: 'function';
  function?: { name?: string; arguments?: string };
  [key: string]: unknown;
}

export interface ChatDelta {
  role?: 'assistant';
  content?: string | null;
  refusal?: string | null;
  tool_calls?: ChatToolCallDelta[];
  reasoning_content?: string;
  reasoning_signature?: string;
  [key: string]: unknown;
}

export interface ChatChunkChoice {
  index: number;
  delta: ChatDelta;
  finish_reason: FinishReason | null;
  logprobs?: unknown;
  [key: string]: unknown;
}

/** One `chat.completion.chunk` of a stream. The usage chunk has `choices: []`. */
export interface ChatCompletionChunk {
  id: string;
  object: 'chat.completion.chunk';
  created: number;
  model: string;
  choices: ChatChunkChoice[];
  usage?: ChatUsage | null;
  [key: string]: unknown;
}

/** POST /v1/embeddings body. */
export interface EmbeddingsRequest {
  model: string;
  input: string | string[] | number[] | number[][];
  encoding_format?: 'float' | 'base64';
  dimensions?: number;
  user?: string;
  [key: string]: unknown;
}

export interface EmbeddingsResponse {
  object: 'list';
  data: Array<{ object: 'embedding'; index: number; embedding: number[] | string }>;
  model: string;
  usage: { prompt_tokens: number; total_tokens: number };
  [key: string]: unknown;
}
