import type {
  ChatContentPart,
  ChatMessage,
  ChatRequest,
  ChatTool,
  ChatToolCall,
  ChatToolChoice,
} from '../../core/chat.js';
import { GatewayError } from '../../errors/index.js';
import { isRecord } from '../../core/objects.js';

/**
 * Parses and validates an Anthropic Messages body (https://docs.anthropic.com/en/api/messages)
 * and maps it to the internal ChatRequest: the inverse of src/providers/anthropic/request.ts.
 * tool_use ids are kept as tool-call ids, thinking blocks become `reasoning_content` plus
 * `reasoning_signature`, images become `image_url` data URLs, `tool_result` blocks become tool
 * messages. Anthropic-only fields travel in `provider_options.anthropic`; unknown fields are
 * rejected, as Anthropic itself does ("Extra inputs are not permitted").
 */

type Json = Record<string, unknown>;

/** A 400 in the surface's terms; rendered as `invalid_request_error`. */
export function badRequest(message: string, param: string | null = null): GatewayError {
  return new GatewayError(message, {
    code: 'invalid_request',
    status: 400,
    param,
    errorClass: 'invalid_request',
    retryable: false,
    failover: false,
  });
}

/** Fields that only an Anthropic upstream understands; forwarded as `provider_options.anthropic`. */
const ANTHROPIC_ONLY = [
  'top_k',
  'service_tier',
  'container',
  'inference_geo',
  'speed',
  'cache_control',
  'context_management',
  'mcp_servers',
];
const MAPPED = [
  'model',
  'max_tokens',
  'messages',
  'system',
  'stream',
  'stop_sequences',
  'temperature',
  'top_p',
  'tools',
  'tool_choice',
  'thinking',
  'metadata',
  'output_config',
];

/** Parses the raw body bytes as JSON (400 when they are not). */
export function parseJson(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8')) as unknown;
  } catch {
    throw badRequest('There was an error parsing the body of your request: not valid JSON');
  }
}

/** Validates an Anthropic Messages body and maps it to a ChatRequest. Throws a 400 GatewayError. */
export function toChatRequest(body: unknown): ChatRequest {
  if (!isRecord(body)) throw badRequest('body: Input should be an object');
  for (const key of Object.keys(body)) {
    if (!MAPPED.includes(key) && !ANTHROPIC_ONLY.includes(key))
      throw badRequest(`${key}: Extra inputs are not permitted`, key);
  }
  const { model, max_tokens, messages } = body;
  if (typeof model !== 'string' || model === '') throw badRequest('model: Field required', 'model');
  if (typeof max_tokens !== 'number' || !Number.isInteger(max_tokens) || max_tokens < 1) {
    throw badRequest(
      'max_tokens: Input should be an integer greater than or equal to 1',
      'max_tokens',
    );
  }
  if (!Array.isArray(messages) || messages.length === 0)
    throw badRequest('messages: at least one message is required', 'messages');
  const out: ChatRequest = { model, max_tokens, messages: [] };
  if (body.system !== undefined) out.messages.push(systemMessage(body.system, 'system'));
  messages.forEach((message, i) => {
    out.messages.push(...mapMessage(message, `messages.${i}`));
  });
  if (body.stream !== undefined) out.stream = bool(body.stream, 'stream');
  if (body.stop_sequences !== undefined)
    out.stop = stringArray(body.stop_sequences, 'stop_sequences');
  if (body.temperature !== undefined) out.temperature = number(body.temperature, 'temperature');
  if (body.top_p !== undefined) out.top_p = number(body.top_p, 'top_p');
  const { tools, parallel } = mapTools(body.tools, body.tool_choice);
  if (tools !== undefined) out.tools = tools;
  if (body.tool_choice !== undefined) out.tool_choice = mapToolChoice(body.tool_choice);
  if (parallel === false) out.parallel_tool_calls = false;
  if (isRecord(body.metadata) && typeof body.metadata.user_id === 'string')
    out.user = body.metadata.user_id;
  const anthropic: Json = {};
  for (const key of ANTHROPIC_ONLY) if (body[key] !== undefined) anthropic[key] = body[key];
  mapThinking(body.thinking, out, anthropic);
  mapOutputConfig(body.output_config, out, anthropic);
  if (Object.keys(anthropic).length > 0) out.provider_options = { anthropic };
  return out;
}

function systemMessage(system: unknown, at: string): ChatMessage {
  if (typeof system === 'string') return { role: 'system', content: system };
  if (!Array.isArray(system))
    throw badRequest(`${at}: Input should be a string or a list of text blocks`, at);
  return { role: 'system', content: system.map((block, j) => textPart(block, `${at}.${j}`)) };
}

function textPart(block: unknown, at: string): ChatContentPart {
  if (!isRecord(block) || block.type !== 'text' || typeof block.text !== 'string')
    throw badRequest(`${at}: expected a text block`, at);
  const part: ChatContentPart = { type: 'text', text: block.text };
  if (block.cache_control !== undefined) part['cache_control'] = block.cache_control;
  return part;
}

/** One Anthropic message → one or more chat messages (tool results become tool messages). */
function mapMessage(message: unknown, at: string): ChatMessage[] {
  if (!isRecord(message)) throw badRequest(`${at}: Input should be an object`, at);
  const { role, content } = message;
  // anthropic-version 2026-10-21 allows system messages inside `messages`.
  if (role === 'system') return [systemMessage(content, `${at}.content`)];
  if (role !== 'user' && role !== 'assistant')
    throw badRequest(`${at}.role: Input should be 'user' or 'assistant'`, `${at}.role`);
  if (typeof content === 'string') return [{ role, content }];
  if (!Array.isArray(content))
    throw badRequest(
      `${at}.content: Input should be a string or a list of blocks`,
      `${at}.content`,
    );
  return role === 'user' ? userMessages(content, at) : [assistantMessage(content, at)];
}

function userMessages(blocks: unknown[], at: string): ChatMessage[] {
  const out: ChatMessage[] = [];
  const parts: ChatContentPart[] = [];
  blocks.forEach((block, j) => {
    const where = `${at}.content.${j}`;
    if (isRecord(block) && block.type === 'tool_result') out.push(toolMessage(block, where));
    else parts.push(userPart(block, where));
  });
  if (parts.length > 0) out.push({ role: 'user', content: simplify(parts) });
  return out;
}

function userPart(block: unknown, at: string): ChatContentPart {
  if (!isRecord(block)) throw badRequest(`${at}: Input should be an object`, at);
  if (block.type === 'text') return textPart(block, at);
  if (block.type === 'image') {
    const source = block.source;
    if (
      isRecord(source) &&
      source.type === 'base64' &&
      typeof source.data === 'string' &&
      typeof source.media_type === 'string'
    ) {
      return {
        type: 'image_url',
        image_url: { url: `data:${source.media_type};base64,${source.data}` },
      };
    }
    if (isRecord(source) && source.type === 'url' && typeof source.url === 'string')
      return { type: 'image_url', image_url: { url: source.url } };
    throw badRequest(`${at}.source: expected a base64 or url image source`, `${at}.source`);
  }
  if (block.type === 'document') {
    const source = block.source;
    if (isRecord(source) && source.type === 'base64' && typeof source.data === 'string') {
      return {
        type: 'file',
        file: {
          file_data: `data:${String(source.media_type)};base64,${source.data}`,
          filename: 'document',
        },
      };
    }
    throw badRequest(`${at}.source: only base64 documents are supported`, `${at}.source`);
  }
  throw badRequest(
    `${at}.type: block type "${String(block.type)}" is not supported in user messages`,
    `${at}.type`,
  );
}

function toolMessage(block: Json, at: string): ChatMessage {
  if (typeof block.tool_use_id !== 'string')
    throw badRequest(`${at}.tool_use_id: Field required`, `${at}.tool_use_id`);
  let content: string | ChatContentPart[] = '';
  if (typeof block.content === 'string') content = block.content;
  else if (Array.isArray(block.content))
    content = simplify(block.content.map((part, k) => userPart(part, `${at}.content.${k}`)));
  else if (block.content !== undefined)
    throw badRequest(
      `${at}.content: Input should be a string or a list of blocks`,
      `${at}.content`,
    );
  const message: ChatMessage = { role: 'tool', tool_call_id: block.tool_use_id, content };
  // Extension: providers with an error flag (Anthropic, Bedrock) keep it; others say it in text.
  if (block.is_error === true) message['is_error'] = true;
  return message;
}

function assistantMessage(blocks: unknown[], at: string): ChatMessage {
  const message: ChatMessage = { role: 'assistant', content: null };
  const parts: ChatContentPart[] = [];
  const calls: ChatToolCall[] = [];
  blocks.forEach((block, j) => {
    const where = `${at}.content.${j}`;
    if (!isRecord(block)) throw badRequest(`${where}: Input should be an object`, where);
    if (block.type === 'text') parts.push(textPart(block, where));
    else if (block.type === 'thinking') {
      if (typeof block.thinking !== 'string')
        throw badRequest(`${where}.thinking: Field required`, `${where}.thinking`);
      message.reasoning_content = (message.reasoning_content ?? '') + block.thinking;
      if (typeof block.signature === 'string') message.reasoning_signature = block.signature;
    } else if (block.type === 'redacted_thinking') {
      // Encrypted reasoning has no Chat Completions form; it only helps the model that made it.
    } else if (block.type === 'tool_use') {
      if (typeof block.id !== 'string' || typeof block.name !== 'string')
        throw badRequest(`${where}: tool_use needs id and name`, where);
      calls.push({
        id: block.id,
        type: 'function',
        function: { name: block.name, arguments: JSON.stringify(block.input ?? {}) },
      });
    } else
      throw badRequest(
        `${where}.type: block type "${String(block.type)}" is not supported in assistant messages`,
        `${where}.type`,
      );
  });
  if (parts.length > 0) message.content = simplify(parts);
  if (calls.length > 0) message.tool_calls = calls;
  return message;
}

/** A lone plain text part becomes a string (the common Chat Completions form). */
function simplify(parts: ChatContentPart[]): string | ChatContentPart[] {
  const only = parts[0];
  return parts.length === 1 && only?.type === 'text' && Object.keys(only).length === 2
    ? String(only.text)
    : parts;
}

function mapTools(tools: unknown, choice: unknown): { tools?: ChatTool[]; parallel?: boolean } {
  const parallel =
    isRecord(choice) && choice.disable_parallel_tool_use === true ? false : undefined;
  if (tools === undefined) return parallel === undefined ? {} : { parallel };
  if (!Array.isArray(tools)) throw badRequest('tools: Input should be a list', 'tools');
  const mapped = tools.map((tool, i): ChatTool => {
    const at = `tools.${i}`;
    if (!isRecord(tool) || typeof tool.name !== 'string')
      throw badRequest(`${at}.name: Field required`, `${at}.name`);
    if (tool.type !== undefined && tool.type !== 'custom')
      throw badRequest(
        `${at}.type: server tool "${String(tool.type)}" is not supported`,
        `${at}.type`,
      );
    if (!isRecord(tool.input_schema))
      throw badRequest(`${at}.input_schema: Field required`, `${at}.input_schema`);
    const out: ChatTool = {
      type: 'function',
      function: { name: tool.name, parameters: tool.input_schema },
    };
    if (typeof tool.description === 'string') out.function.description = tool.description;
    if (tool.strict === true) out.function.strict = true;
    if (tool.cache_control !== undefined) out['cache_control'] = tool.cache_control;
    return out;
  });
  return parallel === undefined ? { tools: mapped } : { tools: mapped, parallel };
}

function mapToolChoice(choice: unknown): ChatToolChoice {
  if (!isRecord(choice)) throw badRequest('tool_choice: Input should be an object', 'tool_choice');
  if (choice.type === 'auto') return 'auto';
  if (choice.type === 'any') return 'required';
  if (choice.type === 'none') return 'none';
  if (choice.type === 'tool' && typeof choice.name === 'string')
    return { type: 'function', function: { name: choice.name } };
  throw badRequest(
    "tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'",
    'tool_choice',
  );
}

/**
 * `thinking` → the internal reasoning extensions: an explicit budget stays a budget
 * (`reasoning_budget_tokens`, which each provider maps faithfully: ../../providers/internal/thinking.ts),
 * adaptive thinking stays a permission (`reasoning_mode: 'adaptive'`), never a requirement, so a
 * model that does not reason still serves Claude Code. The exact config also goes to
 * `provider_options.anthropic` so an Anthropic upstream gets it unchanged.
 */
function mapThinking(thinking: unknown, out: ChatRequest, anthropic: Json): void {
  if (thinking === undefined) return;
  if (!isRecord(thinking)) throw badRequest('thinking: Input should be an object', 'thinking');
  if (thinking.type === 'disabled') {
    anthropic.thinking = thinking;
    return;
  }
  if (thinking.type === 'adaptive') {
    anthropic.thinking = thinking;
    out.reasoning_mode = 'adaptive';
    return;
  }
  const budget = thinking.budget_tokens;
  if (
    thinking.type !== 'enabled' ||
    typeof budget !== 'number' ||
    !Number.isInteger(budget) ||
    budget < 1024
  ) {
    throw badRequest(
      'thinking: expected {"type":"enabled","budget_tokens":N} with N ≥ 1024, {"type":"adaptive"} or {"type":"disabled"}',
      'thinking',
    );
  }
  anthropic.thinking = thinking;
  out.reasoning_budget_tokens = budget;
}

/** `output_config.format` → `response_format: json_schema`; the whole config also goes to Anthropic as is. */
function mapOutputConfig(config: unknown, out: ChatRequest, anthropic: Json): void {
  if (config === undefined) return;
  if (!isRecord(config))
    throw badRequest('output_config: Input should be an object', 'output_config');
  const format = config.format;
  if (isRecord(format)) {
    if (format.type !== 'json_schema' || !isRecord(format.schema))
      throw badRequest(
        'output_config.format: expected a json_schema format',
        'output_config.format',
      );
    out.response_format = {
      type: 'json_schema',
      json_schema: { name: 'output', schema: format.schema, strict: true },
    };
  }
  if (Object.keys(config).some((key) => key !== 'format')) anthropic.output_config = config;
}

function bool(value: unknown, at: string): boolean {
  if (typeof value !== 'boolean') throw badRequest(`${at}: Input should be a valid boolean`, at);
  return value;
}

function number(value: unknown, at: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value))
    throw badRequest(`${at}: Input should be a valid number`, at);
  return value;
}

function stringArray(value: unknown, at: string): string[] {
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string'))
    throw badRequest(`${at}: Input should be a list of strings`, at);
  return value;
}
