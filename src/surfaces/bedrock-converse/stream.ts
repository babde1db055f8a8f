import type { ServerResponse } from 'node:http';
import type { ChatDelta, ChatUsage, FinishReason } from '../../core/chat.js';
import { toGatewayError } from '../../errors/index.js';
import type { StreamItem } from '../../providers/adapter.js';
import {
  encodeEventFrame,
  encodeExceptionFrame,
  EVENT_STREAM_CONTENT_TYPE,
} from '../../transport/aws-eventstream.js';
import { write } from '../../server/respond.js';
import { bedrockExceptionOf, sendGatewayErrorAsBedrock } from './errors.js';
import { converseUsageOf, stopReasonOf } from './response.js';
import { merged } from '../../core/objects.js';

type Block = { kind: 'text' | 'reasoning' } | { kind: 'tool'; openAIIndex: number; id: string };

/**
 * Writes stream items as a ConverseStream (`application/vnd.amazon.eventstream`): messageStart,
 * per block contentBlockStart (tool use only: real Bedrock sends none for text or reasoning),
 * contentBlockDelta and contentBlockStop, then messageStop and metadata (usage and
 * metrics.latencyMs). The answer starts with the first item, so an error before it is still an
 * HTTP error; after it, an error is an exception frame and the stream closes.
 */
export async function writeConverseStream(
  items: AsyncIterable<StreamItem>,
  response: ServerResponse,
  options: { headers: Record<string, string>; startedAt: number; requestId: string },
): Promise<void> {
  let started = false;
  let index = -1;
  let open: Block | undefined;
  let finish: FinishReason | null | undefined;
  let stopped = false;
  let usage: ChatUsage | null | undefined;

  const send = async (event: string, payload: object): Promise<void> => {
    if (!started) {
      started = true;
      response.writeHead(
        200,
        merged(options.headers, {
          'content-type': EVENT_STREAM_CONTENT_TYPE,
          'x-amzn-requestid': options.requestId,
        }),
      );
      response.flushHeaders();
      await write(response, encodeEventFrame('messageStart', { role: 'assistant' }));
    }
    await write(response, encodeEventFrame(event, payload));
  };
  const close = async (): Promise<void> => {
    if (open) await send('contentBlockStop', { contentBlockIndex: index });
    open = undefined;
  };
  const openBlock = async (block: Block, start?: object): Promise<void> => {
    await close();
    index += 1;
    open = block;
    if (start) await send('contentBlockStart', { contentBlockIndex: index, start });
  };
  const delta = (value: object) =>
    send('contentBlockDelta', { contentBlockIndex: index, delta: value });

  try {
    for await (const item of items) {
      const chunk = item.chunk();
      if (chunk.usage) usage = chunk.usage;
      const choice = chunk.choices[0];
      if (!choice) continue;
      await onDelta(choice.delta ?? {});
      if (choice.finish_reason) {
        finish = choice.finish_reason;
        await close();
        await send('messageStop', {
          stopReason: stopReasonOf(finish, choice['stop_sequence']),
        });
        stopped = true;
      }
    }
    await close();
    if (!stopped) await send('messageStop', { stopReason: stopReasonOf(finish) });
    await send('metadata', {
      usage: converseUsageOf(usage),
      metrics: { latencyMs: Math.max(0, Date.now() - options.startedAt) },
    });
    response.end();
  } catch (thrown) {
    const error = toGatewayError(thrown);
    if (!started) return sendGatewayErrorAsBedrock(response, error, options.headers);
    if (!response.destroyed)
      response.end(encodeExceptionFrame(bedrockExceptionOf(error).streamType, error.message));
  }

  async function onDelta(value: ChatDelta): Promise<void> {
    if (typeof value.reasoning_content === 'string' && value.reasoning_content !== '') {
      if (open?.kind !== 'reasoning') await openBlock({ kind: 'reasoning' });
      await delta({ reasoningContent: { text: value.reasoning_content } });
    }
    if (typeof value.reasoning_signature === 'string' && value.reasoning_signature !== '') {
      if (open?.kind !== 'reasoning') await openBlock({ kind: 'reasoning' });
      await delta({ reasoningContent: { signature: value.reasoning_signature } });
    }
    const redacted = value['reasoning_redacted'];
    if (typeof redacted === 'string') {
      await openBlock({ kind: 'reasoning' });
      await delta({ reasoningContent: { redactedContent: redacted } });
    }
    const text =
      typeof value.content === 'string' && value.content !== '' ? value.content : value.refusal;
    if (typeof text === 'string' && text !== '') {
      if (open?.kind !== 'text') await openBlock({ kind: 'text' });
      await delta({ text });
    }
    for (const call of value.tool_calls ?? []) {
      if (
        open?.kind !== 'tool' ||
        open.openAIIndex !== call.index ||
        (call.id !== undefined && call.id !== open.id)
      ) {
        const id = call.id ?? `tooluse_${options.requestId}_${call.index}`;
        await openBlock(
          { kind: 'tool', openAIIndex: call.index, id },
          { toolUse: { toolUseId: id, name: call.function?.name ?? '' } },
        );
      }
      const input = call.function?.arguments;
      if (input) await delta({ toolUse: { input } });
    }
  }
}
