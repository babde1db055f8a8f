import { createHash } from 'node:crypto';
import type { EmulatedInput } from './model.js';
import { isRecord } from '../core/objects.js';

/**
 * The Anthropic emulator's reading of a Messages request (anthropic-emulator.ts): validation in
 * Anthropic's error shape, and the emulated model's input, with thinking blocks sent back
 * checked against the signature the emulator gave them.
 */

/** An error the emulator answers in Anthropic's shape (`{type: "error", error: {type, message}}`). */
export class AnthropicHttpError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

/** A 400 `invalid_request_error` with `message`. */
export const invalid = (message: string) =>
  new AnthropicHttpError(400, 'invalid_request_error', message);

/** The signature the emulator puts on (and expects back with) a thinking block. */
export function thinkingSignature(thinking: string): string {
  return createHash('sha256').update(`switchyard-sandbox\n${thinking}`).digest('base64');
}

/** What the answer needs from the request besides the model's input. */
export interface Params {
  model: string;
  stream: boolean;
  thinking: boolean;
  stopSequences: string[];
}

/** A JSON object. */
export type Json = Record<string, unknown>;

/** Validates a Messages body and builds the emulated model's input. */
export function parseRequest(
  body: unknown,
  version: string,
  counting: boolean,
): { input: EmulatedInput; params: Params } {
  if (!isRecord(body)) throw invalid('body: Input should be an object');
  const {
    model,
    max_tokens,
    messages,
    system,
    tools,
    tool_choice,
    stop_sequences,
    thinking,
    output_config,
  } = body;
  if (typeof model !== 'string' || model === '') throw invalid('model: Field required');
  const validMax =
    typeof max_tokens === 'number' && Number.isInteger(max_tokens) && max_tokens >= 1;
  if (!validMax && !counting) throw invalid('max_tokens: Field required');
  if (!Array.isArray(messages) || messages.length === 0)
    throw invalid('messages: at least one message is required');
  if (version >= '2026-10-21') {
    for (const key of ['temperature', 'top_p', 'top_k'])
      if (key in body) throw invalid(`${key}: is not supported on this API version`);
  }
  const input: EmulatedInput = { messages: [], tools: [], images: 0 };
  if (validMax) input.maxTokens = max_tokens as number;
  const systemText =
    typeof system === 'string' ? system : Array.isArray(system) ? blocksText(system) : '';
  if (systemText !== '') input.messages.push({ role: 'system', text: systemText });
  messages.forEach((message, i) => {
    parseMessage(message, i, input);
  });
  if (Array.isArray(tools)) {
    input.tools = tools.filter(isRecord).map((tool) => ({
      name: String(tool.name),
      ...(typeof tool.description === 'string' ? { description: tool.description } : {}),
      ...(isRecord(tool.input_schema) ? { parameters: tool.input_schema } : {}),
    }));
  }
  if (isRecord(tool_choice)) {
    const type = tool_choice.type;
    input.toolChoice =
      type === 'any'
        ? 'required'
        : type === 'none'
          ? 'none'
          : type === 'tool'
            ? { name: String(tool_choice.name) }
            : 'auto';
    if (tool_choice.disable_parallel_tool_use === true) input.parallelToolCalls = false;
  }
  const stops = Array.isArray(stop_sequences)
    ? stop_sequences.filter((s): s is string => typeof s === 'string')
    : [];
  if (stops.length > 0) input.stop = stops;
  const format = isRecord(output_config) ? output_config.format : undefined;
  if (isRecord(format) && isRecord(format.schema)) input.jsonSchema = format.schema;
  const disabled = isRecord(thinking) && thinking.type === 'disabled';
  return {
    input,
    params: { model, stream: body.stream === true, thinking: !disabled, stopSequences: stops },
  };
}

function parseMessage(message: unknown, i: number, input: EmulatedInput): void {
  if (!isRecord(message) || (message.role !== 'user' && message.role !== 'assistant')) {
    throw invalid(`messages.${i}.role: Input should be 'user' or 'assistant'`);
  }
  const content = message.content;
  if (typeof content === 'string')
    return void input.messages.push({ role: message.role, text: content });
  if (!Array.isArray(content)) throw invalid(`messages.${i}.content: Input should be a valid list`);
  const texts: string[] = [];
  const toolCalls: Array<{ id: string; name: string; arguments: string }> = [];
  for (const block of content.filter(isRecord)) {
    if (block.type === 'text') texts.push(String(block.text ?? ''));
    else if (block.type === 'image') input.images = (input.images ?? 0) + 1;
    else if (block.type === 'tool_use')
      toolCalls.push({
        id: String(block.id),
        name: String(block.name),
        arguments: JSON.stringify(block.input ?? {}),
      });
    else if (block.type === 'tool_result') {
      const result =
        typeof block.content === 'string'
          ? block.content
          : Array.isArray(block.content)
            ? blocksText(block.content)
            : '';
      input.messages.push({ role: 'tool', text: result, toolCallId: String(block.tool_use_id) });
    } else if (
      block.type === 'thinking' &&
      block.signature !== thinkingSignature(String(block.thinking))
    ) {
      throw invalid(`messages.${i}.content: Invalid \`signature\` in \`thinking\` block`);
    }
  }
  if (texts.length > 0 || toolCalls.length > 0) {
    input.messages.push({
      role: message.role,
      text: texts.join('\n'),
      ...(toolCalls.length > 0 ? { toolCalls } : {}),
    });
  }
}

function blocksText(blocks: unknown[]): string {
  return blocks
    .filter(isRecord)
    .filter((b) => b.type === 'text')
    .map((b) => String(b.text ?? ''))
    .join('\n');
}
