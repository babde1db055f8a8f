import type { ChatContentPart, ChatMessage } from '../../core/chat.js';
import { invalidRequest } from '../../errors/index.js';
import type { ConverseContentBlock, ConverseSystemBlock } from './types.js';

/**
 * Content mapping between OpenAI message content and Converse content blocks, both ways.
 * Images travel as base64 bytes (`data:` URLs) or S3 locations (`s3://` URLs); Bedrock cannot
 * fetch `http(s)` URLs, so those are rejected.
 */

const IMAGE_FORMATS: Record<string, string> = {
  png: 'png',
  jpeg: 'jpeg',
  jpg: 'jpeg',
  gif: 'gif',
  webp: 'webp',
};
const DOCUMENT_FORMATS: Record<string, string> = {
  'application/pdf': 'pdf',
  'text/csv': 'csv',
  'application/msword': 'doc',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document': 'docx',
  'application/vnd.ms-excel': 'xls',
  'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet': 'xlsx',
  'text/html': 'html',
  'text/plain': 'txt',
  'text/markdown': 'md',
};
const DATA_URL = /^data:([^;,]+)(?:;[^,]*)?;base64,(.*)$/s;

/** OpenAI content (string or parts) → Converse blocks. Empty text is dropped (Bedrock rejects it). */
export function toContentBlocks(
  content: ChatMessage['content'],
  param: string,
): ConverseContentBlock[] {
  if (content === undefined || content === null) return [];
  if (typeof content === 'string') return content === '' ? [] : [{ text: content }];
  const blocks: ConverseContentBlock[] = [];
  content.forEach((part, i) => {
    const block = toBlock(part, `${param}[${i}]`);
    if (block) blocks.push(block);
    // Anthropic-style cache hint on a part → a Converse cache point after it.
    if (part['cache_control'] !== undefined && part['cache_control'] !== null)
      blocks.push({ cachePoint: { type: 'default' } });
  });
  return blocks;
}

function toBlock(part: ChatContentPart, param: string): ConverseContentBlock | undefined {
  if (part.type === 'text') {
    const text = part['text'];
    return typeof text === 'string' && text !== '' ? { text } : undefined;
  }
  if (part.type === 'image_url') {
    const url = (part['image_url'] as { url?: unknown } | undefined)?.url;
    if (typeof url !== 'string') throw invalidRequest('image_url.url is required', param);
    if (url.startsWith('s3://')) {
      const extension = /\.([a-z]+)$/i.exec(url)?.[1]?.toLowerCase() ?? '';
      return {
        image: { format: IMAGE_FORMATS[extension] ?? 'png', source: { s3Location: { uri: url } } },
      };
    }
    const match = DATA_URL.exec(url);
    const format = match
      ? IMAGE_FORMATS[(match[1] ?? '').replace(/^image\//, '').toLowerCase()]
      : undefined;
    if (!match || format === undefined) {
      throw invalidRequest(
        'Bedrock accepts images only as base64 data: URLs (png, jpeg, gif, webp) or s3:// URLs',
        param,
        'unsupported_parameter',
      );
    }
    return { image: { format, source: { bytes: match[2] ?? '' } } };
  }
  if (part.type === 'file') {
    const file = (part['file'] ?? {}) as { file_data?: unknown; filename?: unknown };
    const match = typeof file.file_data === 'string' ? DATA_URL.exec(file.file_data) : null;
    const format = match ? DOCUMENT_FORMATS[(match[1] ?? '').toLowerCase()] : undefined;
    if (!match || format === undefined)
      throw invalidRequest(
        'Bedrock accepts files only as base64 file_data of a document type',
        param,
        'unsupported_parameter',
      );
    // Document names allow letters, digits, single spaces, hyphens, parentheses and brackets.
    const name =
      String(file.filename ?? 'document')
        .replace(/\.[^.]*$/, '')
        .replace(/[^\w\s()[\]-]+/g, '-')
        .replace(/\s+/g, ' ')
        .slice(0, 200) || 'document';
    return { document: { format, name, source: { bytes: match[2] ?? '' } } };
  }
  throw invalidRequest(
    `Bedrock does not support content parts of type '${part.type}'`,
    param,
    'unsupported_parameter',
  );
}

/** A system or developer message → system blocks (text only). */
export function toSystemBlocks(message: ChatMessage, index: number): ConverseSystemBlock[] {
  return toContentBlocks(message.content, `messages[${index}].content`).map((block) => {
    if (block.text === undefined && block.cachePoint === undefined) {
      throw invalidRequest(
        'System messages may hold only text',
        `messages[${index}].content`,
        'unsupported_parameter',
      );
    }
    return block.text === undefined ? { cachePoint: block.cachePoint! } : { text: block.text };
  });
}

/** A `tool` message → a toolResult block (id preserved). */
export function toolResultBlock(message: ChatMessage, index: number): ConverseContentBlock {
  if (typeof message.tool_call_id !== 'string')
    throw invalidRequest('tool messages need tool_call_id', `messages[${index}].tool_call_id`);
  const blocks = toContentBlocks(message.content, `messages[${index}].content`).filter(
    (b) => b.cachePoint === undefined,
  );
  const content =
    blocks.length > 0
      ? blocks.map((b) =>
          b.text !== undefined
            ? { text: b.text }
            : b.image
              ? { image: b.image }
              : { document: b.document },
        )
      : [{ text: '' }];
  const block: ConverseContentBlock = { toolResult: { toolUseId: message.tool_call_id, content } };
  if (message['is_error'] === true || message['status'] === 'error')
    block.toolResult!.status = 'error';
  return block;
}

/** Converse blocks → OpenAI content: a plain string for one text block, else parts (images as data: URLs). */
export function fromContentBlocks(blocks: ConverseContentBlock[]): string | ChatContentPart[] {
  const parts: ChatContentPart[] = [];
  for (const block of blocks) {
    if (block.text !== undefined) parts.push({ type: 'text', text: block.text });
    else if (block.image?.source.bytes !== undefined) {
      parts.push({
        type: 'image_url',
        image_url: { url: `data:image/${block.image.format};base64,${block.image.source.bytes}` },
      });
    } else if (block.image?.source.s3Location)
      parts.push({ type: 'image_url', image_url: { url: block.image.source.s3Location.uri } });
    else if (block.document) {
      const document = block.document as {
        format?: string;
        name?: string;
        source?: { bytes?: string };
      };
      const mime =
        Object.entries(DOCUMENT_FORMATS).find(([, f]) => f === document.format)?.[0] ??
        'application/octet-stream';
      parts.push({
        type: 'file',
        file: {
          filename: `${document.name ?? 'document'}.${document.format ?? 'bin'}`,
          file_data: `data:${mime};base64,${document.source?.bytes ?? ''}`,
        },
      });
    } else if (block.cachePoint !== undefined) {
      const last = parts.at(-1);
      if (last) last['cache_control'] = { type: 'ephemeral' };
    }
  }
  if (parts.length === 0) return '';
  const only = parts.length === 1 ? parts[0] : undefined;
  return only?.type === 'text' && only['cache_control'] === undefined
    ? (only['text'] as string)
    : parts;
}
