import { createHash } from 'node:crypto';
import type { ConverseContentBlock } from '../providers/bedrock/types.js';
import { type EmulatedOutput, tokenize } from './model.js';

/**
 * {@link EmulatedOutput} → Bedrock answers for the sandbox Bedrock emulator: the Converse JSON
 * body, the ConverseStream events in wire order with their padding, and the reasoning signature.
 */

/** The signature the emulator puts on (and expects back with) a reasoning block. */
export function reasoningSignature(text: string): string {
  return createHash('sha256').update(`bedrock-sandbox-reasoning\n${text}`).digest('base64');
}

const STOP_REASONS: Record<EmulatedOutput['finishReason'], string> = {
  stop: 'end_turn',
  length: 'max_tokens',
  tool_calls: 'tool_use',
};

function toolUseId(id: string): string {
  return `tooluse_${id.replace(/^call_/, '')}`;
}

function usageOf(output: EmulatedOutput): Record<string, number> {
  const { inputTokens, cachedInputTokens, outputTokens } = output.usage;
  // Bedrock's inputTokens excludes cache reads (bedrock.md §4).
  const usage: Record<string, number> = {
    inputTokens: inputTokens - cachedInputTokens,
    outputTokens,
    totalTokens: inputTokens + outputTokens,
  };
  if (cachedInputTokens > 0)
    Object.assign(usage, { cacheReadInputTokens: cachedInputTokens, cacheWriteInputTokens: 0 });
  return usage;
}

/** The Converse answer (`output.message`, `stopReason`, `usage`, `metrics`) for the emulated output. */
export function converseResponse(output: EmulatedOutput): Record<string, unknown> {
  const content: ConverseContentBlock[] = [];
  if (output.reasoning !== undefined)
    content.push({
      reasoningContent: {
        reasoningText: { text: output.reasoning, signature: reasoningSignature(output.reasoning) },
      },
    });
  if (output.text !== '' || output.toolCalls.length === 0) content.push({ text: output.text });
  for (const call of output.toolCalls)
    content.push({
      toolUse: {
        toolUseId: toolUseId(call.id),
        name: call.name,
        input: JSON.parse(call.arguments) as unknown,
      },
    });
  return {
    output: { message: { role: 'assistant', content } },
    stopReason: STOP_REASONS[output.finishReason],
    usage: usageOf(output),
    metrics: { latencyMs: 1 },
  };
}

/** The ConverseStream events of an answer, in wire order. */
export function streamEvents(output: EmulatedOutput): Array<[string, Record<string, unknown>]> {
  const events: Array<[string, Record<string, unknown>]> = [
    ['messageStart', { role: 'assistant' }],
  ];
  let index = 0;
  if (output.reasoning !== undefined) {
    for (const piece of tokenize(output.reasoning))
      events.push([
        'contentBlockDelta',
        { contentBlockIndex: index, delta: { reasoningContent: { text: piece } } },
      ]);
    events.push([
      'contentBlockDelta',
      {
        contentBlockIndex: index,
        delta: { reasoningContent: { signature: reasoningSignature(output.reasoning) } },
      },
    ]);
    events.push(['contentBlockStop', { contentBlockIndex: index++ }]);
  }
  if (output.text !== '') {
    // Real Bedrock sends no contentBlockStart for text blocks (bedrock.md §5).
    for (const piece of tokenize(output.text))
      events.push(['contentBlockDelta', { contentBlockIndex: index, delta: { text: piece } }]);
    events.push(['contentBlockStop', { contentBlockIndex: index++ }]);
  }
  for (const call of output.toolCalls) {
    events.push([
      'contentBlockStart',
      {
        contentBlockIndex: index,
        start: { toolUse: { toolUseId: toolUseId(call.id), name: call.name } },
      },
    ]);
    for (const piece of tokenize(call.arguments))
      events.push([
        'contentBlockDelta',
        { contentBlockIndex: index, delta: { toolUse: { input: piece } } },
      ]);
    events.push(['contentBlockStop', { contentBlockIndex: index++ }]);
  }
  events.push(['messageStop', { stopReason: STOP_REASONS[output.finishReason] }]);
  events.push(['metadata', { usage: usageOf(output), metrics: { latencyMs: 1 } }]);
  return events;
}

/** The side-channel padding real Bedrock adds to every event payload. */
export function padding(i: number): string {
  return 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123'.slice(0, 8 + (i % 40));
}
