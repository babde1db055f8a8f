import { describe, expect, it } from 'vitest';
import type { ChatRequest } from '../../src/core/chat.js';
import { GatewayError } from '../../src/errors/index.js';
import type { GatewayCall } from '../../src/providers/adapter.js';
import { anthropicAdapter } from '../../src/providers/anthropic/index.js';
import { toAnthropicRequest } from '../../src/providers/anthropic/request.js';

const options = { model: 'claude-test', stream: false, version: '2023-06-01' };

function call(body: ChatRequest, stream = false): GatewayCall {
  return {
    requestId: 'req_1',
    operation: 'chat',
    body,
    stream,
    deployment: { provider: 'anthropic', model: 'claude-upstream' },
    signal: new AbortController().signal,
  };
}

function rejection(body: ChatRequest): GatewayError {
  try {
    toAnthropicRequest(body, options);
  } catch (error) {
    if (error instanceof GatewayError) return error;
    throw error;
  }
  throw new Error('expected a rejection');
}

describe('anthropic request mapping', () => {
  it('builds url, headers and body', async () => {
    const adapter = anthropicAdapter(
      'anthropic',
      {
        type: 'anthropic',
        apiKey: 'sk-ant-x',
        version: '2023-06-01',
        sandbox: false,
        baseUrl: 'http://127.0.0.1:9/',
        headers: { 'anthropic-beta': 'b1' },
      },
      { env: {}, now: () => 0 },
    );
    const request = await adapter.buildRequest(
      call({ model: 'logical', messages: [{ role: 'user', content: 'hi' }] }, true),
    );
    expect(request.url).toBe('http://127.0.0.1:9/v1/messages');
    expect(request.headers).toMatchInlineSnapshot(`
      {
        "accept": "text/event-stream",
        "anthropic-beta": "b1",
        "anthropic-version": "2023-06-01",
        "content-type": "application/json",
        "x-api-key": "sk-ant-x",
      }
    `);
    expect(JSON.parse(String(request.body))).toEqual({
      model: 'claude-upstream',
      max_tokens: 4096,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }],
      stream: true,
    });
  });

  it('defaults to api.anthropic.com', async () => {
    const adapter = anthropicAdapter(
      'a',
      { type: 'anthropic', version: '2023-06-01', sandbox: false },
      { env: {}, now: () => 0 },
    );
    const request = await adapter.buildRequest(
      call({ model: 'm', messages: [{ role: 'user', content: 'x' }] }),
    );
    expect(request.url).toBe('https://api.anthropic.com/v1/messages');
    expect(request.headers['x-api-key']).toBeUndefined();
  });

  it('maps a full conversation: system, images, tool calls, tool results, thinking', () => {
    const body: ChatRequest = {
      model: 'logical',
      messages: [
        { role: 'system', content: 'Be brief.' },
        {
          role: 'developer',
          content: [{ type: 'text', text: 'Use tools.', cache_control: { type: 'ephemeral' } }],
        },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Weather in "Paris" and "Rome"?' },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
            { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' } },
          ],
        },
        {
          role: 'assistant',
          content: 'Checking.',
          reasoning_content: 'I should call the tool twice.',
          reasoning_signature: 'sig-abc',
          tool_calls: [
            {
              id: 'toolu_01',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
            },
            {
              id: 'toolu_02',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Rome"}' },
            },
          ],
        },
        { role: 'tool', tool_call_id: 'toolu_01', content: '18C' },
        { role: 'tool', tool_call_id: 'toolu_02', content: [{ type: 'text', text: '21C' }] },
        { role: 'user', content: 'Thanks' },
      ],
      tools: [
        {
          type: 'function',
          function: {
            name: 'get_weather',
            description: 'Weather',
            parameters: { type: 'object', properties: { city: { type: 'string' } } },
          },
        },
      ],
      tool_choice: 'required',
      parallel_tool_calls: false,
      stop: 'END',
      max_completion_tokens: 500,
      temperature: 0.2,
      top_p: 0.9,
      user: 'user-7',
      stream_options: { include_usage: true },
      metadata: { team: 'x' },
    };
    expect(toAnthropicRequest(body, options)).toMatchInlineSnapshot(`
      {
        "max_tokens": 500,
        "messages": [
          {
            "content": [
              {
                "text": "Weather in "Paris" and "Rome"?",
                "type": "text",
              },
              {
                "source": {
                  "data": "iVBORw0KGgo=",
                  "media_type": "image/png",
                  "type": "base64",
                },
                "type": "image",
              },
              {
                "source": {
                  "type": "url",
                  "url": "https://example.com/cat.jpg",
                },
                "type": "image",
              },
            ],
            "role": "user",
          },
          {
            "content": [
              {
                "signature": "sig-abc",
                "thinking": "I should call the tool twice.",
                "type": "thinking",
              },
              {
                "text": "Checking.",
                "type": "text",
              },
              {
                "id": "toolu_01",
                "input": {
                  "city": "Paris",
                },
                "name": "get_weather",
                "type": "tool_use",
              },
              {
                "id": "toolu_02",
                "input": {
                  "city": "Rome",
                },
                "name": "get_weather",
                "type": "tool_use",
              },
            ],
            "role": "assistant",
          },
          {
            "content": [
              {
                "content": "18C",
                "tool_use_id": "toolu_01",
                "type": "tool_result",
              },
              {
                "content": [
                  {
                    "text": "21C",
                    "type": "text",
                  },
                ],
                "tool_use_id": "toolu_02",
                "type": "tool_result",
              },
              {
                "text": "Thanks",
                "type": "text",
              },
            ],
            "role": "user",
          },
        ],
        "metadata": {
          "user_id": "user-7",
        },
        "model": "claude-test",
        "stop_sequences": [
          "END",
        ],
        "system": [
          {
            "text": "Be brief.",
            "type": "text",
          },
          {
            "cache_control": {
              "type": "ephemeral",
            },
            "text": "Use tools.",
            "type": "text",
          },
        ],
        "temperature": 0.2,
        "tool_choice": {
          "disable_parallel_tool_use": true,
          "type": "any",
        },
        "tools": [
          {
            "description": "Weather",
            "input_schema": {
              "properties": {
                "city": {
                  "type": "string",
                },
              },
              "type": "object",
            },
            "name": "get_weather",
          },
        ],
        "top_p": 0.9,
      }
    `);
  });

  it('maps tool_choice variants', () => {
    const base: ChatRequest = { model: 'm', messages: [{ role: 'user', content: 'x' }] };
    expect(toAnthropicRequest({ ...base, tool_choice: 'auto' }, options).tool_choice).toEqual({
      type: 'auto',
    });
    expect(toAnthropicRequest({ ...base, tool_choice: 'none' }, options).tool_choice).toEqual({
      type: 'none',
    });
    expect(toAnthropicRequest({ ...base, tool_choice: 'required' }, options).tool_choice).toEqual({
      type: 'any',
    });
    expect(
      toAnthropicRequest(
        { ...base, tool_choice: { type: 'function', function: { name: 'f' } } },
        options,
      ).tool_choice,
    ).toEqual({
      type: 'tool',
      name: 'f',
    });
    expect(toAnthropicRequest(base, options).tool_choice).toBeUndefined();
  });

  it('uses output_config.format for json_schema and rejects json_object', () => {
    const base: ChatRequest = { model: 'm', messages: [{ role: 'user', content: 'x' }] };
    const schema = {
      type: 'object',
      properties: { a: { type: 'string' } },
      required: ['a'],
      additionalProperties: false,
    };
    expect(
      toAnthropicRequest(
        { ...base, response_format: { type: 'json_schema', json_schema: { name: 'r', schema } } },
        options,
      ).output_config,
    ).toEqual({
      format: { type: 'json_schema', schema },
    });
    expect(
      toAnthropicRequest({ ...base, response_format: { type: 'text' } }, options).output_config,
    ).toBeUndefined();
    const error = rejection({ ...base, response_format: { type: 'json_object' } });
    expect([error.code, error.param]).toEqual(['unsupported_parameter', 'response_format']);
  });

  it('maps reasoning_effort to a thinking budget below max_tokens', () => {
    const base: ChatRequest = { model: 'm', messages: [{ role: 'user', content: 'x' }] };
    const open = toAnthropicRequest({ ...base, reasoning_effort: 'medium' }, options);
    expect([open.thinking, open.max_tokens]).toEqual([
      { type: 'enabled', budget_tokens: 8192 },
      8192 + 4096,
    ]);
    const capped = toAnthropicRequest(
      { ...base, reasoning_effort: 'high', max_tokens: 5000 },
      options,
    );
    expect([capped.thinking, capped.max_tokens]).toEqual([
      { type: 'enabled', budget_tokens: 4999 },
      5000,
    ]);
    expect(
      toAnthropicRequest({ ...base, reasoning_effort: 'none' }, options).thinking,
    ).toBeUndefined();
    expect(rejection({ ...base, reasoning_effort: 'low', max_tokens: 1000 }).param).toBe(
      'max_tokens',
    );
    expect(rejection({ ...base, reasoning_effort: 'huge' }).param).toBe('reasoning_effort');
  });

  it('merges provider_options.anthropic into the body and ignores other providers', () => {
    const body = toAnthropicRequest(
      {
        model: 'm',
        messages: [{ role: 'user', content: 'x' }],
        provider_options: { anthropic: { top_k: 5, service_tier: 'auto' }, bedrock: { x: 1 } },
      },
      options,
    );
    expect(body).toMatchObject({ top_k: 5, service_tier: 'auto' });
    expect(body).not.toHaveProperty('x');
  });

  it('does not forward sampling parameters to anthropic-version 2026-10-21', () => {
    const body = toAnthropicRequest(
      { model: 'm', messages: [{ role: 'user', content: 'x' }], temperature: 0.5, top_p: 1 },
      { ...options, version: '2026-10-21' },
    );
    expect(body).not.toHaveProperty('temperature');
    expect(body).not.toHaveProperty('top_p');
  });

  it('drops unsigned reasoning and empty assistant text', () => {
    const body = toAnthropicRequest(
      {
        model: 'm',
        messages: [
          { role: 'user', content: 'x' },
          {
            role: 'assistant',
            content: '',
            reasoning_content: 'from another provider',
            tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '' } }],
          },
        ],
      },
      options,
    );
    expect(body.messages[1]).toEqual({
      role: 'assistant',
      content: [{ type: 'tool_use', id: 'c1', name: 'f', input: {} }],
    });
  });

  it.each([
    [{ n: 2 }, 'n'],
    [{ logprobs: true }, 'logprobs'],
    [{ top_logprobs: 3 }, 'top_logprobs'],
    [{ seed: 42 }, 'seed'],
    [{ presence_penalty: 0.5 }, 'presence_penalty'],
    [{ frequency_penalty: 1 }, 'frequency_penalty'],
    [{ logit_bias: { '50256': -100 } }, 'logit_bias'],
    [{ modalities: ['text', 'audio'] }, 'modalities'],
    [{ prediction: { type: 'content', content: 'x' } }, 'prediction'],
  ] as Array<[Partial<ChatRequest>, string]>)(
    'rejects %j as unsupported_parameter',
    (extra, param) => {
      const error = rejection({ model: 'm', messages: [{ role: 'user', content: 'x' }], ...extra });
      expect(error.status).toBe(400);
      expect(error.code).toBe('unsupported_parameter');
      expect(error.param).toBe(param);
    },
  );

  it('accepts no-op values of unmappable fields', () => {
    expect(() =>
      toAnthropicRequest(
        {
          model: 'm',
          messages: [{ role: 'user', content: 'x' }],
          n: 1,
          logprobs: false,
          presence_penalty: 0,
          frequency_penalty: 0,
          seed: null,
          logit_bias: {},
          store: false,
        },
        options,
      ),
    ).not.toThrow();
  });

  it('rejects bad input with the field at fault', () => {
    const base: ChatRequest = { model: 'm', messages: [{ role: 'user', content: 'x' }] };
    expect(rejection({ ...base, temperature: 1.5 }).param).toBe('temperature');
    expect(rejection({ ...base, messages: [] }).param).toBe('messages');
    expect(
      rejection({
        ...base,
        messages: [
          {
            role: 'assistant',
            content: null,
            tool_calls: [{ id: 'a', type: 'function', function: { name: 'f', arguments: '{bad' } }],
          },
        ],
      }).param,
    ).toBe('messages[0].tool_calls[0].function.arguments');
    expect(
      rejection({
        ...base,
        messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: {} }] }],
      }).param,
    ).toBe('messages[0].content[0].type');
    expect(
      rejection({
        ...base,
        messages: [
          { role: 'user', content: [{ type: 'image_url', image_url: { url: 'ftp://x' } }] },
        ],
      }).param,
    ).toBe('messages[0].content[0].image_url.url');
  });
});
