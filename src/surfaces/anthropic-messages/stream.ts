import type { ChatCompletionChunk, ChatUsage, FinishReason } from '../../core/chat.js';
import { randomId } from '../../core/ids.js';
import type { GatewayError } from '../../errors/index.js';
import { anthropicErrorOf, anthropicUsageOf, messageIdOf, stopReasonOf } from './render.js';
import { merged } from '../../core/objects.js';

/** One SSE event in Anthropic's framing: `event: <type>` and `data: <json>` with `data.type` equal. */
export function sseEvent(data: { type: string; [key: string]: unknown }): string {
  return `event: ${data.type}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** The `event: error` sent when an answer fails after its first byte. */
export function sseError(error: GatewayError): string {
  return sseEvent({
    type: 'error',
    error: { type: anthropicErrorOf(error).type, message: error.message },
  });
}

/** Turns Chat Completions chunks into Anthropic Messages stream events, in order. */
export interface AnthropicStreamRenderer {
  /** `message_start` and a `ping`; call once, before the first chunk. */
  start(first: ChatCompletionChunk | undefined): string;
  /** The events one chunk produces (may be ''). */
  push(chunk: ChatCompletionChunk): string;
  /** Closes the open block, then `message_delta` (stop reason, cumulative usage) and `message_stop`. */
  end(): string;
}

type Block = { kind: 'text' } | { kind: 'thinking' } | { kind: 'tool'; toolIndex: number };

/**
 * Creates a renderer for one answer. Blocks are opened as their kind changes (thinking, text,
 * one `tool_use` per tool-call index) and closed before the next opens, as Anthropic streams
 * them: https://docs.anthropic.com/en/api/messages-streaming. Tool-call argument fragments
 * become `input_json_delta`; reasoning becomes `thinking_delta` and `signature_delta`.
 */
export function createAnthropicStreamRenderer(options: {
  model: string;
  /** Input tokens to report in `message_start` when the upstream did not say (lazily computed). */
  estimateInputTokens?: () => number;
}): AnthropicStreamRenderer {
  let open: (Block & { index: number }) | undefined;
  let next = 0;
  /** OpenAI tool_calls index → Anthropic block index. */
  const toolBlocks = new Map<number, number>();
  let finish: FinishReason | null = null;
  let stopSequence: string | null = null;
  let usage: ChatUsage | null | undefined;

  const close = (): string => {
    if (open === undefined) return '';
    const text = sseEvent({ type: 'content_block_stop', index: open.index });
    open = undefined;
    return text;
  };
  const begin = (block: Block, contentBlock: Record<string, unknown>): string => {
    const text = close();
    open = merged(block, { index: next++ });
    return (
      text +
      sseEvent({ type: 'content_block_start', index: open.index, content_block: contentBlock })
    );
  };
  const ensure = (kind: 'text' | 'thinking'): string => {
    if (open?.kind === kind) return '';
    return kind === 'text'
      ? begin({ kind }, { type: 'text', text: '' })
      : begin({ kind }, { type: 'thinking', thinking: '', signature: '' });
  };
  const delta = (index: number, payload: Record<string, unknown>) =>
    sseEvent({ type: 'content_block_delta', index, delta: payload });

  return {
    start(first) {
      const message = {
        id: messageIdOf(first?.id),
        type: 'message',
        role: 'assistant',
        model: options.model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        // The input side as the upstream reported it at its start (Anthropic does), else the
        // estimate; the final message_delta carries the real totals either way.
        usage: startUsage(first, options.estimateInputTokens),
      };
      return sseEvent({ type: 'message_start', message }) + sseEvent({ type: 'ping' });
    },
    push(chunk) {
      if (chunk.usage) usage = chunk.usage;
      let out = '';
      for (const choice of chunk.choices) {
        if (choice.index !== 0) continue;
        const d = choice.delta ?? {};
        if (typeof d.reasoning_content === 'string' && d.reasoning_content !== '') {
          out +=
            ensure('thinking') +
            delta(open!.index, { type: 'thinking_delta', thinking: d.reasoning_content });
        }
        if (typeof d.reasoning_signature === 'string' && d.reasoning_signature !== '') {
          out +=
            ensure('thinking') +
            delta(open!.index, { type: 'signature_delta', signature: d.reasoning_signature });
        }
        const text =
          (typeof d.content === 'string' ? d.content : '') +
          (typeof d.refusal === 'string' ? d.refusal : '');
        if (text !== '') out += ensure('text') + delta(open!.index, { type: 'text_delta', text });
        for (const call of d.tool_calls ?? []) {
          let index = toolBlocks.get(call.index);
          if (index === undefined) {
            out += begin(
              { kind: 'tool', toolIndex: call.index },
              {
                type: 'tool_use',
                id: call.id ?? randomId('toolu_'),
                name: call.function?.name ?? '',
                input: {},
              },
            );
            index = open!.index;
            toolBlocks.set(call.index, index);
          }
          const fragment = call.function?.arguments;
          if (typeof fragment === 'string' && fragment !== '')
            out += delta(index, { type: 'input_json_delta', partial_json: fragment });
        }
        if (choice.finish_reason) {
          finish = choice.finish_reason;
          if (typeof choice['stop_sequence'] === 'string') stopSequence = choice['stop_sequence'];
        }
      }
      return out;
    },
    end() {
      const usageOut = anthropicUsageOf(usage);
      return (
        close() +
        sseEvent({
          type: 'message_delta',
          delta: {
            stop_reason: stopReasonOf(finish, stopSequence),
            stop_sequence: stopSequence || null,
          },
          usage: usageOut,
        }) +
        sseEvent({ type: 'message_stop' })
      );
    },
  };
}

/** `message_start` usage: the first chunk's `input_usage` extension, else an estimate, else 0. */
function startUsage(
  first: ChatCompletionChunk | undefined,
  estimate: (() => number) | undefined,
): Record<string, number> {
  const known = first?.['input_usage'] as ChatUsage | undefined;
  if (known && typeof known === 'object') {
    const usage = anthropicUsageOf(known);
    return {
      input_tokens: usage.input_tokens ?? 0,
      output_tokens: 0,
      cache_creation_input_tokens: usage.cache_creation_input_tokens ?? 0,
      cache_read_input_tokens: usage.cache_read_input_tokens ?? 0,
    };
  }
  return {
    input_tokens: estimate?.() ?? 0,
    output_tokens: 0,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
  };
}
