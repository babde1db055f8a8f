import type {
  ChatCompletion,
  ChatMessage,
  ChatToolCall,
  ChatUsage,
  FinishReason,
} from '../../core/chat.js';
import { GatewayError } from '../../errors/index.js';
import type {
  ConverseContentBlock,
  ConverseResponse,
  ConverseStopReason,
  ConverseTokenUsage,
} from './types.js';

/** Converse `stopReason` → OpenAI `finish_reason`. Unknown reasons become `stop`. */
export function finishReasonOf(stopReason: ConverseStopReason | string | undefined): FinishReason {
  switch (stopReason) {
    case 'tool_use':
      return 'tool_calls';
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'guardrail_intervened':
    case 'content_filtered':
      return 'content_filter';
    default:
      // end_turn, stop_sequence, malformed_model_output, malformed_tool_use
      return 'stop';
  }
}

/**
 * Converse usage → OpenAI usage. Bedrock's `inputTokens` excludes cache reads and writes
 * (Anthropic-style), so `prompt_tokens` = input + cacheRead + cacheWrite, and
 * `prompt_tokens_details.cached_tokens` = cacheRead.
 */
export function usageOf(usage: ConverseTokenUsage | undefined): ChatUsage | undefined {
  if (!usage || typeof usage !== 'object') return undefined;
  const cacheRead = count(usage.cacheReadInputTokens);
  const cacheWrite = count(usage.cacheWriteInputTokens);
  const prompt = count(usage.inputTokens) + cacheRead + cacheWrite;
  const completion = count(usage.outputTokens);
  const details: NonNullable<ChatUsage['prompt_tokens_details']> = { cached_tokens: cacheRead };
  if (cacheWrite > 0) details['cache_write_tokens'] = cacheWrite;
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    prompt_tokens_details: details,
  };
}

/** Assistant Converse blocks → an OpenAI assistant message (tool ids kept, reasoning as extensions). */
export function messageOf(
  blocks: ConverseContentBlock[],
  jsonTool?: string,
): ChatMessage & { role: 'assistant' } {
  let text = '';
  let reasoning = '';
  let signature: string | undefined;
  let redacted: string | undefined;
  const toolCalls: ChatToolCall[] = [];
  for (const block of blocks) {
    if (typeof block.text === 'string') text += block.text;
    else if (block.toolUse && block.toolUse.name === jsonTool)
      text += JSON.stringify(block.toolUse.input ?? {});
    else if (block.toolUse) {
      toolCalls.push({
        id: block.toolUse.toolUseId,
        type: 'function',
        function: {
          name: block.toolUse.name,
          arguments: JSON.stringify(block.toolUse.input ?? {}),
        },
      });
    } else if (block.reasoningContent?.reasoningText) {
      reasoning += block.reasoningContent.reasoningText.text;
      signature = block.reasoningContent.reasoningText.signature ?? signature;
    } else if (block.reasoningContent?.redactedContent !== undefined)
      redacted = block.reasoningContent.redactedContent;
  }
  const message: ChatMessage & { role: 'assistant' } = {
    role: 'assistant',
    content: toolCalls.length > 0 && text === '' ? null : text,
  };
  if (toolCalls.length > 0) message.tool_calls = toolCalls;
  if (reasoning) message.reasoning_content = reasoning;
  if (signature) message.reasoning_signature = signature;
  if (redacted !== undefined) message['reasoning_redacted'] = redacted;
  return message;
}

/**
 * The stop sequence that ended a `stop_sequence` answer, kept on the choice (extension
 * `stop_sequence`, as the Anthropic provider does) so surfaces can report it. Claude on Bedrock
 * names it in `additionalModelResponseFields.stop_sequence`; otherwise, with a single sequence
 * asked for, it was that one; else it is unknown (empty).
 */
export function stopSequenceOf(
  stopReason: unknown,
  fields: unknown,
  asked: string | string[] | null | undefined,
): { stop_sequence?: string } {
  if (stopReason !== 'stop_sequence') return {};
  const named = (fields as { stop_sequence?: unknown } | null | undefined)?.stop_sequence;
  if (typeof named === 'string') return { stop_sequence: named };
  if (typeof asked === 'string') return { stop_sequence: asked };
  if (Array.isArray(asked) && asked.length === 1) return { stop_sequence: String(asked[0]) };
  return { stop_sequence: '' };
}

/** Maps a Converse response to a ChatCompletion. Throws `upstream_bad_response` on a malformed answer. */
export function parseConverseResponse(
  json: unknown,
  meta: {
    id: string;
    model: string;
    created: number;
    provider: string;
    jsonTool?: string | undefined;
    stop?: string | string[] | null | undefined;
  },
): ChatCompletion {
  const response = json as ConverseResponse;
  const blocks = response?.output?.message?.content;
  if (!response || typeof response !== 'object' || !Array.isArray(blocks)) {
    throw new GatewayError(
      `Upstream ${meta.provider} answered with something that is not a Converse response`,
      {
        code: 'upstream_bad_response',
        status: 502,
        errorClass: 'bad_response',
      },
    );
  }
  const message = messageOf(blocks, meta.jsonTool);
  let finish = finishReasonOf(response.stopReason);
  // A forced structured-output tool is an answer, not a tool call.
  if (meta.jsonTool !== undefined && finish === 'tool_calls' && !message.tool_calls)
    finish = 'stop';
  const completion: ChatCompletion = {
    id: meta.id,
    object: 'chat.completion',
    created: meta.created,
    model: meta.model,
    choices: [
      {
        index: 0,
        message,
        finish_reason: finish,
        logprobs: null,
        ...stopSequenceOf(response.stopReason, response.additionalModelResponseFields, meta.stop),
      },
    ],
  };
  const usage = usageOf(response.usage);
  if (usage) completion.usage = usage;
  if (response.additionalModelResponseFields !== undefined)
    completion['additional_model_response_fields'] = response.additionalModelResponseFields;
  // The tier Bedrock says it served the request on (Smithy `ConverseResponse.serviceTier`).
  const tier = (response as { serviceTier?: { type?: unknown } }).serviceTier?.type;
  if (typeof tier === 'string') completion.service_tier = tier;
  return completion;
}

function count(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? Math.floor(value) : 0;
}
