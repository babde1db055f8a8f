import type { ChatContentPart, ChatMessage } from '../../core/chat.js';
import { invalidRequest } from '../../errors/index.js';
import { decodeToolCallId, untagReasoningSignature } from './signatures.js';
import type { GeminiContent, GeminiPart } from './types.js';

/**
 * Maps OpenAI chat messages to Gemini `systemInstruction` + `contents`:
 * - `system` / `developer` messages (wherever they are) → `systemInstruction.parts`, in order;
 * - `user` → role `user` with text / inlineData (data: URLs) / fileData (http(s) and gs:// URLs);
 * - `assistant` → role `model`: text, then `functionCall` parts whose `thoughtSignature` and
 *   Gemini call id are decoded from the tool call id (see signatures.ts); a `gemini:`-tagged
 *   `reasoning_signature` goes back on the last text part (other providers' are not sent). `reasoning_content` is not sent: Gemini takes no thought
 *   text as input, the signatures carry its reasoning state;
 * - `tool` → `functionResponse` in a `user` turn, named after the assistant call it answers;
 * - consecutive turns of one role are merged (parallel calls need all responses in one turn).
 */

/** The sentinel Gemini 3 accepts for a function call whose signature was never issued (failover). */
export const SKIP_SIGNATURE = 'skip_thought_signature_validator';

/** Options for {@link toGeminiContents}. */
export interface ContentsOptions {
  /** Put {@link SKIP_SIGNATURE} on unsigned function calls (Gemini 3+ models). */
  fillMissingSignatures: boolean;
}

/** The mapped conversation. */
export interface MappedContents {
  systemInstruction?: { parts: GeminiPart[] };
  contents: GeminiContent[];
}

/** Maps `messages`; throws `invalidRequest` naming the offending field. */
export function toGeminiContents(
  messages: ChatMessage[],
  options: ContentsOptions,
): MappedContents {
  const toolNames = new Map<string, string>();
  for (const message of messages) {
    for (const call of message.tool_calls ?? []) toolNames.set(call.id, call.function.name);
  }
  const system: GeminiPart[] = [];
  const contents: GeminiContent[] = [];
  const push = (role: GeminiContent['role'], parts: GeminiPart[]): void => {
    if (parts.length === 0) return;
    const last = contents.at(-1);
    if (last?.role === role) last.parts.push(...parts);
    else contents.push({ role, parts });
  };
  messages.forEach((message, i) => {
    const param = `messages[${i}]`;
    switch (message.role) {
      case 'system':
      case 'developer':
        system.push(...userParts(message.content, param).map((part) => requireText(part, param)));
        break;
      case 'user':
        push('user', userParts(message.content, param));
        break;
      case 'assistant':
        push('model', modelParts(message, param, options));
        break;
      case 'tool':
        push('user', [functionResponse(message, param, toolNames)]);
        break;
      default:
        throw invalidRequest(`Unknown message role "${String(message.role)}"`, `${param}.role`);
    }
  });
  if (contents.length === 0)
    throw invalidRequest('Gemini needs at least one user or assistant message', 'messages');
  return system.length > 0 ? { systemInstruction: { parts: system }, contents } : { contents };
}

function userParts(content: ChatMessage['content'], param: string): GeminiPart[] {
  if (content == null) return [];
  if (typeof content === 'string') return content === '' ? [] : [{ text: content }];
  return content.map((part, j) => contentPart(part, `${param}.content[${j}]`));
}

function contentPart(part: ChatContentPart, param: string): GeminiPart {
  switch (part.type) {
    case 'text':
      return { text: String(part['text'] ?? '') };
    case 'image_url': {
      const url = (part['image_url'] as { url?: unknown } | undefined)?.url;
      if (typeof url !== 'string')
        throw invalidRequest('image_url.url must be a string', `${param}.image_url.url`);
      return urlPart(url, 'image/jpeg', `${param}.image_url.url`);
    }
    case 'input_audio': {
      const audio = part['input_audio'] as { data?: unknown; format?: unknown } | undefined;
      if (typeof audio?.data !== 'string')
        throw invalidRequest('input_audio.data must be base64', `${param}.input_audio`);
      return {
        inlineData: { mimeType: `audio/${String(audio.format ?? 'wav')}`, data: audio.data },
      };
    }
    case 'file': {
      const file = part['file'] as
        | { file_data?: unknown; file_id?: unknown; filename?: unknown }
        | undefined;
      if (typeof file?.file_data === 'string')
        return urlPart(file.file_data, 'application/pdf', `${param}.file.file_data`);
      if (typeof file?.file_id === 'string' && /^(https?|gs):\/\//.test(file.file_id)) {
        return {
          fileData: {
            mimeType: guessMime(file.file_id, String(file.filename ?? '')),
            fileUri: file.file_id,
          },
        };
      }
      throw invalidRequest(
        'Gemini takes files as file_data (data: URL) or a Gemini/GCS file URI',
        `${param}.file`,
        'unsupported_parameter',
      );
    }
    default:
      throw invalidRequest(
        `Content part type "${part.type}" is not supported by Gemini`,
        `${param}.type`,
        'unsupported_parameter',
      );
  }
}

/** data: URL → inlineData; http(s)/gs:// → fileData. */
function urlPart(url: string, fallbackMime: string, param: string): GeminiPart {
  const data = /^data:([^;,]*)((?:;[^;,]*)*),(.*)$/s.exec(url);
  if (data) {
    const mimeType = data[1] || fallbackMime;
    const isBase64 = (data[2] ?? '').split(';').includes('base64');
    const payload = data[3] ?? '';
    return {
      inlineData: {
        mimeType,
        data: isBase64 ? payload : Buffer.from(decodeURIComponent(payload)).toString('base64'),
      },
    };
  }
  if (/^(https?|gs):\/\//.test(url))
    return { fileData: { mimeType: guessMime(url, '') || fallbackMime, fileUri: url } };
  throw invalidRequest('Expected a data: URL or an http(s)/gs:// URL', param);
}

const MIME: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  heic: 'image/heic',
  heif: 'image/heif',
  pdf: 'application/pdf',
  txt: 'text/plain',
  mp3: 'audio/mp3',
  wav: 'audio/wav',
  mp4: 'video/mp4',
};

function guessMime(url: string, filename: string): string {
  const path = filename || url.split(/[?#]/)[0] || '';
  const extension = /\.([a-z0-9]+)$/i.exec(path)?.[1]?.toLowerCase();
  return (extension && MIME[extension]) || '';
}

function requireText(part: GeminiPart, param: string): GeminiPart {
  if (part.text === undefined)
    throw invalidRequest('System messages may only hold text', `${param}.content`);
  return part;
}

function modelParts(message: ChatMessage, param: string, options: ContentsOptions): GeminiPart[] {
  const parts = userParts(message.content, param);
  if (parts.length === 0 && typeof message.refusal === 'string' && message.refusal !== '')
    parts.push({ text: message.refusal });
  const lastText = parts.findLast((part) => part.text !== undefined);
  const textSignature = untagReasoningSignature(message.reasoning_signature);
  if (textSignature && lastText) lastText.thoughtSignature = textSignature;
  let signed = false;
  (message.tool_calls ?? []).forEach((call, j) => {
    const callParam = `${param}.tool_calls[${j}]`;
    if (call.type !== 'function')
      throw invalidRequest(
        'Only function tool calls are supported',
        `${callParam}.type`,
        'unsupported_parameter',
      );
    const args = parseArguments(call.function.arguments, `${callParam}.function.arguments`);
    const { signature, geminiId } = decodeToolCallId(call.id);
    const part: GeminiPart = {
      functionCall: geminiId
        ? { name: call.function.name, args, id: geminiId }
        : { name: call.function.name, args },
    };
    // Gemini 3 validates the signature on the first function call of a turn only.
    const thoughtSignature =
      signature ?? (!signed && options.fillMissingSignatures ? SKIP_SIGNATURE : undefined);
    if (thoughtSignature) part.thoughtSignature = thoughtSignature;
    signed = true;
    parts.push(part);
  });
  return parts;
}

function parseArguments(text: string, param: string): Record<string, unknown> {
  if (text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalidRequest('Tool call arguments are not valid JSON', param);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw invalidRequest('Tool call arguments must be a JSON object for Gemini', param);
  }
  return value as Record<string, unknown>;
}

function functionResponse(
  message: ChatMessage,
  param: string,
  toolNames: Map<string, string>,
): GeminiPart {
  const id = message.tool_call_id;
  const name = (id === undefined ? undefined : toolNames.get(id)) ?? message.name;
  if (name === undefined) {
    throw invalidRequest(
      `No assistant tool call with id "${String(id)}" precedes this tool message`,
      `${param}.tool_call_id`,
    );
  }
  const text =
    typeof message.content === 'string'
      ? message.content
      : (message.content ?? [])
          .map((part) => (part.type === 'text' ? String(part['text'] ?? '') : ''))
          .join('');
  const geminiId = id === undefined ? undefined : decodeToolCallId(id).geminiId;
  // Gemini's documented shape for a failed call is `{error: …}` rather than `{output: …}`.
  const response = message['is_error'] === true ? { error: text } : responseObject(text);
  return { functionResponse: geminiId ? { name, response, id: geminiId } : { name, response } };
}

/** A JSON object result is sent as is; anything else is wrapped as `{ result }`. */
function responseObject(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    if (value !== null && typeof value === 'object' && !Array.isArray(value))
      return value as Record<string, unknown>;
    return { result: value };
  } catch {
    return { result: text };
  }
}
