import { flatToolName } from './tools/hosted-tools.js';
import type { ChatContentPart, ChatMessage, ChatToolCall } from '../core/chat.js';
import { decodeCompaction, decodeReasoning } from './envelope.js';
import { invalidParam } from './errors.js';
import { isUserMessage } from './items.js';
import type { Item } from './types.js';
import { isRecord } from '../core/objects.js';

/**
 * Items → chat messages (the internal representation), the way every provider can take them.
 * `model` is the logical model of the call the messages are for.
 *
 * - user/system/developer messages → one message each (`developer` becomes `system`, which
 *   every cloud accepts); text-only content becomes a string.
 * - the assistant side of one turn (reasoning, assistant message, function calls, in any order)
 *   → one assistant message: text as `content`, calls as `tool_calls` (call ids kept exactly:
 *   they may carry provider signatures), reasoning as `reasoning_content` +
 *   `reasoning_signature`, decoded from Switchyard's envelope, and only when the same logical
 *   model wrote it: a signature verifies only where it was made, so reasoning from another
 *   model (another cloud) is left out, as are foreign blobs (the spec's advice).
 *   Earlier turns' text still carries what was concluded.
 * - function_call_output → a `tool` message.
 * - compaction → a system message holding the summary.
 */
export function itemsToMessages(items: Item[], model: string): ChatMessage[] {
  const messages: ChatMessage[] = [];
  let assistant: ChatMessage | undefined;
  const flush = () => {
    // An assistant turn that holds only reasoning has nothing a provider could take.
    if (assistant && hasAnswer(assistant)) messages.push(assistant);
    assistant = undefined;
  };
  const current = (): ChatMessage => (assistant ??= { role: 'assistant', content: null });

  for (const item of items) {
    switch (item.type) {
      case 'message': {
        const role = item['role'];
        if (role === 'assistant') {
          // A second answer in the same turn starts a new assistant message.
          if (assistant && hasAnswer(assistant)) flush();
          const turn = current();
          const { text, refusal } = assistantText(item['content']);
          if (text !== undefined) turn.content = text;
          if (refusal !== undefined) turn.refusal = refusal;
          break;
        }
        flush();
        messages.push({
          role: role === 'developer' ? 'system' : (role as 'user' | 'system'),
          content: inputContent(item['content'], role === 'user'),
        });
        break;
      }
      case 'function_call': {
        const turn = current();
        const call: ChatToolCall = {
          id: String(item['call_id']),
          type: 'function',
          // A call made in a namespace goes back under the flattened name the model was offered.
          function: {
            name: flatToolName(String(item['name']), item['namespace']),
            arguments: String(item['arguments'] ?? ''),
          },
        };
        (turn.tool_calls ??= []).push(call);
        break;
      }
      case 'function_call_output': {
        flush();
        messages.push({
          role: 'tool',
          tool_call_id: String(item['call_id']),
          content: toolOutput(item['output']),
        });
        break;
      }
      case 'reasoning': {
        const payload = decodeReasoning(item['encrypted_content']);
        if (!payload || payload.model !== model) break;
        const turn = current();
        if (payload.text !== '')
          turn.reasoning_content = (turn.reasoning_content ?? '') + payload.text;
        if (payload.signature !== undefined) turn.reasoning_signature = payload.signature;
        break;
      }
      case 'compaction': {
        flush();
        const payload = decodeCompaction(item['encrypted_content']);
        if (!payload)
          throw invalidParam(
            `Compaction item ${String(item.id)} was not produced by Switchyard and cannot be read.`,
            'input',
          );
        messages.push({
          role: 'system',
          content: `Summary of the earlier conversation:\n${payload.summary}`,
        });
        break;
      }
      default:
        break;
    }
  }
  flush();
  return messages;
}

/**
 * Applies compaction: a compaction item stands in for everything before it except the user's
 * own messages, which are kept verbatim (the shape `POST /responses/compact` returns: user
 * messages, then the compaction item). Only the last compaction item counts.
 */
export function applyCompaction(items: Item[]): Item[] {
  let last = -1;
  for (let i = items.length - 1; i >= 0; i--) {
    if (items[i]!.type === 'compaction') {
      last = i;
      break;
    }
  }
  if (last <= 0) return items;
  return [...items.slice(0, last).filter(isUserMessage), ...items.slice(last)];
}

function hasAnswer(message: ChatMessage): boolean {
  return message.content != null || message.tool_calls !== undefined || message.refusal != null;
}

function inputContent(content: unknown, user: boolean): string | ChatContentPart[] {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  const parts: ChatContentPart[] = [];
  for (const part of content) {
    if (!isRecord(part)) continue;
    if (
      (part['type'] === 'input_text' || part['type'] === 'output_text') &&
      typeof part['text'] === 'string'
    )
      parts.push({ type: 'text', text: part['text'] });
    else if (part['type'] === 'input_image' && user) {
      const url = typeof part['image_url'] === 'string' ? part['image_url'] : undefined;
      if (url === undefined)
        throw invalidParam(
          'input_image parts need an image_url (file ids are not supported)',
          'input',
        );
      const detail = part['detail'];
      parts.push({
        type: 'image_url',
        image_url: {
          url,
          ...(detail === 'low' || detail === 'high' || detail === 'auto' ? { detail } : {}),
        },
      });
    } else if (part['type'] === 'input_file' && user) {
      if (typeof part['file_data'] !== 'string')
        throw invalidParam(
          'input_file parts need file_data (file ids and URLs are not supported)',
          'input',
        );
      parts.push({
        type: 'file',
        file: {
          file_data: part['file_data'],
          ...(typeof part['filename'] === 'string' ? { filename: part['filename'] } : {}),
        },
      });
    }
  }
  // Text-only content as one string: the form every provider (and local model) takes.
  if (parts.every((part) => part.type === 'text'))
    return parts.map((part) => part['text'] as string).join('\n');
  return parts;
}

function assistantText(content: unknown): { text?: string; refusal?: string } {
  if (typeof content === 'string') return { text: content };
  if (!Array.isArray(content)) return {};
  let text: string | undefined;
  let refusal: string | undefined;
  for (const part of content) {
    if (!isRecord(part)) continue;
    if (
      (part['type'] === 'output_text' || part['type'] === 'input_text') &&
      typeof part['text'] === 'string'
    )
      text = (text ?? '') + part['text'];
    else if (part['type'] === 'refusal' && typeof part['refusal'] === 'string')
      refusal = (refusal ?? '') + part['refusal'];
  }
  const out: { text?: string; refusal?: string } = {};
  if (text !== undefined) out.text = text;
  if (refusal !== undefined) out.refusal = refusal;
  return out;
}

function toolOutput(output: unknown): string {
  if (typeof output === 'string') return output;
  if (!Array.isArray(output)) return '';
  return output
    .filter(isRecord)
    .map((part) => (typeof part['text'] === 'string' ? part['text'] : ''))
    .filter((text) => text !== '')
    .join('\n');
}
