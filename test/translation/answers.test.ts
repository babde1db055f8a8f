import { describe, expect, it } from 'vitest';
import type { ChatCompletion } from '../../src/core/chat.js';
import { usageFromOpenAI } from '../../src/core/usage.js';
import {
  fromAnthropicMessage,
  usageOf as anthropicUsage,
} from '../../src/providers/anthropic/response.js';
import {
  parseConverseResponse,
  usageOf as bedrockUsage,
} from '../../src/providers/bedrock/response.js';
import {
  anthropicUsageOf,
  toAnthropicMessage,
} from '../../src/surfaces/anthropic-messages/render.js';
import { createAnthropicStreamRenderer } from '../../src/surfaces/anthropic-messages/stream.js';
import {
  converseResponseOf,
  converseUsageOf,
} from '../../src/surfaces/bedrock-converse/response.js';

/**
 * Issue 21, item 4: answers keep their details between Anthropic and Bedrock: cache writes under
 * one name (100 input / 10 cache-write, not 110 / 0) into metering, `stop_sequence`, and the
 * input tokens of a streamed `message_start`.
 */

describe('cache-write tokens', () => {
  it('Anthropic upstream → Bedrock client: 100 input, 10 cache write; metered as written', () => {
    const usage = anthropicUsage({
      input_tokens: 100,
      cache_creation_input_tokens: 10,
      cache_creation: { ephemeral_5m_input_tokens: 6, ephemeral_1h_input_tokens: 4 },
      cache_read_input_tokens: 0,
      output_tokens: 5,
    });
    expect(converseUsageOf(usage)).toEqual({
      inputTokens: 100,
      cacheWriteInputTokens: 10,
      outputTokens: 5,
      totalTokens: 115,
    });
    expect(usageFromOpenAI(usage)).toMatchObject({
      inputTokens: 110,
      cacheWriteTokens: 10,
      cacheWrite1hTokens: 4,
    });
    // And back to an Anthropic client, with the lifetime split.
    expect(anthropicUsageOf(usage)).toMatchObject({
      input_tokens: 100,
      cache_creation_input_tokens: 10,
      cache_creation: { ephemeral_5m_input_tokens: 6, ephemeral_1h_input_tokens: 4 },
    });
  });

  it('Bedrock upstream → Anthropic client keeps cacheWriteInputTokens', () => {
    const usage = bedrockUsage({
      inputTokens: 100,
      cacheWriteInputTokens: 10,
      cacheReadInputTokens: 20,
      outputTokens: 5,
      totalTokens: 135,
    });
    expect(anthropicUsageOf(usage)).toMatchObject({
      input_tokens: 100,
      cache_creation_input_tokens: 10,
      cache_read_input_tokens: 20,
    });
    expect(usageFromOpenAI(usage)).toMatchObject({ inputTokens: 130, cacheWriteTokens: 10 });
  });
});

describe('stop_sequence', () => {
  it('Anthropic upstream → Bedrock client says stop_sequence, not end_turn', () => {
    const completion = fromAnthropicMessage(
      {
        id: 'msg_1',
        type: 'message',
        role: 'assistant',
        model: 'claude',
        content: [{ type: 'text', text: 'one two' }],
        stop_reason: 'stop_sequence',
        stop_sequence: 'three',
        usage: { input_tokens: 3, output_tokens: 2 },
      },
      0,
    );
    expect(converseResponseOf(completion, 1)['stopReason']).toBe('stop_sequence');
  });

  it('Bedrock upstream → Anthropic client names the sequence', () => {
    const completion: ChatCompletion = parseConverseResponse(
      {
        output: { message: { role: 'assistant', content: [{ text: 'one two' }] } },
        stopReason: 'stop_sequence',
        usage: { inputTokens: 3, outputTokens: 2, totalTokens: 5 },
      },
      { id: 'c', model: 'm', created: 0, provider: 'bedrock', stop: ['three'] },
    );
    const message = toAnthropicMessage(completion, 'claude');
    expect(message.stop_reason).toBe('stop_sequence');
    expect(message.stop_sequence).toBe('three');
  });
});

describe('message_start usage', () => {
  const start = (first: Record<string, unknown> | undefined, estimate?: () => number) => {
    const renderer = createAnthropicStreamRenderer({ model: 'm', estimateInputTokens: estimate });
    const text = renderer.start(first as never);
    const data = JSON.parse(text.split('\n')[1]!.slice('data: '.length)) as {
      message: { usage: Record<string, number> };
    };
    return data.message.usage;
  };

  it('reports the input tokens the upstream gave at its start', () => {
    const first = {
      id: 'x',
      object: 'chat.completion.chunk',
      created: 0,
      model: 'm',
      choices: [],
      input_usage: anthropicUsage({ input_tokens: 100, cache_read_input_tokens: 50 }),
    };
    expect(start(first, () => 1)).toMatchObject({ input_tokens: 100, cache_read_input_tokens: 50 });
  });

  it('falls back to the estimate, never 0 for a real prompt', () => {
    expect(start(undefined, () => 42).input_tokens).toBe(42);
  });
});
