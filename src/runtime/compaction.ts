import type { IdSource } from '../core/ids.js';
import { GatewayError } from '../errors/index.js';
import type { Gateway } from '../gateway/types.js';
import { decodeCompaction, encodeCompaction } from './envelope.js';
import { responseUsage } from './response-object.js';
import type { CallContext, Item, ResponseUsage } from './types.js';
import { isRecord } from '../core/objects.js';

/**
 * Compaction: older items are summarised by a model call (through the gateway, so any cloud
 * serves it and it is metered under its own request id `<id>:compact`) into one compaction
 * item that stands in for them from then on (see `applyCompaction` in to-chat.ts).
 */

const INSTRUCTIONS = [
  'You compact a conversation between a user and an AI assistant so that the assistant can continue it without the full history.',
  'Write a concise summary that keeps every fact, decision, name, number, open question, tool call and tool result the assistant may need later.',
  'Write it as notes for the assistant; do not address the user. Output only the summary.',
].join(' ');

/** A finished compaction: the item and the usage of the call that wrote it. */
export interface Compaction {
  item: Item;
  usage: ResponseUsage;
}

/**
 * Summarises `items` with `model` into a compaction item. The call's request id is
 * `requestId` (default `<context.requestId>:compact`, for a compaction inside another call).
 */
export async function compact(
  gateway: Gateway,
  items: Item[],
  model: string,
  context: CallContext,
  ids: IdSource,
  requestId = `${context.requestId}:compact`,
): Promise<Compaction> {
  const outcome = await gateway.chat({
    requestId,
    surface: 'openai-responses',
    apiKind: context.apiKind,
    principal: context.principal,
    signal: context.signal,
    tags: context.tags,
    body: {
      model,
      messages: [
        { role: 'system', content: INSTRUCTIONS },
        { role: 'user', content: transcript(items) },
      ],
    },
  });
  if (outcome.kind !== 'json')
    throw new GatewayError('Compaction expected a whole answer', {
      code: 'internal_error',
      status: 500,
    });
  const summary = outcome.completion.choices[0]?.message.content;
  const text = typeof summary === 'string' ? summary : '';
  return {
    item: {
      id: ids('cmp_'),
      type: 'compaction',
      encrypted_content: encodeCompaction({ summary: text, model: outcome.meta.model }),
    },
    usage: responseUsage(outcome.completion.usage),
  };
}

/** Plain-text transcript of items for the summariser. Reasoning is left out. */
export function transcript(items: Item[]): string {
  const lines: string[] = [];
  for (const item of items) {
    if (item.type === 'message') {
      const role = String(item['role']);
      const text = textOf(item['content']);
      if (text !== '') lines.push(`${role[0]!.toUpperCase()}${role.slice(1)}: ${text}`);
    } else if (item.type === 'function_call') {
      lines.push(
        `Assistant called tool ${String(item['name'])} (call ${String(item['call_id'])}) with arguments ${String(item['arguments'])}`,
      );
    } else if (item.type === 'function_call_output') {
      const output = item['output'];
      lines.push(
        `Tool result for call ${String(item['call_id'])}: ${typeof output === 'string' ? output : textOf(output)}`,
      );
    } else if (item.type === 'compaction') {
      const payload = decodeCompaction(item['encrypted_content']);
      if (payload) lines.push(`Summary of what came before: ${payload.summary}`);
    }
  }
  return lines.join('\n');
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return content
    .filter(isRecord)
    .map((part) =>
      typeof part['text'] === 'string'
        ? part['text']
        : typeof part['refusal'] === 'string'
          ? part['refusal']
          : '',
    )
    .filter((text) => text !== '')
    .join('\n');
}
