import type {
  ChatChunkChoice,
  ChatCompletionChunk,
  ChatDelta,
  FinishReason,
} from '../../core/chat.js';
import { GatewayError } from '../../errors/index.js';
import { itemOf, type StreamItem, type UpstreamFrame } from '../adapter.js';
import { streamFrameError } from './errors.js';
import { finishReasonOf, stopSequenceOf, usageOf } from './response.js';
import type { ConverseStreamEvents } from './types.js';

/** Identity stamped on every chunk of one stream. */
export interface StreamMeta {
  id: string;
  model: string;
  created: number;
  provider: string;
  /** Name of the forced structured-output tool, whose input is streamed as text. */
  jsonTool?: string | undefined;
  /** The stop sequences asked for, to name the one that ended the answer. */
  stop?: string | string[] | null | undefined;
}

/**
 * ConverseStream frames → OpenAI chunks: the role first (from `messageStart`, or before the
 * first delta), text / reasoning / signature deltas, per tool block a first fragment with id,
 * type and name then argument fragments, the finish chunk at `messageStop`, and the usage-only
 * chunk from `metadata` (which Bedrock sends after `messageStop`) last. Exception and error
 * frames throw a classified GatewayError. Unknown events and the `p` padding field are ignored.
 */
export async function* mapConverseStream(
  frames: AsyncIterable<UpstreamFrame>,
  meta: StreamMeta,
): AsyncGenerator<StreamItem> {
  const chunk = (
    choice: { delta: ChatDelta; finish_reason: FinishReason | null } | undefined,
    usage?: ChatCompletionChunk['usage'],
  ): StreamItem => {
    const out: ChatCompletionChunk = {
      id: meta.id,
      object: 'chat.completion.chunk',
      created: meta.created,
      model: meta.model,
      choices: [],
    };
    if (choice) out.choices.push({ index: 0, ...choice } satisfies ChatChunkChoice);
    if (usage) out.usage = usage;
    return itemOf(out);
  };
  const delta = (value: ChatDelta): StreamItem => chunk({ delta: value, finish_reason: null });
  /** contentBlockIndex → OpenAI tool_calls index (or -1 for the structured-output tool). */
  const toolIndex = new Map<number, number>();
  let tools = 0;
  let started = false;
  let finish: FinishReason | undefined;
  // The role delta, once, before the first content. Returned as a list to `yield*`, not a
  // generator made per stream (each would get a hidden class of its own: server/context.ts).
  const start = (): StreamItem[] => {
    if (started) return [];
    started = true;
    return [delta({ role: 'assistant', content: '' })];
  };

  for await (const frame of frames) {
    if (frame.messageType === 'exception' || frame.messageType === 'error')
      throw streamFrameError(frame, meta.provider);
    const payload = parse(frame, meta.provider);
    switch (frame.event) {
      case 'messageStart':
        yield* start();
        break;
      case 'contentBlockStart': {
        const { contentBlockIndex, start: blockStart } =
          payload as ConverseStreamEvents['contentBlockStart'];
        const toolUse = blockStart?.toolUse;
        if (!toolUse) break;
        yield* start();
        if (toolUse.name === meta.jsonTool) {
          toolIndex.set(contentBlockIndex, -1);
          break;
        }
        const index = tools++;
        toolIndex.set(contentBlockIndex, index);
        yield delta({
          tool_calls: [
            {
              index,
              id: toolUse.toolUseId,
              type: 'function',
              function: { name: toolUse.name, arguments: '' },
            },
          ],
        });
        break;
      }
      case 'contentBlockDelta': {
        const { contentBlockIndex, delta: value } =
          payload as ConverseStreamEvents['contentBlockDelta'];
        if (!value) break;
        yield* start();
        if (typeof value.text === 'string') yield delta({ content: value.text });
        else if (value.toolUse) {
          const index = toolIndex.get(contentBlockIndex);
          if (index === undefined)
            throw bad(
              meta.provider,
              `tool input for block ${contentBlockIndex} without contentBlockStart`,
            );
          if (index === -1) yield delta({ content: value.toolUse.input });
          else
            yield delta({ tool_calls: [{ index, function: { arguments: value.toolUse.input } }] });
        } else if (value.reasoningContent) {
          const reasoning = value.reasoningContent;
          if (typeof reasoning.text === 'string')
            yield delta({ reasoning_content: reasoning.text });
          if (typeof reasoning.signature === 'string')
            yield delta({ reasoning_signature: reasoning.signature });
          if (typeof reasoning.redactedContent === 'string')
            yield delta({ reasoning_redacted: reasoning.redactedContent });
        }
        break;
      }
      case 'messageStop': {
        yield* start();
        const { stopReason, additionalModelResponseFields } =
          payload as ConverseStreamEvents['messageStop'];
        finish = finishReasonOf(stopReason);
        // The forced structured-output tool is the answer itself.
        if (finish === 'tool_calls' && tools === 0 && meta.jsonTool !== undefined) finish = 'stop';
        const last = chunk({ delta: {}, finish_reason: finish });
        Object.assign(
          last.chunk().choices[0] ?? {},
          stopSequenceOf(stopReason, additionalModelResponseFields, meta.stop),
        );
        yield last;
        break;
      }
      case 'metadata': {
        const usage = usageOf((payload as ConverseStreamEvents['metadata']).usage);
        if (usage) yield chunk(undefined, usage);
        break;
      }
      default:
        // contentBlockStop and events this version does not know.
        break;
    }
  }
  if (finish === undefined) throw bad(meta.provider, 'stream ended before messageStop');
}

function parse(frame: UpstreamFrame, provider: string): Record<string, unknown> {
  try {
    const value = JSON.parse(frame.data) as unknown;
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : {};
  } catch (error) {
    throw bad(provider, `malformed ${frame.event ?? 'event'} payload`, error);
  }
}

function bad(provider: string, detail: string, cause?: unknown): GatewayError {
  return new GatewayError(`Upstream ${provider} sent a malformed stream: ${detail}`, {
    code: 'upstream_bad_response',
    status: 502,
    errorClass: 'bad_response',
    cause,
  });
}
