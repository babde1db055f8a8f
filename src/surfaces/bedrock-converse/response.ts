import type { ChatCompletion, ChatMessage, ChatUsage, FinishReason } from '../../core/chat.js';
import type {
  ConverseContentBlock,
  ConverseStopReason,
  ConverseTokenUsage,
} from '../../providers/bedrock/types.js';

/**
 * OpenAI `finish_reason` → Converse `stopReason`; a stop the provider attributed to a stop
 * sequence (choice extension `stop_sequence`, set by the Anthropic and Bedrock providers) stays
 * `stop_sequence`.
 */
export function stopReasonOf(
  finish: FinishReason | null | undefined,
  stopSequence?: unknown,
): ConverseStopReason {
  if (finish === 'tool_calls' || finish === 'function_call') return 'tool_use';
  if (finish === 'length') return 'max_tokens';
  if (finish === 'content_filter') return 'content_filtered';
  return typeof stopSequence === 'string' ? 'stop_sequence' : 'end_turn';
}

/**
 * OpenAI usage → Converse usage. OpenAI's `prompt_tokens` includes cached tokens; Bedrock's
 * `inputTokens` does not, so cache reads (and writes, when reported) are moved out of it.
 */
export function converseUsageOf(usage: ChatUsage | null | undefined): ConverseTokenUsage {
  const prompt = usage?.prompt_tokens ?? 0;
  const output = usage?.completion_tokens ?? 0;
  const cacheRead = Number(usage?.prompt_tokens_details?.cached_tokens ?? 0) || 0;
  const cacheWrite = Number(usage?.prompt_tokens_details?.['cache_write_tokens'] ?? 0) || 0;
  const out: ConverseTokenUsage = {
    inputTokens: Math.max(0, prompt - cacheRead - cacheWrite),
    outputTokens: output,
    totalTokens: prompt + output,
  };
  if (cacheRead > 0) out.cacheReadInputTokens = cacheRead;
  if (cacheWrite > 0) out.cacheWriteInputTokens = cacheWrite;
  // Switchyard's extension: the booked cost, USD, when the caller asked for it.
  if (typeof usage?.['cost'] === 'number') out['cost'] = usage['cost'];
  return out;
}

/** An assistant message → Converse content blocks (reasoning first, then text, then tool use). */
export function blocksOf(message: ChatMessage | undefined): ConverseContentBlock[] {
  const blocks: ConverseContentBlock[] = [];
  if (!message) return [{ text: '' }];
  if (message.reasoning_content) {
    const reasoningText: { text: string; signature?: string } = { text: message.reasoning_content };
    if (message.reasoning_signature) reasoningText.signature = message.reasoning_signature;
    blocks.push({ reasoningContent: { reasoningText } });
  }
  const redacted = message['reasoning_redacted'];
  if (typeof redacted === 'string')
    blocks.push({ reasoningContent: { redactedContent: redacted } });
  const text =
    typeof message.content === 'string'
      ? message.content
      : (message.content ?? [])
          .flatMap((part) =>
            part.type === 'text' && typeof part['text'] === 'string' ? [part['text']] : [],
          )
          .join('');
  if (text) blocks.push({ text });
  else if (message.refusal) blocks.push({ text: message.refusal });
  for (const call of message.tool_calls ?? []) {
    blocks.push({
      toolUse: {
        toolUseId: call.id,
        name: call.function.name,
        input: parseArguments(call.function.arguments),
      },
    });
  }
  if (blocks.length === 0) blocks.push({ text: '' });
  return blocks;
}

/** A ChatCompletion → the Converse response body. */
export function converseResponseOf(
  completion: ChatCompletion,
  latencyMs: number,
): Record<string, unknown> {
  const choice = completion.choices[0];
  return {
    output: { message: { role: 'assistant', content: blocksOf(choice?.message) } },
    stopReason: stopReasonOf(choice?.finish_reason, choice?.['stop_sequence']),
    usage: converseUsageOf(completion.usage),
    metrics: { latencyMs },
  };
}

/** Tool arguments are a JSON string in OpenAI and a JSON document in Converse. */
export function parseArguments(text: string | undefined): unknown {
  if (!text) return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    // Malformed arguments (a truncated call): keep them visible rather than dropping them.
    return { _raw: text };
  }
}
