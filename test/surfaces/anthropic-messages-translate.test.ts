import { describe, expect, it } from 'vitest';
import type { ChatCompletion, ChatCompletionChunk } from '../../src/core/chat.js';
import { GatewayError } from '../../src/errors/index.js';
import { toAnthropicRequest } from '../../src/providers/anthropic/request.js';
import { toChatRequest } from '../../src/surfaces/anthropic-messages/parse.js';
import {
  anthropicErrorOf,
  renderAnthropicError,
  toAnthropicMessage,
} from '../../src/surfaces/anthropic-messages/render.js';
import { createAnthropicStreamRenderer } from '../../src/surfaces/anthropic-messages/stream.js';

const conversation = {
  model: 'claude-x',
  max_tokens: 2048,
  system: [{ type: 'text', text: 'Be brief.', cache_control: { type: 'ephemeral' } }],
  messages: [
    {
      role: 'user',
      content: [
        { type: 'text', text: 'Weather in Paris?' },
        {
          type: 'image',
          source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' },
        },
      ],
    },
    {
      role: 'assistant',
      content: [
        { type: 'thinking', thinking: 'Need the tool.', signature: 'sig-1' },
        { type: 'text', text: 'Checking.' },
        { type: 'tool_use', id: 'toolu_01', name: 'get_weather', input: { city: 'Paris' } },
      ],
    },
    {
      role: 'user',
      content: [
        { type: 'tool_result', tool_use_id: 'toolu_01', content: '18C' },
        { type: 'text', text: 'Thanks' },
      ],
    },
  ],
  tools: [
    {
      name: 'get_weather',
      description: 'Weather',
      input_schema: { type: 'object', properties: { city: { type: 'string' } } },
    },
  ],
  tool_choice: { type: 'any', disable_parallel_tool_use: true },
  stop_sequences: ['END'],
  temperature: 0.3,
  top_k: 5,
  metadata: { user_id: 'u-1' },
};

function rejection(body: unknown): GatewayError {
  try {
    toChatRequest(body);
  } catch (error) {
    if (error instanceof GatewayError) return error;
    throw error;
  }
  throw new Error('expected a rejection');
}

describe('anthropic surface: request parsing', () => {
  it('maps a Messages body to the internal ChatRequest', () => {
    expect(toChatRequest(conversation)).toMatchInlineSnapshot(`
      {
        "max_tokens": 2048,
        "messages": [
          {
            "content": [
              {
                "cache_control": {
                  "type": "ephemeral",
                },
                "text": "Be brief.",
                "type": "text",
              },
            ],
            "role": "system",
          },
          {
            "content": [
              {
                "text": "Weather in Paris?",
                "type": "text",
              },
              {
                "image_url": {
                  "url": "data:image/png;base64,iVBORw0KGgo=",
                },
                "type": "image_url",
              },
            ],
            "role": "user",
          },
          {
            "content": "Checking.",
            "reasoning_content": "Need the tool.",
            "reasoning_signature": "sig-1",
            "role": "assistant",
            "tool_calls": [
              {
                "function": {
                  "arguments": "{"city":"Paris"}",
                  "name": "get_weather",
                },
                "id": "toolu_01",
                "type": "function",
              },
            ],
          },
          {
            "content": "18C",
            "role": "tool",
            "tool_call_id": "toolu_01",
          },
          {
            "content": "Thanks",
            "role": "user",
          },
        ],
        "model": "claude-x",
        "parallel_tool_calls": false,
        "provider_options": {
          "anthropic": {
            "top_k": 5,
          },
        },
        "stop": [
          "END",
        ],
        "temperature": 0.3,
        "tool_choice": "required",
        "tools": [
          {
            "function": {
              "description": "Weather",
              "name": "get_weather",
              "parameters": {
                "properties": {
                  "city": {
                    "type": "string",
                  },
                },
                "type": "object",
              },
            },
            "type": "function",
          },
        ],
        "user": "u-1",
      }
    `);
  });

  it('round-trips through the Anthropic provider mapping', () => {
    const back = toAnthropicRequest(toChatRequest(conversation), {
      model: 'claude-x',
      stream: false,
      version: '2023-06-01',
    });
    const { system: _system, messages, ...rest } = back;
    expect(rest).toEqual({
      model: 'claude-x',
      max_tokens: 2048,
      stop_sequences: ['END'],
      temperature: 0.3,
      top_k: 5,
      tools: conversation.tools,
      tool_choice: { type: 'any', disable_parallel_tool_use: true },
      metadata: { user_id: 'u-1' },
    });
    expect(back.system).toEqual(conversation.system);
    expect(messages).toEqual([
      conversation.messages[0],
      conversation.messages[1],
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'toolu_01', content: '18C' },
          { type: 'text', text: 'Thanks' },
        ],
      },
    ]);
  });

  it('maps thinking, output_config and tool_result errors', () => {
    const request = toChatRequest({
      model: 'm',
      max_tokens: 20_000,
      messages: [
        {
          role: 'user',
          content: [{ type: 'tool_result', tool_use_id: 't1', content: 'boom', is_error: true }],
        },
      ],
      thinking: { type: 'enabled', budget_tokens: 8000 },
      output_config: {
        format: { type: 'json_schema', schema: { type: 'object' } },
        effort: 'high',
      },
    });
    // An explicit budget stays a budget (each provider maps it faithfully), not an effort level.
    expect(request.reasoning_effort).toBeUndefined();
    expect(request.reasoning_budget_tokens).toBe(8000);
    expect(request.response_format).toEqual({
      type: 'json_schema',
      json_schema: { name: 'output', schema: { type: 'object' }, strict: true },
    });
    expect(request.provider_options?.anthropic).toEqual({
      thinking: { type: 'enabled', budget_tokens: 8000 },
      output_config: {
        format: { type: 'json_schema', schema: { type: 'object' } },
        effort: 'high',
      },
    });
    expect(request.messages).toEqual([
      { role: 'tool', tool_call_id: 't1', content: 'boom', is_error: true },
    ]);
    const upstream = toAnthropicRequest(request, {
      model: 'm',
      stream: false,
      version: '2023-06-01',
    });
    expect(upstream.thinking).toEqual({ type: 'enabled', budget_tokens: 8000 });
    expect(upstream.output_config).toEqual({
      format: { type: 'json_schema', schema: { type: 'object' } },
      effort: 'high',
    });
  });

  it.each([
    [{ model: 'm', messages: [{ role: 'user', content: 'x' }] }, 'max_tokens'],
    [{ max_tokens: 5, messages: [{ role: 'user', content: 'x' }] }, 'model'],
    [{ model: 'm', max_tokens: 5, messages: [] }, 'messages'],
    [{ model: 'm', max_tokens: 5, messages: [{ role: 'bot', content: 'x' }] }, 'messages.0.role'],
    [{ model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 'x' }], n: 2 }, 'n'],
    [
      { model: 'm', max_tokens: 5, messages: [{ role: 'user', content: [{ type: 'video' }] }] },
      'messages.0.content.0.type',
    ],
    [
      {
        model: 'm',
        max_tokens: 5,
        messages: [{ role: 'user', content: 'x' }],
        tools: [{ type: 'web_search_20250305', name: 'web_search' }],
      },
      'tools.0.type',
    ],
    [
      {
        model: 'm',
        max_tokens: 5,
        messages: [{ role: 'user', content: 'x' }],
        tool_choice: { type: 'maybe' },
      },
      'tool_choice',
    ],
  ])('rejects %j at %s', (body, param) => {
    const error = rejection(body);
    expect(error.status).toBe(400);
    expect(error.param).toBe(param);
    expect(renderAnthropicError(error, 'req_1')).toMatchObject({
      type: 'error',
      error: { type: 'invalid_request_error' },
      request_id: 'req_1',
    });
  });
});

describe('anthropic surface: rendering', () => {
  it('renders a completion as an Anthropic message', () => {
    const completion: ChatCompletion = {
      id: 'chatcmpl-abc',
      object: 'chat.completion',
      created: 1,
      model: 'gpt-x',
      choices: [
        {
          index: 0,
          finish_reason: 'tool_calls',
          message: {
            role: 'assistant',
            content: 'Let me look.',
            reasoning_content: 'hmm',
            reasoning_signature: 'sig',
            tool_calls: [
              { id: 'call_1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } },
            ],
          },
        },
      ],
      usage: {
        prompt_tokens: 100,
        completion_tokens: 20,
        total_tokens: 120,
        prompt_tokens_details: { cached_tokens: 60 },
        completion_tokens_details: { reasoning_tokens: 5 },
      },
    };
    expect(toAnthropicMessage(completion, 'logical')).toMatchInlineSnapshot(`
      {
        "content": [
          {
            "signature": "sig",
            "thinking": "hmm",
            "type": "thinking",
          },
          {
            "text": "Let me look.",
            "type": "text",
          },
          {
            "id": "call_1",
            "input": {
              "a": 1,
            },
            "name": "f",
            "type": "tool_use",
          },
        ],
        "id": "msg_abc",
        "model": "logical",
        "role": "assistant",
        "stop_reason": "tool_use",
        "stop_sequence": null,
        "type": "message",
        "usage": {
          "cache_creation_input_tokens": 0,
          "cache_read_input_tokens": 60,
          "input_tokens": 40,
          "output_tokens": 20,
          "output_tokens_details": {
            "thinking_tokens": 5,
          },
        },
      }
    `);
  });

  it('maps finish reasons and stop sequences', () => {
    const base: ChatCompletion = {
      id: 'msg_1',
      object: 'chat.completion',
      created: 1,
      model: 'm',
      choices: [],
    };
    const render = (
      finish: 'stop' | 'length' | 'content_filter',
      extra: Record<string, unknown> = {},
    ) =>
      toAnthropicMessage(
        {
          ...base,
          choices: [
            {
              index: 0,
              finish_reason: finish,
              message: { role: 'assistant', content: 'x' },
              ...extra,
            },
          ],
        },
        'm',
      );
    expect(render('stop').stop_reason).toBe('end_turn');
    expect(render('length').stop_reason).toBe('max_tokens');
    expect(render('content_filter').stop_reason).toBe('refusal');
    expect([
      render('stop', { stop_sequence: 'END' }).stop_reason,
      render('stop', { stop_sequence: 'END' }).stop_sequence,
    ]).toEqual(['stop_sequence', 'END']);
  });

  it('maps gateway errors to Anthropic statuses and types', () => {
    const error = (status: number, errorClass?: 'overloaded') =>
      new GatewayError('x', {
        code: 'upstream_error',
        status,
        ...(errorClass ? { errorClass } : {}),
      });
    expect(anthropicErrorOf(error(529))).toEqual({ status: 529, type: 'overloaded_error' });
    expect(anthropicErrorOf(error(503, 'overloaded'))).toEqual({
      status: 529,
      type: 'overloaded_error',
    });
    expect(anthropicErrorOf(error(429))).toEqual({ status: 429, type: 'rate_limit_error' });
    expect(anthropicErrorOf(error(401))).toEqual({ status: 401, type: 'authentication_error' });
    expect(anthropicErrorOf(error(402))).toEqual({ status: 402, type: 'billing_error' });
    expect(anthropicErrorOf(error(404))).toEqual({ status: 404, type: 'not_found_error' });
    expect(anthropicErrorOf(error(502))).toEqual({ status: 502, type: 'api_error' });
    expect(anthropicErrorOf(error(504))).toEqual({ status: 504, type: 'timeout_error' });
  });
});

function chunk(
  delta: ChatCompletionChunk['choices'][number]['delta'],
  finish: ChatCompletionChunk['choices'][number]['finish_reason'] = null,
  extra: Record<string, unknown> = {},
): ChatCompletionChunk {
  return {
    id: 'chatcmpl-9',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'm',
    choices: [{ index: 0, delta, finish_reason: finish, ...extra }],
  };
}

describe('anthropic surface: stream rendering', () => {
  it('renders thinking, text and parallel tool calls as Anthropic events', () => {
    const renderer = createAnthropicStreamRenderer({ model: 'logical' });
    const chunks: ChatCompletionChunk[] = [
      chunk({ role: 'assistant', content: '' }),
      chunk({ reasoning_content: 'Let me ' }),
      chunk({ reasoning_content: 'think.' }),
      chunk({ reasoning_signature: 'sig-9' }),
      chunk({ content: 'Calling.' }),
      chunk({
        tool_calls: [
          { index: 0, id: 'toolu_a', type: 'function', function: { name: 'f', arguments: '' } },
        ],
      }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '{"x":' } }] }),
      chunk({ tool_calls: [{ index: 0, function: { arguments: '1}' } }] }),
      chunk({
        tool_calls: [
          { index: 1, id: 'toolu_b', type: 'function', function: { name: 'g', arguments: '{}' } },
        ],
      }),
      chunk({}, 'tool_calls'),
      {
        id: 'chatcmpl-9',
        object: 'chat.completion.chunk',
        created: 1,
        model: 'm',
        choices: [],
        usage: {
          prompt_tokens: 50,
          completion_tokens: 9,
          total_tokens: 59,
          prompt_tokens_details: { cached_tokens: 10 },
        },
      },
    ];
    let text = renderer.start(chunks[0]);
    for (const item of chunks) text += renderer.push(item);
    text += renderer.end();
    const events = text
      .trim()
      .split('\n\n')
      .map((block) => {
        const [event, data] = block.split('\n');
        const parsed = JSON.parse(data!.slice('data: '.length)) as { type: string };
        expect(event).toBe(`event: ${parsed.type}`);
        return parsed;
      });
    expect(events).toMatchInlineSnapshot(`
      [
        {
          "message": {
            "content": [],
            "id": "msg_9",
            "model": "logical",
            "role": "assistant",
            "stop_reason": null,
            "stop_sequence": null,
            "type": "message",
            "usage": {
              "cache_creation_input_tokens": 0,
              "cache_read_input_tokens": 0,
              "input_tokens": 0,
              "output_tokens": 0,
            },
          },
          "type": "message_start",
        },
        {
          "type": "ping",
        },
        {
          "content_block": {
            "signature": "",
            "thinking": "",
            "type": "thinking",
          },
          "index": 0,
          "type": "content_block_start",
        },
        {
          "delta": {
            "thinking": "Let me ",
            "type": "thinking_delta",
          },
          "index": 0,
          "type": "content_block_delta",
        },
        {
          "delta": {
            "thinking": "think.",
            "type": "thinking_delta",
          },
          "index": 0,
          "type": "content_block_delta",
        },
        {
          "delta": {
            "signature": "sig-9",
            "type": "signature_delta",
          },
          "index": 0,
          "type": "content_block_delta",
        },
        {
          "index": 0,
          "type": "content_block_stop",
        },
        {
          "content_block": {
            "text": "",
            "type": "text",
          },
          "index": 1,
          "type": "content_block_start",
        },
        {
          "delta": {
            "text": "Calling.",
            "type": "text_delta",
          },
          "index": 1,
          "type": "content_block_delta",
        },
        {
          "index": 1,
          "type": "content_block_stop",
        },
        {
          "content_block": {
            "id": "toolu_a",
            "input": {},
            "name": "f",
            "type": "tool_use",
          },
          "index": 2,
          "type": "content_block_start",
        },
        {
          "delta": {
            "partial_json": "{"x":",
            "type": "input_json_delta",
          },
          "index": 2,
          "type": "content_block_delta",
        },
        {
          "delta": {
            "partial_json": "1}",
            "type": "input_json_delta",
          },
          "index": 2,
          "type": "content_block_delta",
        },
        {
          "index": 2,
          "type": "content_block_stop",
        },
        {
          "content_block": {
            "id": "toolu_b",
            "input": {},
            "name": "g",
            "type": "tool_use",
          },
          "index": 3,
          "type": "content_block_start",
        },
        {
          "delta": {
            "partial_json": "{}",
            "type": "input_json_delta",
          },
          "index": 3,
          "type": "content_block_delta",
        },
        {
          "index": 3,
          "type": "content_block_stop",
        },
        {
          "delta": {
            "stop_reason": "tool_use",
            "stop_sequence": null,
          },
          "type": "message_delta",
          "usage": {
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 10,
            "input_tokens": 40,
            "output_tokens": 9,
          },
        },
        {
          "type": "message_stop",
        },
      ]
    `);
  });

  it('reports the stop sequence in message_delta', () => {
    const renderer = createAnthropicStreamRenderer({ model: 'm' });
    const text =
      renderer.start(undefined) +
      renderer.push(chunk({ content: 'a' })) +
      renderer.push(chunk({}, 'stop', { stop_sequence: 'END' })) +
      renderer.end();
    expect(text).toContain('"delta":{"stop_reason":"stop_sequence","stop_sequence":"END"}');
  });
});
