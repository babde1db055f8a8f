import type { ChatDelta, FinishReason } from '../../core/chat.js';
import { GatewayError } from '../../errors/index.js';
import { type StreamItem, type UpstreamFrame, itemOf } from '../adapter.js';
import { classifyStreamError } from './errors.js';
import { finishReasonOf, stopSequenceOf, usageOf } from './response.js';
import type { AnthropicStreamEvent, AnthropicUsage } from './types.js';
import { merged } from '../../core/objects.js';

/** Options for {@link mapAnthropicStream}. */
export interface AnthropicStreamOptions {
  /** Provider id, for errors. */
  provider: string;
  /** Unix seconds stamped on every chunk. */
  created: number;
  /** Model reported until `message_start` names one. */
  model: string;
}

/**
 * Maps Anthropic Messages SSE events to Chat Completions chunks, in OpenAI order:
 * a first chunk with `delta.role: 'assistant'`, content/reasoning/tool-call deltas (a tool call's
 * first fragment carries `index`, `id`, `type: 'function'`, `name` and `arguments: ''`; later
 * ones only `index` and an `arguments` fragment), a chunk with `finish_reason`, then a
 * usage-only chunk (`choices: []`).
 *
 * `ping` and unknown events are ignored (Anthropic may add event types). An `error` event throws
 * the classified UpstreamError; a stream that ends before `message_stop` throws
 * `upstream_bad_response`, so a cut-off answer never looks complete.
 * https://docs.anthropic.com/en/api/messages-streaming
 */
export async function* mapAnthropicStream(
  frames: AsyncIterable<UpstreamFrame>,
  options: AnthropicStreamOptions,
): AsyncGenerator<StreamItem> {
  let id = 'msg_unknown';
  let model = options.model;
  let usage: AnthropicUsage = {};
  let finish: FinishReason = 'stop';
  let stopSequence: string | null = null;
  let toolCount = 0;
  /** Anthropic block index → OpenAI tool_calls index, for tool_use blocks. */
  const toolIndex = new Map<number, number>();
  const chunk = (delta: ChatDelta, finishReason: FinishReason | null = null): StreamItem =>
    itemOf({
      id,
      object: 'chat.completion.chunk',
      created: options.created,
      model,
      choices: [{ index: 0, delta, finish_reason: finishReason }],
    });

  for await (const frame of frames) {
    const event = parse(frame);
    if (event === undefined) continue;
    switch (event.type) {
      case 'message_start':
        id = event.message.id ?? id;
        model = event.message.model ?? model;
        usage = { ...event.message.usage };
        {
          // Extension `input_usage`: the input side is known now, so an Anthropic client's
          // message_start can report it (the usage-only chunk at the end stays the metered one).
          const first = chunk({ role: 'assistant', content: '' });
          first.chunk()['input_usage'] = usageOf(usage);
          yield first;
        }
        break;
      case 'content_block_start': {
        const block = event.content_block;
        if (block.type === 'text' && block.text !== '') yield chunk({ content: block.text });
        else if (block.type === 'thinking' && block.thinking !== '')
          yield chunk({ reasoning_content: block.thinking });
        else if (block.type === 'tool_use') {
          const index = toolCount++;
          toolIndex.set(event.index, index);
          // Some hosts put the whole input in the start block instead of streaming it.
          const input = block.input;
          const initial =
            typeof input === 'object' && input !== null && Object.keys(input).length > 0
              ? JSON.stringify(input)
              : '';
          yield chunk({
            tool_calls: [
              {
                index,
                id: block.id,
                type: 'function',
                function: { name: block.name, arguments: initial },
              },
            ],
          });
        }
        break;
      }
      case 'content_block_delta': {
        const delta = event.delta;
        if (delta.type === 'text_delta') yield chunk({ content: delta.text });
        else if (delta.type === 'thinking_delta')
          yield chunk({ reasoning_content: delta.thinking });
        else if (delta.type === 'signature_delta')
          yield chunk({ reasoning_signature: delta.signature });
        else if (delta.type === 'input_json_delta' && delta.partial_json !== '') {
          const index = toolIndex.get(event.index);
          if (index !== undefined)
            yield chunk({ tool_calls: [{ index, function: { arguments: delta.partial_json } }] });
        }
        break;
      }
      case 'message_delta':
        if (event.delta?.stop_reason) finish = finishReasonOf(event.delta.stop_reason);
        if (typeof event.delta?.stop_sequence === 'string')
          stopSequence = event.delta.stop_sequence;
        // Usage in message_delta is cumulative: the last non-null value of each field wins.
        for (const [key, value] of Object.entries(event.usage ?? {}))
          if (value != null) usage[key] = value;
        break;
      case 'message_stop': {
        const last = chunk({}, finish);
        Object.assign(last.chunk().choices[0] ?? {}, stopSequenceOf(stopSequence));
        yield last;
        yield itemOf({
          id,
          object: 'chat.completion.chunk',
          created: options.created,
          model,
          choices: [],
          usage: usageOf(usage),
        });
        return;
      }
      case 'error':
        throw classifyStreamError(frame.data, options.provider);
      default:
        // ping, content_block_stop and event types added later carry nothing to map.
        break;
    }
  }
  throw new GatewayError('Anthropic stream ended before message_stop', {
    code: 'upstream_bad_response',
    status: 502,
    errorClass: 'bad_response',
  });
}

function parse(frame: UpstreamFrame): AnthropicStreamEvent | undefined {
  if (frame.event === 'ping') return undefined;
  let json: unknown;
  try {
    json = JSON.parse(frame.data);
  } catch {
    throw new GatewayError(`Anthropic sent an unparseable ${frame.event ?? 'stream'} event`, {
      code: 'upstream_bad_response',
      status: 502,
      errorClass: 'bad_response',
    });
  }
  if (typeof json !== 'object' || json === null) return undefined;
  const event = json as AnthropicStreamEvent;
  // `data.type` equals the event name; fall back to the SSE name when a host leaves it out.
  if (typeof event.type !== 'string' && frame.event !== undefined)
    return merged(json as object, { type: frame.event }) as AnthropicStreamEvent;
  return event;
}
