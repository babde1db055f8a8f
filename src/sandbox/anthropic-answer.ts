import type { ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { randomId } from '../core/ids.js';
import { merged } from '../core/objects.js';
import { type Json, type Params, thinkingSignature } from './anthropic-request.js';
import { writeWithBackpressure } from './http.js';
import { type EmulatedInput, type EmulatedOutput, emulate, tokenize } from './model.js';

/**
 * The Anthropic emulator's answer (anthropic-emulator.ts): the Messages object, whole or as
 * Anthropic's event stream (message_start, ping, content blocks with their deltas,
 * message_delta, message_stop).
 */

export function buildMessage(params: Params, input: EmulatedInput, output: EmulatedOutput): Json {
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
export async function streamMessage(
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
