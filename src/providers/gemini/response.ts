import type {
  ChatChoice,
  ChatCompletion,
  ChatToolCall,
  ChatUsage,
  FinishReason,
} from '../../core/chat.js';
import { UpstreamError } from '../../errors/index.js';
import { encodeToolCallId, tagReasoningSignature } from './signatures.js';
import type {
  GeminiCandidate,
  GeminiPart,
  GeminiUsageMetadata,
  GenerateContentResponse,
} from './types.js';
import { merged } from '../../core/objects.js';

/**
 * Gemini `GenerateContentResponse` → OpenAI `chat.completion`:
 * - each candidate → one choice; text parts → `content`, `thought: true` parts →
 *   `reasoning_content`, `functionCall` parts → `tool_calls` (arguments = JSON.stringify(args),
 *   id carrying the thought signature, see signatures.ts); a signature on a text or thought
 *   part → `reasoning_signature` (tagged `gemini:`);
 * - finishReason: STOP → stop (tool_calls when the candidate called a function), MAX_TOKENS →
 *   length, safety/recitation/blocklist family → content_filter, anything else → stop;
 * - `promptFeedback.blockReason` without candidates → content_filter error (HTTP 200 upstream);
 * - usageMetadata → usage (see {@link toChatUsage}).
 */

/** What every mapping needs besides the upstream JSON. */
export interface ResponseContext {
  /** Provider id, for errors. */
  provider: string;
  /** Fallback for `responseId` (stable tool call ids need one) and the completion id. */
  requestId: string;
  /** Fallback for `modelVersion`. */
  model: string;
  /** Epoch seconds for `created`. */
  created: number;
}

const CONTENT_FILTER = new Set([
  'SAFETY',
  'RECITATION',
  'BLOCKLIST',
  'PROHIBITED_CONTENT',
  'SPII',
  'IMAGE_SAFETY',
  'IMAGE_PROHIBITED_CONTENT',
  'IMAGE_RECITATION',
]);

/** Maps a Gemini finishReason; `calledTools` turns STOP into `tool_calls`. */
export function toFinishReason(reason: string, calledTools: boolean): FinishReason {
  if (reason === 'MAX_TOKENS') return 'length';
  if (CONTENT_FILTER.has(reason)) return 'content_filter';
  return calledTools ? 'tool_calls' : 'stop';
}

/**
 * usageMetadata → OpenAI usage. prompt = promptTokenCount (includes cached) + toolUsePromptTokenCount;
 * completion = candidates + thoughts (candidatesTokenCount excludes thoughts); reasoning = thoughts.
 */
export function toChatUsage(usage: GeminiUsageMetadata): ChatUsage {
  const prompt = count(usage.promptTokenCount) + count(usage.toolUsePromptTokenCount);
  const thoughts = count(usage.thoughtsTokenCount);
  const completion = count(usage.candidatesTokenCount) + thoughts;
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: count(usage.cachedContentTokenCount) },
    completion_tokens_details: { reasoning_tokens: thoughts },
  };
}

/** Throws the content_filter error for a blocked prompt (no candidates, `promptFeedback.blockReason`). */
export function assertNotBlocked(
  response: GenerateContentResponse,
  context: ResponseContext,
): void {
  const reason = response.promptFeedback?.blockReason;
  if (reason === undefined || (response.candidates?.length ?? 0) > 0) return;
  const detail = response.promptFeedback?.blockReasonMessage;
  throw new UpstreamError(`Gemini blocked the prompt (${reason})${detail ? `: ${detail}` : ''}`, {
    code: 'content_filter',
    status: 400,
    errorClass: 'content_policy',
    retryable: false,
    failover: false,
    provider: context.provider,
    upstreamStatus: 200,
    upstreamBody: JSON.stringify(response.promptFeedback),
  });
}

/** Maps a whole `generateContent` answer. */
export function toChatCompletion(json: unknown, context: ResponseContext): ChatCompletion {
  const response = asResponse(json, context);
  assertNotBlocked(response, context);
  const responseId = response.responseId ?? context.requestId;
  const choices = (response.candidates ?? []).map((candidate, position): ChatChoice => {
    const index = candidate.index ?? position;
    const parts = candidateParts(candidate);
    const text = parts
      .filter((part) => part.text !== undefined && !part.thought)
      .map((part) => part.text)
      .join('');
    const reasoning = parts
      .filter((part) => part.thought && part.text !== undefined)
      .map((part) => part.text)
      .join('');
    const signature = parts.findLast(
      (part) => !part.functionCall && part.thoughtSignature,
    )?.thoughtSignature;
    const toolCalls = parts
      .filter((part) => part.functionCall)
      .map((part, ordinal) => toToolCall(part, { responseId, candidate: index, ordinal }));
    const message: ChatChoice['message'] = {
      role: 'assistant',
      content: text === '' && toolCalls.length > 0 ? null : text,
    };
    if (reasoning !== '') message.reasoning_content = reasoning;
    if (signature) message.reasoning_signature = tagReasoningSignature(signature);
    if (toolCalls.length > 0) message.tool_calls = toolCalls;
    return {
      index,
      message,
      finish_reason: toFinishReason(candidate.finishReason ?? 'STOP', toolCalls.length > 0),
      logprobs: null,
    };
  });
  const completion: ChatCompletion = {
    id: `chatcmpl-${responseId}`,
    object: 'chat.completion',
    created: context.created,
    model: response.modelVersion ?? context.model,
    choices,
  };
  if (response.usageMetadata) completion.usage = toChatUsage(response.usageMetadata);
  return completion;
}

/** One functionCall part → an OpenAI tool call whose id carries signature and Gemini id. */
export function toToolCall(
  part: GeminiPart,
  where: { responseId: string; candidate: number; ordinal: number },
): ChatToolCall {
  const call = part.functionCall!;
  const args = JSON.stringify(call.args ?? {});
  const id = encodeToolCallId(
    { signature: part.thoughtSignature, geminiId: call.id },
    merged(where, { name: call.name, args }),
  );
  return { id, type: 'function', function: { name: call.name, arguments: args } };
}

/** The parts of a candidate (none when it was cut off before any). */
export function candidateParts(candidate: GeminiCandidate): GeminiPart[] {
  return Array.isArray(candidate.content?.parts) ? candidate.content.parts : [];
}

/** Narrows upstream JSON to a response object; anything else is a bad upstream answer. */
export function asResponse(json: unknown, context: ResponseContext): GenerateContentResponse {
  if (json !== null && typeof json === 'object' && !Array.isArray(json))
    return json as GenerateContentResponse;
  throw new UpstreamError('Gemini returned a body that is not a GenerateContentResponse', {
    code: 'upstream_bad_response',
    status: 502,
    errorClass: 'bad_response',
    provider: context.provider,
  });
}

function count(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? Math.floor(value) : 0;
}
