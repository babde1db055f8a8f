import { describe, expect, it } from 'vitest';
import { type ProviderConfig, validateConfig } from '../../src/config/index.js';
import type { ChatMessage } from '../../src/core/chat.js';
import { adapterFactoryFor, type GatewayCall } from '../../src/providers/index.js';
import {
  ANTHROPIC_TOOL_CALL_IDS,
  fitToolCallIds,
  OPENAI_TOOL_CALL_IDS,
  shortToolCallId,
} from '../../src/providers/internal/tool-call-ids.js';
import { idProblems, type ProviderName, type SentRequest, toolIdsOf } from './clouds.js';

/**
 * Tool-call ids fitted to each upstream's rule (src/providers/internal/tool-call-ids.ts), at the
 * adapter level: the request each adapter builds for a history whose ids another provider minted.
 */

const GEMINI_ID = `call_sig_${'Aht73gVWlc9ePYNSp-h-fcQtSkIH79h'.repeat(6)}`;
/** Moonshot/Kimi-style id: fine for OpenAI, refused by Anthropic and Bedrock. */
const DOTTED_ID = 'functions.get_weather:0';
const NATIVE_ID = 'call_0123456789abcdef01234567';

const history = (ids: string[]): ChatMessage[] => [
  { role: 'user', content: 'call get_weather for "Paris" and "Rome" and "Oslo"' },
  {
    role: 'assistant',
    content: null,
    tool_calls: ids.map((id) => ({
      id,
      type: 'function' as const,
      function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
    })),
  },
  ...ids.map((id): ChatMessage => ({ role: 'tool', tool_call_id: id, content: '18°C' })),
];

const PROVIDERS: Record<Exclude<ProviderName, 'gemini'>, ProviderConfig> = validateConfig({
  providers: {
    openai: { type: 'openai', apiKey: 'sk-test' },
    'azure-openai': {
      type: 'azure-openai',
      baseUrl: 'https://example.openai.azure.com',
      apiKey: 'azure-test',
      apiVersion: '2024-10-21',
    },
    bedrock: { type: 'bedrock', region: 'us-east-1', apiKey: 'bedrock-key' },
    anthropic: { type: 'anthropic', apiKey: 'sk-ant-test' },
  },
}).providers as Record<Exclude<ProviderName, 'gemini'>, ProviderConfig>;

async function sent(
  provider: Exclude<ProviderName, 'gemini'>,
  messages: ChatMessage[],
  api?: 'openai',
): Promise<SentRequest> {
  const adapter = adapterFactoryFor(PROVIDERS[provider].type)!(provider, PROVIDERS[provider], {
    env: {},
    now: Date.now,
  });
  const call: GatewayCall = {
    requestId: 'req_ids',
    operation: 'chat',
    body: {
      model: 'logical',
      messages,
      tools: [
        {
          type: 'function',
          function: {
            name: 'get_weather',
            parameters: { type: 'object', properties: { city: { type: 'string' } } },
          },
        },
      ],
    },
    stream: false,
    deployment: {
      provider,
      model: provider === 'bedrock' ? 'anthropic.claude-3-haiku-20240307-v1:0' : 'model',
      ...(api ? { api } : {}),
    },
    signal: new AbortController().signal,
  };
  const upstream = await adapter.buildRequest(call);
  const text = String(upstream.body);
  // Bedrock's OpenAI-compatible endpoint takes an OpenAI body: read it with OpenAI's rule.
  return {
    provider: api === 'openai' ? 'openai' : provider,
    url: upstream.url,
    text,
    body: JSON.parse(text) as unknown,
  };
}

describe('tool-call ids fitted per upstream', () => {
  it.each(['openai', 'azure-openai', 'bedrock', 'anthropic'] as const)(
    '%s: foreign ids that break its rule are shortened, still paired; others kept',
    async (provider) => {
      const request = await sent(provider, history([GEMINI_ID, DOTTED_ID, NATIVE_ID]));
      expect(idProblems(request)).toEqual([]);
      const calls = toolIdsOf(request)
        .filter((entry) => entry.kind === 'call')
        .map((entry) => entry.id);
      // Anthropic has no length cap, so Gemini's base64url ids pass; OpenAI's 40 and Bedrock's 64 break.
      expect(calls[0]).toBe(provider === 'anthropic' ? GEMINI_ID : shortToolCallId(GEMINI_ID));
      // OpenAI takes dotted ids as they are; Anthropic and Bedrock do not.
      expect(calls[1]).toBe(
        provider === 'openai' || provider === 'azure-openai'
          ? DOTTED_ID
          : shortToolCallId(DOTTED_ID),
      );
      expect(calls[2]).toBe(NATIVE_ID);
      expect(
        toolIdsOf(request)
          .filter((entry) => entry.kind === 'result')
          .map((entry) => entry.id),
      ).toEqual(calls);
    },
  );

  it("bedrock's OpenAI-compatible endpoint gets ids of at most 40 characters", async () => {
    const request = await sent('bedrock', history([GEMINI_ID, DOTTED_ID]), 'openai');
    expect(idProblems(request)).toEqual([]);
    expect(toolIdsOf(request).map((entry) => entry.id)).toEqual([
      shortToolCallId(GEMINI_ID),
      shortToolCallId(DOTTED_ID),
      shortToolCallId(GEMINI_ID),
      shortToolCallId(DOTTED_ID),
    ]);
  });

  it('the short form is deterministic, 29 characters, and valid everywhere', () => {
    const short = shortToolCallId(GEMINI_ID);
    expect(short).toMatch(/^call_[0-9a-zA-Z]{24}$/);
    expect(shortToolCallId(GEMINI_ID)).toBe(short);
    expect(shortToolCallId(`${GEMINI_ID}x`)).not.toBe(short);
  });

  it('returns the very same messages array when every id fits (nothing copied on the fast path)', () => {
    const messages = history([NATIVE_ID, 'toolu_01A09q90qw90lq917835lq9']);
    expect(fitToolCallIds(messages, OPENAI_TOOL_CALL_IDS)).toBe(messages);
    expect(fitToolCallIds(messages, ANTHROPIC_TOOL_CALL_IDS)).toBe(messages);
    const mixed = history([NATIVE_ID, GEMINI_ID]);
    const fitted = fitToolCallIds(mixed, OPENAI_TOOL_CALL_IDS);
    expect(fitted).not.toBe(mixed);
    // The client's messages are not mutated.
    expect(mixed[1]?.tool_calls?.[1]?.id).toBe(GEMINI_ID);
    expect(fitted[2]).toBe(mixed[2]);
  });
});
