import type {
  ChatChunkChoice,
  ChatCompletionChunk,
  ChatDelta,
  ChatUsage,
} from '../../core/chat.js';
import { UpstreamError } from '../../errors/index.js';
import { itemOf } from '../adapter.js';
import type { StreamItem, UpstreamFrame } from '../adapter.js';
import { classifyGoogleError, retryDelayMs } from './errors.js';
import {
  assertNotBlocked,
  asResponse,
  candidateParts,
  toChatUsage,
  toFinishReason,
  toToolCall,
} from './response.js';
import type { ResponseContext } from './response.js';
import { tagReasoningSignature } from './signatures.js';
import type { GenerateContentResponse, GoogleErrorBody } from './types.js';

/**
 * `streamGenerateContent?alt=sse` events (each `data:` a GenerateContentResponse; no `[DONE]`,
 * the stream ends when the connection closes) → OpenAI `chat.completion.chunk`s, per candidate:
 * 1. `{role:'assistant', content:''}` first;
 * 2. one chunk per part: `content`, `reasoning_content` (thought parts), `reasoning_signature`
 *    (a signature on a text or thought part), or a whole tool call (`index`, `id`, `type`,
 *    `function.name`, `function.arguments`) since Gemini streams calls whole;
 * 3. `{delta:{}, finish_reason}` when the candidate reports its finishReason;
 * then one usage-only chunk (`choices: []`) built from the last `usageMetadata`.
 * An `{"error":…}` event, a blocked prompt, or a stream that ends before every candidate
 * finished throws a GatewayError (the surface turns it into an SSE error frame).
 */
export async function* mapGeminiStream(
  frames: AsyncIterable<UpstreamFrame>,
  context: ResponseContext,
): AsyncGenerator<StreamItem> {
  const states = new Map<number, { toolCalls: number; finished: boolean }>();
  let usage: ChatUsage | undefined;
  let head: { id: string; responseId: string; model: string } | undefined;

  for await (const frame of frames) {
    const data = frame.data.trim();
    if (data === '' || data === '[DONE]') continue;
    const response = parseEvent(data, context);
    if (response['error'] !== null && typeof response['error'] === 'object') {
      const body = response as unknown as GoogleErrorBody;
      const status = typeof body.error.code === 'number' ? body.error.code : 500;
      throw classifyGoogleError(body.error, status, context.provider, {
        body: data,
        retryAfterMs: retryDelayMs(body),
      });
    }
    assertNotBlocked(response, context);
    if (!head) {
      const responseId = response.responseId ?? context.requestId;
      head = {
        id: `chatcmpl-${responseId}`,
        responseId,
        model: response.modelVersion ?? context.model,
      };
    }
    const chunk = (choice: ChatChunkChoice): StreamItem =>
      itemOf({
        id: head!.id,
        object: 'chat.completion.chunk',
        created: context.created,
        model: head!.model,
        choices: [choice],
      });

    for (const [position, candidate] of (response.candidates ?? []).entries()) {
      const index = candidate.index ?? position;
      let state = states.get(index);
      if (!state) {
        state = { toolCalls: 0, finished: false };
        states.set(index, state);
        yield chunk({ index, delta: { role: 'assistant', content: '' }, finish_reason: null });
      }
      for (const part of candidateParts(candidate)) {
        const delta: ChatDelta = {};
        if (part.functionCall) {
          const ordinal = state.toolCalls++;
          const call = toToolCall(part, { responseId: head.responseId, candidate: index, ordinal });
          delta.tool_calls = [{ index: ordinal, ...call }];
        } else {
          if (part.text !== undefined && part.text !== '') {
            if (part.thought) delta.reasoning_content = part.text;
            else delta.content = part.text;
          }
          if (part.thoughtSignature)
            delta.reasoning_signature = tagReasoningSignature(part.thoughtSignature);
        }
        if (Object.keys(delta).length > 0) yield chunk({ index, delta, finish_reason: null });
      }
      if (candidate.finishReason) {
        state.finished = true;
        yield chunk({
          index,
          delta: {},
          finish_reason: toFinishReason(candidate.finishReason, state.toolCalls > 0),
        });
      }
    }
    if (response.usageMetadata) usage = toChatUsage(response.usageMetadata);
  }

  if (!head || states.size === 0 || [...states.values()].some((state) => !state.finished)) {
    throw new UpstreamError(`Upstream ${context.provider} stream ended before a finishReason`, {
      code: 'upstream_bad_response',
      status: 502,
      errorClass: 'bad_response',
      provider: context.provider,
    });
  }
  if (usage) {
    const last: ChatCompletionChunk = {
      id: head.id,
      object: 'chat.completion.chunk',
      created: context.created,
      model: head.model,
      choices: [],
      usage,
    };
    yield itemOf(last);
  }
}

function parseEvent(data: string, context: ResponseContext): GenerateContentResponse {
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch (cause) {
    throw new UpstreamError(`Upstream ${context.provider} sent an event that is not JSON`, {
      code: 'upstream_bad_response',
      status: 502,
      errorClass: 'bad_response',
      provider: context.provider,
      cause,
    });
  }
  // The non-SSE array stream wraps errors as `[{"error":…}]`.
  return asResponse(Array.isArray(json) && json.length === 1 ? json[0] : json, context);
}
