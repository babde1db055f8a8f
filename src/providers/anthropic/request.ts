import type {
  ChatContentPart,
  ChatMessage,
  ChatRequest,
  ChatTool,
  ChatToolChoice,
} from '../../core/chat.js';
import { invalidRequest } from '../../errors/index.js';
import { ANTHROPIC_SERVICE_TIERS, cacheTtl, cachingAsked } from '../controls.js';
import { claudeThinking, THINKING_BUDGETS } from '../internal/thinking.js';
import { ANTHROPIC_TOOL_CALL_IDS, fitToolCallIds } from '../internal/tool-call-ids.js';
import type {
  AnthropicCacheControl,
  AnthropicContentBlock,
  AnthropicImageBlock,
  AnthropicMessageParam,
  AnthropicRequest,
  AnthropicTextBlock,
  AnthropicTool,
  AnthropicToolChoice,
} from './types.js';

/** Anthropic requires `max_tokens`; this is sent when the client gave none. */
export const DEFAULT_MAX_TOKENS = 4096;

/** Thinking budget per OpenAI `reasoning_effort` (shared with Bedrock: ../internal/thinking.ts). */
export { THINKING_BUDGETS };

/** Options that shape the body for one configured provider. */
export interface AnthropicRequestOptions {
  /** Upstream model id. */
  model: string;
  stream: boolean;
  /** `anthropic-version` sent upstream; 2026-10-21 rejects sampling parameters. */
  version: string;
}

/**
 * Fields that are harmless no-ops for Anthropic and are ignored on purpose:
 * `stream_options` (Anthropic always reports usage), `store` and `metadata` (OpenAI-side
 * storage tags), `prompt_cache_options` (OpenAI's own breakpoint options; dropped with a
 * warning, ../controls.ts).
 */
const IGNORED = new Set(['stream_options', 'store', 'metadata', 'prompt_cache_options']);

/**
 * Maps an internal ChatRequest to an Anthropic Messages body. Every top-level field is either
 * mapped, ignored on purpose (see {@link IGNORED}) or rejected with `unsupported_parameter`.
 * Structured output (`response_format: json_schema`) uses Anthropic's native
 * `output_config.format` (https://platform.claude.com/docs/en/build-with-claude/structured-outputs)
 * rather than a forced tool, so the answer stays a text block and tool calls keep their meaning.
 */
export function toAnthropicRequest(
  body: ChatRequest,
  options: AnthropicRequestOptions,
): AnthropicRequest {
  const {
    model: _model,
    messages,
    stream: _stream,
    tools,
    tool_choice,
    parallel_tool_calls,
    response_format,
    temperature,
    top_p,
    max_tokens,
    max_completion_tokens,
    stop,
    n,
    seed: _seed,
    logprobs,
    top_logprobs,
    user,
    safety_identifier,
    prompt_cache_key: _cacheKey,
    prompt_cache_retention: _cacheRetention,
    service_tier,
    reasoning_effort,
    reasoning_budget_tokens,
    reasoning_mode,
    provider_options,
    ...rest
  } = body;
  rejectUnsupported(body, rest);
  if (n != null && n !== 1) throw unsupported('n', 'Anthropic returns one choice; n must be 1');
  if (logprobs === true || (top_logprobs != null && top_logprobs > 0)) {
    throw unsupported(
      logprobs === true ? 'logprobs' : 'top_logprobs',
      'Anthropic does not return logprobs',
    );
  }
  if (!Array.isArray(messages) || messages.length === 0)
    throw invalidRequest('messages must be a non-empty array', 'messages');

  // Ids minted by other providers may hold characters Anthropic rejects (../internal/tool-call-ids.ts).
  const { system, turns } = mapMessages(fitToolCallIds(messages, ANTHROPIC_TOOL_CALL_IDS));
  const out: AnthropicRequest = {
    model: options.model,
    max_tokens: max_completion_tokens ?? max_tokens ?? DEFAULT_MAX_TOKENS,
    messages: turns,
  };
  if (system.length > 0) out.system = system;
  if (stop != null) out.stop_sequences = typeof stop === 'string' ? [stop] : [...stop];
  // Anthropic's temperature range is 0..1 (OpenAI's is 0..2); out of range is the caller's to fix.
  if (temperature != null && (temperature < 0 || temperature > 1)) {
    throw invalidRequest('temperature must be between 0 and 1 for Anthropic models', 'temperature');
  }
  // anthropic-version 2026-10-21 answers 400 to any sampling parameter, even at its default:
  // translating means not forwarding them (../shared/protocols/anthropic-messages.md §1).
  const sampling = options.version < '2026-10-21';
  if (temperature != null && sampling) out.temperature = temperature;
  if (top_p != null && sampling) out.top_p = top_p;
  if (tools !== undefined && tools.length > 0) out.tools = tools.map(mapTool);
  const choice = mapToolChoice(tool_choice, parallel_tool_calls);
  if (choice !== undefined) out.tool_choice = choice;
  if (response_format?.type === 'json_schema') {
    const schema = response_format.json_schema.schema ?? { type: 'object' };
    out.output_config = { format: { type: 'json_schema', schema } };
  } else if (response_format?.type === 'json_object') {
    throw unsupported(
      'response_format',
      'Anthropic has no JSON mode; use response_format json_schema',
    );
  }
  // OpenAI's end-user identifiers → Anthropic's (safety_identifier is the newer, stricter one).
  const endUser = typeof safety_identifier === 'string' ? safety_identifier : user;
  if (typeof endUser === 'string') out.metadata = { user_id: endUser };
  const tier = typeof service_tier === 'string' ? ANTHROPIC_SERVICE_TIERS[service_tier] : undefined;
  if (tier !== undefined) out.service_tier = tier;
  // OpenAI caches by prefix on its own; Anthropic only at `cache_control` breakpoints. A client
  // asking for caching (a key or a retention) without breakpoints of its own gets two: after the
  // system prompt and after the last message (the prefix every next turn repeats).
  if (cachingAsked(body)) addCacheBreakpoints(out, cacheTtl(body));
  const thinking = claudeThinking({
    effort: reasoning_effort,
    budget: reasoning_budget_tokens,
    mode: reasoning_mode,
    maxTokens: max_completion_tokens ?? max_tokens ?? undefined,
  });
  if (thinking !== undefined) {
    out.thinking = thinking.thinking;
    if (thinking.maxTokens !== undefined) out.max_tokens = thinking.maxTokens;
  }
  if (options.stream) out.stream = true;
  // The escape hatch: provider-only fields (top_k, thinking, service_tier, …) win over mapped ones.
  // Options for other provider types are meant for them and are not ours to judge.
  const own = provider_options?.anthropic;
  if (own !== undefined) Object.assign(out, own);
  return out;
}

/**
 * Marks the end of the system prompt and of the last message as cache breakpoints, unless the
 * request already holds one (Anthropic's limit is four, and the client's own placement wins).
 * https://platform.claude.com/docs/en/build-with-claude/prompt-caching
 */
function addCacheBreakpoints(out: AnthropicRequest, ttl: '1h' | undefined): void {
  const hint: AnthropicCacheControl = { type: 'ephemeral', ...(ttl ? { ttl } : {}) };
  const system = Array.isArray(out.system) ? out.system : [];
  const blocks: Array<{ cache_control?: AnthropicCacheControl }> = [
    ...system,
    ...(out.tools ?? []),
    ...out.messages.flatMap((message) =>
      Array.isArray(message.content)
        ? (message.content as Array<{ cache_control?: AnthropicCacheControl }>)
        : [],
    ),
  ];
  if (blocks.some((block) => block.cache_control !== undefined)) return;
  const lastSystem = system.at(-1);
  if (lastSystem) lastSystem.cache_control = { ...hint };
  const last = out.messages.at(-1);
  if (last && typeof last.content === 'string')
    last.content = [{ type: 'text', text: last.content, cache_control: { ...hint } }];
  else if (last && Array.isArray(last.content)) {
    const block = last.content.at(-1) as { cache_control?: AnthropicCacheControl } | undefined;
    if (block) block.cache_control = { ...hint };
  }
}

function rejectUnsupported(body: ChatRequest, rest: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(rest)) {
    if (value === null || value === undefined || IGNORED.has(key)) continue;
    // Zero penalties and an empty logit_bias are the defaults: nothing to map.
    if ((key === 'presence_penalty' || key === 'frequency_penalty') && value === 0) continue;
    if (
      key === 'logit_bias' &&
      typeof value === 'object' &&
      Object.keys(value as object).length === 0
    )
      continue;
    throw unsupported(key, `Anthropic models do not support the parameter "${key}"`);
  }
  if (body.seed != null) throw unsupported('seed', 'Anthropic models do not support "seed"');
}

function unsupported(param: string, message: string) {
  return invalidRequest(message, param, 'unsupported_parameter');
}

/** Splits system/developer messages out and maps the rest, merging consecutive same-role turns. */
function mapMessages(messages: ChatMessage[]): {
  system: AnthropicTextBlock[];
  turns: AnthropicMessageParam[];
} {
  const system: AnthropicTextBlock[] = [];
  const turns: Array<{ role: 'user' | 'assistant'; content: AnthropicContentBlock[] }> = [];
  const push = (role: 'user' | 'assistant', blocks: AnthropicContentBlock[]) => {
    const last = turns.at(-1);
    // Tool results must open the user turn that follows the tool calls; a user message after
    // them joins the same turn (https://docs.anthropic.com/en/docs/build-with-claude/tool-use).
    if (last?.role === role) last.content.push(...blocks);
    else turns.push({ role, content: blocks });
  };
  messages.forEach((message, i) => {
    const at = `messages[${i}]`;
    switch (message.role) {
      case 'system':
      case 'developer':
        system.push(...textBlocks(message.content, at));
        break;
      case 'user':
        push('user', userBlocks(message.content, at));
        break;
      case 'assistant':
        push('assistant', assistantBlocks(message, at));
        break;
      case 'tool':
        push('user', [toolResult(message, at)]);
        break;
      default:
        throw invalidRequest(
          `unknown role "${String((message as { role: unknown }).role)}"`,
          `${at}.role`,
        );
    }
  });
  return { system, turns };
}

function textBlocks(content: ChatMessage['content'], at: string): AnthropicTextBlock[] {
  if (content == null || content === '') return [];
  if (typeof content === 'string') return [{ type: 'text', text: content }];
  return content.map((part, j) => {
    if (part.type !== 'text' || typeof part.text !== 'string') {
      throw unsupported(
        `${at}.content[${j}].type`,
        `content part "${part.type}" is not allowed here`,
      );
    }
    return textBlock(part.text, part);
  });
}

function textBlock(text: string, part: ChatContentPart): AnthropicTextBlock {
  const block: AnthropicTextBlock = { type: 'text', text };
  const cache = part['cache_control'];
  if (cache !== undefined) block.cache_control = cache as AnthropicCacheControl;
  return block;
}

function userBlocks(content: ChatMessage['content'], at: string): AnthropicContentBlock[] {
  if (content == null) return [];
  if (typeof content === 'string') return [{ type: 'text', text: content }];
  return content.map((part, j): AnthropicContentBlock => {
    const where = `${at}.content[${j}]`;
    if (part.type === 'text' && typeof part.text === 'string') return textBlock(part.text, part);
    if (part.type === 'image_url') return imageBlock(part, where);
    if (part.type === 'file') return documentBlock(part, where);
    throw unsupported(
      `${where}.type`,
      `content part "${part.type}" is not supported by Anthropic models`,
    );
  });
}

const DATA_URL = /^data:([^;,]+);base64,(.*)$/s;

function imageBlock(part: ChatContentPart, where: string): AnthropicImageBlock {
  const url = (part['image_url'] as { url?: unknown } | undefined)?.url;
  if (typeof url !== 'string')
    throw invalidRequest('image_url.url must be a string', `${where}.image_url.url`);
  const data = DATA_URL.exec(url);
  const block: AnthropicImageBlock = data
    ? { type: 'image', source: { type: 'base64', media_type: data[1] ?? '', data: data[2] ?? '' } }
    : /^https?:\/\//.test(url)
      ? { type: 'image', source: { type: 'url', url } }
      : invalidImage(where);
  const cache = part['cache_control'];
  if (cache !== undefined) block.cache_control = cache as AnthropicCacheControl;
  return block;
}

function invalidImage(where: string): never {
  throw invalidRequest(
    'image_url.url must be a base64 data: URL or an http(s) URL',
    `${where}.image_url.url`,
  );
}

function documentBlock(part: ChatContentPart, where: string): AnthropicContentBlock {
  const file = part['file'] as { file_data?: unknown } | undefined;
  const data = typeof file?.file_data === 'string' ? DATA_URL.exec(file.file_data) : null;
  if (!data)
    throw unsupported(
      `${where}.file`,
      'only inline file_data (base64 data: URL) files are supported by Anthropic models',
    );
  return {
    type: 'document',
    source: { type: 'base64', media_type: data[1] ?? '', data: data[2] ?? '' },
  };
}

function assistantBlocks(message: ChatMessage, at: string): AnthropicContentBlock[] {
  const blocks: AnthropicContentBlock[] = [];
  // A thinking block must come first and carry its signature; reasoning without a signature
  // (from another provider) cannot be verified by Anthropic and is not sent back.
  if (message.reasoning_content !== undefined && message.reasoning_signature !== undefined) {
    blocks.push({
      type: 'thinking',
      thinking: message.reasoning_content,
      signature: message.reasoning_signature,
    });
  }
  // Anthropic rejects empty text blocks.
  for (const block of textBlocks(message.content, at)) if (block.text !== '') blocks.push(block);
  message.tool_calls?.forEach((call, k) => {
    blocks.push({
      type: 'tool_use',
      id: call.id,
      name: call.function.name,
      input: parseArguments(call.function.arguments, `${at}.tool_calls[${k}]`),
    });
  });
  return blocks;
}

function parseArguments(text: string, at: string): unknown {
  if (text.trim() === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    throw invalidRequest('tool call arguments must be valid JSON', `${at}.function.arguments`);
  }
}

function toolResult(message: ChatMessage, at: string): AnthropicContentBlock {
  if (typeof message.tool_call_id !== 'string')
    throw invalidRequest('tool messages need tool_call_id', `${at}.tool_call_id`);
  const content = message.content;
  return {
    type: 'tool_result',
    tool_use_id: message.tool_call_id,
    // Extension from the Anthropic and Bedrock surfaces: the tool failed.
    ...(message['is_error'] === true && { is_error: true }),
    content:
      content == null
        ? ''
        : typeof content === 'string'
          ? content
          : (userBlocks(content, at) as Array<AnthropicTextBlock | AnthropicImageBlock>),
  };
}

function mapTool(tool: ChatTool, i: number): AnthropicTool {
  if (tool.type !== 'function')
    throw unsupported(
      `tools[${i}].type`,
      `tool type "${String(tool.type)}" is not supported by Anthropic models`,
    );
  const out: AnthropicTool = {
    name: tool.function.name,
    input_schema: tool.function.parameters ?? { type: 'object', properties: {} },
  };
  if (tool.function.description !== undefined) out.description = tool.function.description;
  if (tool.function.strict === true) out.strict = true;
  const cache = tool['cache_control'];
  if (cache !== undefined) out.cache_control = cache as AnthropicCacheControl;
  return out;
}

function mapToolChoice(
  choice: ChatToolChoice | undefined,
  parallel: boolean | undefined,
): AnthropicToolChoice | undefined {
  const single = parallel === false ? { disable_parallel_tool_use: true } : {};
  if (choice === undefined) return parallel === false ? { type: 'auto', ...single } : undefined;
  if (choice === 'none') return { type: 'none' };
  if (choice === 'auto') return { type: 'auto', ...single };
  if (choice === 'required') return { type: 'any', ...single };
  if (
    typeof choice === 'object' &&
    choice.type === 'function' &&
    typeof choice.function?.name === 'string'
  ) {
    return { type: 'tool', name: choice.function.name, ...single };
  }
  throw invalidRequest(
    'tool_choice must be none, auto, required or a named function',
    'tool_choice',
  );
}
