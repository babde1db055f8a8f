import { describe, expect, it } from 'vitest';
import type { ChatRequest } from '../../src/core/chat.js';
import { featuresOf } from '../../src/router/features.js';
import { toAnthropicRequest } from '../../src/providers/anthropic/request.js';
import { toConverseRequest } from '../../src/providers/bedrock/request.js';
import { toGenerateContent } from '../../src/providers/gemini/request.js';
import { toOpenAIShape } from '../../src/providers/openai/allow-list.js';
import { toChatRequest as fromAnthropic } from '../../src/surfaces/anthropic-messages/parse.js';
import { converseToChat } from '../../src/surfaces/bedrock-converse/request.js';

/**
 * Issue 21, item 3: thinking maps to each provider faithfully. The cases are the ones the issue
 * found wrong: a 1,024 budget dropped, 3,000 under max_tokens 4,000 raised to 4,096, 18,000
 * refused as "xhigh", effort high under 4,000 max tokens sent as 16,384, Bedrock's
 * additionalModelRequestFields.thinking never reaching Anthropic, adaptive thinking a hard
 * requirement.
 */

const CLAUDE_ON_BEDROCK = 'anthropic.claude-sonnet-4-5-20250929-v1:0';
const user = [{ role: 'user' as const, content: 'hi' }];

function anthropicClient(extra: Record<string, unknown>): ChatRequest {
  return fromAnthropic({ model: 'any', max_tokens: 4000, messages: user, ...extra });
}

function bedrockThinking(body: ChatRequest) {
  const { body: converse } = toConverseRequest(body, CLAUDE_ON_BEDROCK);
  return {
    thinking: converse.additionalModelRequestFields?.['thinking'],
    maxTokens: converse.inferenceConfig?.maxTokens,
  };
}

describe('explicit thinking budgets', () => {
  it.each([1024, 3000])(
    'keeps budget %i exact for Claude on Bedrock and on Anthropic',
    (budget) => {
      const body = anthropicClient({ thinking: { type: 'enabled', budget_tokens: budget } });
      expect(bedrockThinking(body)).toEqual({
        thinking: { type: 'enabled', budget_tokens: budget },
        maxTokens: 4000,
      });
      // Without the client's own config in provider_options (a Converse client, say).
      const { provider_options: _own, ...bare } = body;
      const anthropic = toAnthropicRequest(bare, {
        model: 'c',
        stream: false,
        version: '2023-06-01',
      });
      expect(anthropic.thinking).toEqual({ type: 'enabled', budget_tokens: budget });
      expect(anthropic.max_tokens).toBe(4000);
    },
  );

  it('keeps 18,000 as a budget (no effort round trip, no xhigh refusal)', () => {
    const body = fromAnthropic({
      model: 'any',
      max_tokens: 32_000,
      messages: user,
      thinking: { type: 'enabled', budget_tokens: 18_000 },
    });
    expect(bedrockThinking(body).thinking).toEqual({ type: 'enabled', budget_tokens: 18_000 });
    expect(toOpenAIShape(body, { azure: false, maxCompletionTokens: true })).toMatchObject({
      reasoning_effort: 'high',
      max_completion_tokens: 32_000,
    });
  });

  it('refuses a budget at or above max tokens in the client terms, as Anthropic and Bedrock do', () => {
    const body = anthropicClient({ thinking: { type: 'enabled', budget_tokens: 4000 } });
    expect(() => bedrockThinking(body)).toThrow(/max_tokens.*greater than.*budget_tokens/);
  });

  it('maps a budget to an OpenAI effort and to a Gemini budget or level', () => {
    const body = anthropicClient({ thinking: { type: 'enabled', budget_tokens: 3000 } });
    expect(toOpenAIShape(body, { azure: false, maxCompletionTokens: true })).toMatchObject({
      reasoning_effort: 'low',
    });
    const flash = toGenerateContent(body, { providerType: 'gemini', model: 'gemini-2.5-flash' });
    expect(flash.generationConfig?.['thinkingConfig']).toEqual({
      thinkingBudget: 3000,
      includeThoughts: true,
    });
    const three = toGenerateContent(body, { providerType: 'gemini', model: 'gemini-3-pro' });
    expect(three.generationConfig?.['thinkingConfig']).toEqual({
      thinkingLevel: 'low',
      includeThoughts: true,
    });
  });

  it('carries Bedrock additionalModelRequestFields.thinking to Anthropic exactly', () => {
    const chat = converseToChat(
      {
        messages: [{ role: 'user', content: [{ text: 'hi' }] }],
        inferenceConfig: { maxTokens: 4000 },
        additionalModelRequestFields: { thinking: { type: 'enabled', budget_tokens: 3000 } },
      },
      'any',
      false,
    );
    expect(chat.reasoning_budget_tokens).toBe(3000);
    const anthropic = toAnthropicRequest(chat, {
      model: 'c',
      stream: false,
      version: '2023-06-01',
    });
    expect(anthropic.thinking).toEqual({ type: 'enabled', budget_tokens: 3000 });
  });
});

describe('reasoning_effort toward Claude', () => {
  it('clamps the effort budget below the client max tokens on Bedrock, as on Anthropic', () => {
    const body: ChatRequest = {
      model: 'x',
      messages: user,
      reasoning_effort: 'high',
      max_completion_tokens: 4000,
    };
    expect(bedrockThinking(body)).toEqual({
      thinking: { type: 'enabled', budget_tokens: 3999 },
      maxTokens: 4000,
    });
    const anthropic = toAnthropicRequest(body, {
      model: 'c',
      stream: false,
      version: '2023-06-01',
    });
    expect(anthropic.thinking).toEqual({ type: 'enabled', budget_tokens: 3999 });
  });
});

describe('adaptive thinking is a permission', () => {
  const body = anthropicClient({ thinking: { type: 'adaptive' } });

  it('does not make the router require a reasoning model', () => {
    expect(body.reasoning_effort).toBeUndefined();
    expect(featuresOf(body).needs.has('reasoning')).toBe(false);
    expect(
      featuresOf(anthropicClient({ thinking: { type: 'enabled', budget_tokens: 2000 } })).needs.has(
        'reasoning',
      ),
    ).toBe(true);
  });

  it('reaches Claude (Anthropic, Bedrock) and nothing else', () => {
    expect(bedrockThinking(body).thinking).toEqual({ type: 'adaptive' });
    const gptOss = toConverseRequest(body, 'openai.gpt-oss-120b-1:0').body;
    expect(gptOss.additionalModelRequestFields).toBeUndefined();
    const openai = toOpenAIShape(body, { azure: false, maxCompletionTokens: true });
    expect(openai['reasoning_effort']).toBeUndefined();
    expect(openai['reasoning_mode']).toBeUndefined();
    const gemini = toGenerateContent(body, { providerType: 'gemini', model: 'gemini-2.5-flash' });
    expect(gemini.generationConfig?.['thinkingConfig']).toBeUndefined();
    const anthropic = toAnthropicRequest(body, {
      model: 'c',
      stream: false,
      version: '2023-06-01',
    });
    expect(anthropic.thinking).toEqual({ type: 'adaptive' });
  });
});

describe('Bedrock surface types (issue 21, item 5)', () => {
  const converse = (inferenceConfig: unknown) => () =>
    converseToChat(
      { messages: [{ role: 'user', content: [{ text: 'hi' }] }], inferenceConfig },
      'any',
      false,
    );

  it('refuses a string for maxTokens, as Bedrock validates its Smithy types', () => {
    expect(converse({ maxTokens: '100' })).toThrow(
      /Value at 'inferenceConfig.maxTokens' failed to satisfy constraint: Member must be an integer/,
    );
    expect(converse({ temperature: '0.5' })).toThrow(/inferenceConfig.temperature/);
    expect(converse({ stopSequences: 'END' })).toThrow(/inferenceConfig.stopSequences/);
    expect(converse({ maxTokens: 0 })).toThrow(/greater than or equal to 1/);
    expect(converse({ maxTokens: 100, temperature: 0.5 })().max_tokens).toBe(100);
  });
});
