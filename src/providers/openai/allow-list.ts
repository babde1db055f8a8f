import type { ChatMessage, ChatRequest } from '../../core/chat.js';
import { CONTROL_FIELDS } from '../controls.js';
import { effortForBudget } from '../internal/thinking.js';

/**
 * What an OpenAI-family upstream accepts in a Chat Completions request, field by field, from
 * `CreateChatCompletionRequest` in ../shared/specs/openai-openapi.yaml (and Azure's
 * azure-openai-v1.openapi.json, whose chat request has the same members plus `data_sources`).
 * OpenAI answers 400 to an unknown member of a message or content part, so a request that was
 * translated from another protocol is cut down to these lists: internal extensions
 * (`reasoning_content`, `reasoning_signature`, `is_error`, `cache_control`, …) cannot leak.
 * test/providers/openai-schema.test.ts checks the lists against the spec.
 */

/** Top-level members of the chat request. */
export const CHAT_REQUEST_FIELDS: ReadonlySet<string> = new Set([
  'messages',
  'model',
  'metadata',
  'temperature',
  'top_p',
  'user',
  'safety_identifier',
  'prompt_cache_key',
  'prompt_cache_retention',
  'prompt_cache_options',
  'service_tier',
  'modalities',
  'verbosity',
  'reasoning_effort',
  'max_completion_tokens',
  'max_tokens',
  'frequency_penalty',
  'presence_penalty',
  'web_search_options',
  'top_logprobs',
  'logprobs',
  'response_format',
  'audio',
  'store',
  'moderation',
  'stream',
  'stream_options',
  'stop',
  'logit_bias',
  'n',
  'prediction',
  'seed',
  'tools',
  'tool_choice',
  'parallel_tool_calls',
  'function_call',
  'functions',
]);

/** Members Azure OpenAI adds to the chat request (On Your Data). */
export const AZURE_CHAT_REQUEST_FIELDS: ReadonlySet<string> = new Set(['data_sources']);

/** Members of each message, by role. */
export const MESSAGE_FIELDS: Readonly<Record<string, ReadonlySet<string>>> = {
  system: new Set(['role', 'content', 'name']),
  developer: new Set(['role', 'content', 'name']),
  user: new Set(['role', 'content', 'name']),
  assistant: new Set([
    'role',
    'content',
    'refusal',
    'name',
    'audio',
    'tool_calls',
    'function_call',
  ]),
  tool: new Set(['role', 'content', 'tool_call_id']),
  function: new Set(['role', 'content', 'name']),
};

/** Members of each content part, by type. */
export const PART_FIELDS: Readonly<Record<string, ReadonlySet<string>>> = {
  text: new Set(['type', 'text']),
  image_url: new Set(['type', 'image_url']),
  input_audio: new Set(['type', 'input_audio']),
  file: new Set(['type', 'file']),
  refusal: new Set(['type', 'refusal']),
};

const TOOL_FIELDS = new Set(['type', 'function', 'custom']);
const FUNCTION_FIELDS = new Set(['name', 'description', 'parameters', 'strict']);
const TOOL_CALL_FIELDS = new Set(['id', 'type', 'function', 'custom']);

/** How the request reaches the upstream. */
export interface OpenAIShapeOptions {
  /** `azure-openai` adds Azure's own members. */
  azure: boolean;
  /**
   * OpenAI and Azure take `max_completion_tokens` (reasoning models refuse `max_tokens`);
   * other OpenAI-compatible servers may know only `max_tokens`, which is then left as sent.
   */
  maxCompletionTokens: boolean;
}

/**
 * A request that arrived on another protocol (Anthropic, Bedrock, Responses) → a body holding
 * only members of OpenAI's chat request. Reasoning extensions become `reasoning_effort` (an
 * explicit budget gives an effort; adaptive thinking, a mere permission, gives nothing); a tool
 * result flagged `is_error` says so in its text, since OpenAI's tool message has no flag.
 */
export function toOpenAIShape(
  body: ChatRequest,
  options: OpenAIShapeOptions,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) {
    if (CHAT_REQUEST_FIELDS.has(key) || (options.azure && AZURE_CHAT_REQUEST_FIELDS.has(key)))
      out[key] = value;
  }
  // Azure's chat request has no caching, tier or safety-identifier members: dropped with a
  // warning header (../controls.ts).
  if (options.azure) for (const field of CONTROL_FIELDS) delete out[field];
  if (out['reasoning_effort'] === undefined && typeof body.reasoning_budget_tokens === 'number')
    out['reasoning_effort'] = effortForBudget(body.reasoning_budget_tokens);
  if (options.maxCompletionTokens && out['max_tokens'] != null) {
    out['max_completion_tokens'] ??= out['max_tokens'];
    delete out['max_tokens'];
  }
  if (Array.isArray(body.messages)) out['messages'] = body.messages.map(openAIMessage);
  if (Array.isArray(body.tools)) out['tools'] = body.tools.map((tool) => openAITool(tool));
  return out;
}

function openAIMessage(message: ChatMessage): Record<string, unknown> {
  const allowed = MESSAGE_FIELDS[message.role];
  // An unknown role is the upstream's to refuse, in its own words.
  if (allowed === undefined) return { ...message };
  const out = pick(message, allowed);
  if (Array.isArray(message.content)) out['content'] = message.content.map(openAIPart);
  if (Array.isArray(message.tool_calls))
    out['tool_calls'] = message.tool_calls.map((call) => {
      const kept = pick(call, TOOL_CALL_FIELDS);
      if (call.function !== undefined)
        kept['function'] = { name: call.function.name, arguments: call.function.arguments };
      return kept;
    });
  if (message.role === 'tool' && message['is_error'] === true) out['content'] = errorText(out);
  return out;
}

function errorText(message: Record<string, unknown>): unknown {
  const content = message['content'];
  if (typeof content === 'string' || content == null) return `Error: ${content ?? ''}`;
  if (Array.isArray(content)) return [{ type: 'text', text: 'Error:' }, ...content];
  return content;
}

function openAIPart(part: unknown): unknown {
  if (typeof part !== 'object' || part === null) return part;
  const type = (part as { type?: unknown }).type;
  const allowed = typeof type === 'string' ? PART_FIELDS[type] : undefined;
  return allowed === undefined ? part : pick(part as Record<string, unknown>, allowed);
}

function openAITool(tool: unknown): unknown {
  if (typeof tool !== 'object' || tool === null) return tool;
  const out = pick(tool as Record<string, unknown>, TOOL_FIELDS);
  const fn = out['function'];
  if (typeof fn === 'object' && fn !== null)
    out['function'] = pick(fn as Record<string, unknown>, FUNCTION_FIELDS);
  return out;
}

function pick(source: object, allowed: ReadonlySet<string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(source)) if (allowed.has(key)) out[key] = value;
  return out;
}
