import { describe, expect, it } from 'vitest';
import type { ChatRequest } from '../../src/core/chat.js';
import { buildOpenAIChatRequest } from '../../src/providers/bedrock/openai-api.js';
import { toConverseRequest } from '../../src/providers/bedrock/request.js';
import type { GatewayCall } from '../../src/providers/adapter.js';

const CLAUDE = 'anthropic.claude-3-7-sonnet-20250219-v1:0';
const map = (body: Partial<ChatRequest>, model = CLAUDE) =>
  toConverseRequest(
    { model: 'x', messages: [{ role: 'user', content: 'hi' }], ...body } as ChatRequest,
    model,
  );

describe('ChatRequest → Converse', () => {
  it('maps system, images, tool calls, tool results (merged into one user turn) and inference settings', () => {
    const { body } = map({
      messages: [
        { role: 'system', content: 'S1' },
        { role: 'developer', content: [{ type: 'text', text: 'S2' }] },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'look', cache_control: { type: 'ephemeral' } },
            { type: 'image_url', image_url: { url: 'data:image/jpeg;base64,AAAA' } },
          ],
        },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'a', type: 'function', function: { name: 'f', arguments: '{"x":1}' } },
            { id: 'b', type: 'function', function: { name: 'g', arguments: '' } },
          ],
        },
        { role: 'tool', tool_call_id: 'a', content: 'one' },
        { role: 'tool', tool_call_id: 'b', content: [{ type: 'text', text: 'two' }] },
        { role: 'user', content: 'next' },
      ],
      max_completion_tokens: 50,
      max_tokens: 10,
      temperature: 0,
      top_p: 1,
      stop: 'END',
      user: 'u-1',
      metadata: { team: 'a' },
    });
    expect(body).toEqual({
      system: [{ text: 'S1' }, { text: 'S2' }],
      messages: [
        {
          role: 'user',
          content: [
            { text: 'look' },
            { cachePoint: { type: 'default' } },
            { image: { format: 'jpeg', source: { bytes: 'AAAA' } } },
          ],
        },
        {
          role: 'assistant',
          content: [
            { toolUse: { toolUseId: 'a', name: 'f', input: { x: 1 } } },
            { toolUse: { toolUseId: 'b', name: 'g', input: {} } },
          ],
        },
        {
          role: 'user',
          content: [
            { toolResult: { toolUseId: 'a', content: [{ text: 'one' }] } },
            { toolResult: { toolUseId: 'b', content: [{ text: 'two' }] } },
            { text: 'next' },
          ],
        },
      ],
      inferenceConfig: { maxTokens: 50, temperature: 0, topP: 1, stopSequences: ['END'] },
      requestMetadata: { team: 'a', user: 'u-1' },
    });
  });

  it('maps tools and every tool_choice', () => {
    const tools = [
      {
        type: 'function' as const,
        function: { name: 'f', description: 'd', parameters: { type: 'object' }, strict: true },
      },
    ];
    expect(map({ tools }).body.toolConfig).toEqual({
      tools: [
        {
          toolSpec: {
            name: 'f',
            description: 'd',
            inputSchema: { json: { type: 'object' } },
            strict: true,
          },
        },
      ],
    });
    expect(map({ tools, tool_choice: 'auto' }).body.toolConfig?.toolChoice).toEqual({ auto: {} });
    expect(map({ tools, tool_choice: 'required' }).body.toolConfig?.toolChoice).toEqual({
      any: {},
    });
    expect(
      map({ tools, tool_choice: { type: 'function', function: { name: 'f' } } }).body.toolConfig
        ?.toolChoice,
    ).toEqual({ tool: { name: 'f' } });
    expect(map({ tools, tool_choice: 'none' }).body.toolConfig).toBeUndefined();
  });

  it('keeps reasoning text and signature on assistant turns', () => {
    const { body } = map({
      messages: [
        { role: 'user', content: 'q' },
        { role: 'assistant', content: 'a', reasoning_content: 'r', reasoning_signature: 's' },
        { role: 'user', content: 'q2' },
      ],
    });
    expect(body.messages?.[1]).toEqual({
      role: 'assistant',
      content: [
        { reasoningContent: { reasoningText: { text: 'r', signature: 's' } } },
        { text: 'a' },
      ],
    });
  });

  it('maps reasoning_effort per model family and passes provider_options.bedrock through', () => {
    // The same effort table as the Anthropic provider; with no max tokens, room for the answer.
    const medium = map({ reasoning_effort: 'medium' }).body;
    expect(medium.additionalModelRequestFields).toEqual({
      thinking: { type: 'enabled', budget_tokens: 8192 },
    });
    expect(medium.inferenceConfig?.maxTokens).toBe(8192 + 4096);
    expect(
      map({ reasoning_effort: 'low' }, 'openai.gpt-oss-120b-1:0').body.additionalModelRequestFields,
    ).toEqual({ reasoning_effort: 'low' });
    const { body } = map({
      provider_options: {
        bedrock: {
          additionalModelRequestFields: { top_k: 3 },
          guardrailConfig: { guardrailIdentifier: 'g', guardrailVersion: '1' },
          performanceConfig: { latency: 'optimized' },
        },
      },
    });
    expect(body).toMatchObject({
      additionalModelRequestFields: { top_k: 3 },
      guardrailConfig: { guardrailIdentifier: 'g', guardrailVersion: '1' },
      performanceConfig: { latency: 'optimized' },
    });
  });

  it('maps json_schema to outputConfig (schema as a string)', () => {
    const { body, jsonTool } = map({
      response_format: {
        type: 'json_schema',
        json_schema: { name: 'r', schema: { type: 'object' } },
      },
    });
    expect(jsonTool).toBeUndefined();
    expect(body.outputConfig).toEqual({
      textFormat: {
        type: 'json_schema',
        structure: { jsonSchema: { schema: '{"type":"object"}', name: 'r' } },
      },
    });
  });

  it('rejects what Bedrock cannot honour with unsupported_parameter, and accepts neutral values', () => {
    const cases: Array<[Partial<ChatRequest>, string]> = [
      [{ n: 2 }, 'n'],
      [{ seed: 1 }, 'seed'],
      [{ logprobs: true }, 'logprobs'],
      [{ top_logprobs: 2 }, 'top_logprobs'],
      [{ parallel_tool_calls: false }, 'parallel_tool_calls'],
      [{ frequency_penalty: 0.5 }, 'frequency_penalty'],
      [{ audio: { voice: 'x' } }, 'audio'],
      [{ response_format: { type: 'json_object' } }, 'response_format'],
      [
        {
          messages: [
            {
              role: 'user',
              content: [{ type: 'image_url', image_url: { url: 'https://example.com/cat.png' } }],
            },
          ],
        },
        'messages[0].content[0]',
      ],
      [
        { messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: {} }] }] },
        'messages[0].content[0]',
      ],
      [{ provider_options: { bedrock: { nonsense: 1 } } }, 'provider_options.bedrock.nonsense'],
    ];
    for (const [body, param] of cases) {
      expect(() => map(body), param).toThrow(
        expect.objectContaining({ code: 'unsupported_parameter', status: 400, param }),
      );
    }
    expect(() =>
      map({
        n: 1,
        seed: null,
        frequency_penalty: 0,
        presence_penalty: 0,
        logit_bias: {},
        store: false,
        parallel_tool_calls: true,
      }),
    ).not.toThrow();
  });
});

describe("api: 'openai' deployments (Bedrock's OpenAI-compatible endpoint)", () => {
  const openAICall = (body: Partial<ChatRequest>, stream = false): GatewayCall => ({
    requestId: 'r',
    operation: 'chat',
    body: { model: 'logical', messages: [{ role: 'user', content: 'hi' }], ...body } as ChatRequest,
    stream,
    deployment: { provider: 'aws', model: 'openai.gpt-oss-120b-1:0', api: 'openai' },
    signal: new AbortController().signal,
  });

  it('forwards the OpenAI body with targeted edits', () => {
    const request = buildOpenAIChatRequest(
      openAICall(
        {
          temperature: 0.3,
          reasoning_effort: 'low',
          provider_options: { bedrock: { additionalModelRequestFields: { top_k: 4 } } },
        },
        true,
      ),
      'https://bedrock-runtime.us-west-2.amazonaws.com',
    );
    expect(request.url).toBe(
      'https://bedrock-runtime.us-west-2.amazonaws.com/openai/v1/chat/completions',
    );
    expect(JSON.parse(request.body as string)).toEqual({
      model: 'openai.gpt-oss-120b-1:0',
      messages: [{ role: 'user', content: 'hi' }],
      temperature: 0.3,
      reasoning_effort: 'low',
      top_k: 4,
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  it('rejects Converse-only options', () => {
    expect(() =>
      buildOpenAIChatRequest(
        openAICall({
          provider_options: { bedrock: { guardrailConfig: { guardrailIdentifier: 'g' } } },
        }),
        'https://x',
      ),
    ).toThrow(
      expect.objectContaining({
        code: 'unsupported_parameter',
        param: 'provider_options.bedrock.guardrailConfig',
      }),
    );
  });
});
