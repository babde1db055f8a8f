import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { randomId } from '../core/ids.js';
import { BodyTooLargeError, listen, readBody, sendJson, writeWithBackpressure } from './http.js';
import { type EmulatedInput, type EmulatedOutput, emulate, tokenize } from './model.js';
import type { Emulator } from './openai-emulator.js';
import { merged } from '../core/objects.js';

/** One request the emulator received. */
export interface EmulatorRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** Parsed JSON body (undefined when it was not JSON). */
  body: unknown;
}

/** A running emulated Anthropic endpoint: the shared Emulator shape plus the parsed requests. */
export interface AnthropicEmulator extends Emulator {
  flavor: 'anthropic';
  /** Every request received, in order, including rejected ones. */
  received: EmulatorRequest[];
}

/** Options for {@link startAnthropicEmulator}. */
export interface AnthropicEmulatorOptions {
  /** Key required in `x-api-key` or `Authorization: Bearer`; omit to accept any (or none). */
  apiKey?: string;
  /** Delay between streamed deltas, ms. Default 0. */
  tokenDelayMs?: number;
  /** Context window in tokens: longer prompts get "prompt is too long". Default 200000. */
  contextWindow?: number;
}

class AnthropicHttpError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

const invalid = (message: string) => new AnthropicHttpError(400, 'invalid_request_error', message);

/**
 * Starts a loopback server that speaks the Anthropic Messages API (`POST /v1/messages`, with
 * and without `stream`, and `POST /v1/messages/count_tokens`) over the shared emulated model
 * (./model.ts). It checks `x-api-key` (or a bearer token) and `anthropic-version`, answers
 * errors in Anthropic's shape, returns 529 `overloaded_error` while down, streams every event
 * type (message_start, ping, content_block_start/delta/stop with text_delta, input_json_delta
 * in pieces, thinking_delta and signature_delta, message_delta, message_stop), and verifies the
 * signature of thinking blocks sent back to it.
 *
 * @example
 * const emulator = await startAnthropicEmulator({ apiKey: 'sk-ant-test' });
 * // POST `${emulator.url}/v1/messages` …
 * await emulator.close();
 */
export async function startAnthropicEmulator(
  options: AnthropicEmulatorOptions = {},
): Promise<AnthropicEmulator> {
  let down = false;
  let tokenDelay = options.tokenDelayMs ?? 0;
  const received: EmulatorRequest[] = [];
  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const requestId = randomId('req_');
    const path = (request.url ?? '/').split('?')[0] ?? '/';
    try {
      const text = await readBody(request);
      const body = parseJson(text);
      emulator.requests += 1;
      received.push({ method: request.method ?? 'GET', path, headers: request.headers, body });
      if (
        request.method !== 'POST' ||
        (path !== '/v1/messages' && path !== '/v1/messages/count_tokens')
      ) {
        throw new AnthropicHttpError(404, 'not_found_error', `${request.method} ${path} not found`);
      }
      checkAuth(request.headers, options.apiKey);
      if (down) throw new AnthropicHttpError(529, 'overloaded_error', 'Overloaded');
      if (body === undefined) throw invalid('There was an error parsing the body of your request');
      const version = header(request.headers, 'anthropic-version');
      if (version === undefined) throw invalid('anthropic-version: header is required');
      const counting = path.endsWith('/count_tokens');
      const { input, params } = parseRequest(body, version, counting);
      if (counting) {
        sendJson(
          response,
          200,
          { input_tokens: emulate(input).usage.inputTokens },
          { 'request-id': requestId },
        );
        return;
      }
      const output = emulate(input, { modelName: params.model });
      const limit = options.contextWindow ?? 200_000;
      if (output.usage.inputTokens > limit)
        throw invalid(`prompt is too long: ${output.usage.inputTokens} tokens > ${limit} maximum`);
      const message = buildMessage(params, input, output);
      if (params.stream) await streamMessage(response, message, requestId, () => tokenDelay);
      else sendJson(response, 200, message, { 'request-id': requestId });
    } catch (error) {
      const known =
        error instanceof AnthropicHttpError
          ? error
          : error instanceof BodyTooLargeError
            ? new AnthropicHttpError(
                413,
                'request_too_large',
                'Request exceeds the maximum allowed number of bytes.',
              )
            : new AnthropicHttpError(500, 'api_error', 'Internal server error');
      if (response.headersSent) return void response.destroy();
      const headers: Record<string, string> = { 'request-id': requestId };
      if (known.status === 529 || known.status === 429) headers['retry-after'] = '1';
      sendJson(
        response,
        known.status,
        {
          type: 'error',
          error: { type: known.type, message: known.message },
          request_id: requestId,
        },
        headers,
      );
    }
  };
  const server = await listen((request, response) => void handle(request, response));
  const emulator: AnthropicEmulator = {
    url: server.url,
    port: server.port,
    flavor: 'anthropic',
    setDown: (value) => void (down = value),
    isDown: () => down,
    setTokenDelay: (ms) => void (tokenDelay = ms),
    requests: 0,
    received,
    close: () => server.close(),
  };
  return emulator;
}

/** The signature the emulator puts on (and expects back with) a thinking block. */
export function thinkingSignature(thinking: string): string {
  return createHash('sha256').update(`switchyard-sandbox\n${thinking}`).digest('base64');
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function checkAuth(headers: IncomingHttpHeaders, apiKey: string | undefined): void {
  if (apiKey === undefined) return;
  const bearer = /^Bearer\s+(.+)$/i.exec(header(headers, 'authorization') ?? '')?.[1];
  const given = header(headers, 'x-api-key') ?? bearer;
  if (given !== apiKey)
    throw new AnthropicHttpError(401, 'authentication_error', 'invalid x-api-key');
}

interface Params {
  model: string;
  stream: boolean;
  thinking: boolean;
  stopSequences: string[];
}

type Json = Record<string, unknown>;
const isRecord = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Validates a Messages body and builds the emulated model's input. */
function parseRequest(
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

function buildMessage(params: Params, input: EmulatedInput, output: EmulatedOutput): Json {
  const content: Json[] = [];
  if (output.reasoning !== undefined && params.thinking) {
    content.push({
      type: 'thinking',
      thinking: output.reasoning,
      signature: thinkingSignature(output.reasoning),
    });
  }
  if (output.text !== '' || output.toolCalls.length === 0)
    content.push({ type: 'text', text: output.text });
  for (const call of output.toolCalls) {
    content.push({
      type: 'tool_use',
      id: `toolu_${call.id.replace(/^call_/, '')}`,
      name: call.name,
      input: JSON.parse(call.arguments || '{}'),
    });
  }
  const stopSequence = output.finishReason === 'stop' ? matchedStop(input, params) : null;
  const stopReason =
    output.finishReason === 'length'
      ? 'max_tokens'
      : output.finishReason === 'tool_calls'
        ? 'tool_use'
        : stopSequence !== null
          ? 'stop_sequence'
          : 'end_turn';
  // Anthropic's input_tokens excludes cache reads; the shared model caches OpenAI-style.
  const cached = output.usage.cachedInputTokens;
  const usage: Json = {
    input_tokens: output.usage.inputTokens - cached,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: cached,
    output_tokens: output.usage.outputTokens,
  };
  if (output.usage.reasoningTokens > 0)
    usage.output_tokens_details = { thinking_tokens: output.usage.reasoningTokens };
  return {
    id: randomId('msg_'),
    type: 'message',
    role: 'assistant',
    model: params.model,
    content,
    stop_reason: stopReason,
    stop_sequence: stopSequence,
    usage,
  };
}

/** The stop sequence that cut the answer, if any (the model cuts before the earliest match). */
function matchedStop(input: EmulatedInput, params: Params): string | null {
  if (params.stopSequences.length === 0) return null;
  const full = emulate(merged(input, { stop: [] }), { modelName: params.model }).text;
  let best: { at: number; sequence: string } | null = null;
  for (const sequence of params.stopSequences) {
    const at = sequence === '' ? -1 : full.indexOf(sequence);
    if (at !== -1 && (best === null || at < best.at)) best = { at, sequence };
  }
  return best?.sequence ?? null;
}

/** Streams a built message as Anthropic SSE events, one delta per token, with backpressure. */
async function streamMessage(
  response: ServerResponse,
  message: Json,
  requestId: string,
  delay: () => number,
): Promise<void> {
  response.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'request-id': requestId,
  });
  const usage = message.usage as Json;
  const send = async (event: Json, pause = false): Promise<boolean> => {
    if (pause && delay() > 0) await sleep(delay());
    return writeWithBackpressure(
      response,
      `event: ${String(event.type)}\ndata: ${JSON.stringify(event)}\n\n`,
    );
  };
  const start = merged(message, {
    content: [],
    stop_reason: null,
    stop_sequence: null,
    usage: merged(usage, { output_tokens: 1 }),
  });
  if (!(await send({ type: 'message_start', message: start }))) return;
  if (!(await send({ type: 'ping' }))) return;
  for (const [index, block] of (message.content as Json[]).entries()) {
    if (!(await streamBlock(block, index, send))) return;
  }
  const delta = { stop_reason: message.stop_reason, stop_sequence: message.stop_sequence };
  const final: Json = { output_tokens: usage.output_tokens };
  if (usage.output_tokens_details !== undefined)
    final.output_tokens_details = usage.output_tokens_details;
  if (!(await send({ type: 'message_delta', delta, usage: final }))) return;
  if (await send({ type: 'message_stop' })) response.end();
}

async function streamBlock(
  block: Json,
  index: number,
  send: (event: Json, pause?: boolean) => Promise<boolean>,
): Promise<boolean> {
  const deltas: Json[] = [];
  let start: Json;
  if (block.type === 'thinking') {
    start = { type: 'thinking', thinking: '', signature: '' };
    for (const piece of tokenize(String(block.thinking)))
      deltas.push({ type: 'thinking_delta', thinking: piece });
    deltas.push({ type: 'signature_delta', signature: block.signature });
  } else if (block.type === 'tool_use') {
    start = { type: 'tool_use', id: block.id, name: block.name, input: {} };
    // Like the real API: an empty first fragment, then the JSON in small uneven pieces.
    const json = JSON.stringify(block.input);
    deltas.push({ type: 'input_json_delta', partial_json: '' });
    for (let at = 0, size = 3; at < json.length; at += size, size = (size % 7) + 3) {
      deltas.push({ type: 'input_json_delta', partial_json: json.slice(at, at + size) });
    }
  } else {
    start = { type: 'text', text: '' };
    for (const piece of tokenize(String(block.text)))
      deltas.push({ type: 'text_delta', text: piece });
  }
  if (!(await send({ type: 'content_block_start', index, content_block: start }))) return false;
  for (const delta of deltas)
    if (!(await send({ type: 'content_block_delta', index, delta }, true))) return false;
  return send({ type: 'content_block_stop', index });
}
