import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ChatCompletion, ChatCompletionChunk, ChatRequest } from '../../src/core/chat.js';
import { GatewayError, UpstreamError } from '../../src/errors/index.js';
import type { GatewayCall, ProviderAdapter } from '../../src/providers/adapter.js';
import { anthropicAdapter } from '../../src/providers/anthropic/index.js';
import { createTransport } from '../../src/transport/http.js';
import { decodeSse } from '../../src/transport/sse.js';
import { type FakeStep, type FakeUpstream, startFakeUpstream } from '../fakes/upstream.js';

const NOW = Date.parse('2026-01-01T00:00:00Z');
const transport = createTransport();
let upstream: FakeUpstream;
let adapter: ProviderAdapter;

beforeAll(async () => {
  upstream = await startFakeUpstream();
  adapter = anthropicAdapter(
    'anthropic-main',
    {
      type: 'anthropic',
      apiKey: 'sk-ant-fake',
      version: '2023-06-01',
      sandbox: false,
      baseUrl: upstream.url,
    },
    { env: {}, now: () => NOW },
  );
});
afterAll(async () => {
  await upstream.close();
  await transport.close();
});
beforeEach(() => upstream.script([{ body: {} }]));

function call(stream: boolean, body: Partial<ChatRequest> = {}): GatewayCall {
  return {
    requestId: 'req_1',
    operation: 'chat',
    body: { model: 'logical', messages: [{ role: 'user', content: 'hi' }], ...body },
    stream,
    deployment: { provider: 'anthropic-main', model: 'claude-fake' },
    signal: AbortSignal.timeout(5000),
  };
}

async function complete(): Promise<ChatCompletion> {
  const request = call(false);
  const response = await transport.send(await adapter.buildRequest(request), request.signal);
  if (response.status >= 300)
    throw adapter.classifyError(
      { status: response.status, headers: response.headers, body: await response.text() },
      request,
    );
  return adapter.parseResponse(JSON.parse(await response.text()), request);
}

async function stream(): Promise<ChatCompletionChunk[]> {
  const request = call(true);
  const response = await transport.send(await adapter.buildRequest(request), request.signal);
  if (response.status >= 300)
    throw adapter.classifyError(
      { status: response.status, headers: response.headers, body: await response.text() },
      request,
    );
  const chunks: ChatCompletionChunk[] = [];
  for await (const item of adapter.mapStream(decodeSse(response.body), request))
    chunks.push(item.chunk());
  return chunks;
}

async function caught(promise: Promise<unknown>): Promise<UpstreamError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  if (!(error instanceof UpstreamError))
    throw new Error(`expected an UpstreamError, got ${String(error)}`);
  return error;
}

const sse = (data: Record<string, unknown>) =>
  `event: ${String(data.type)}\ndata: ${JSON.stringify(data)}\n\n`;
const start = (usage: Record<string, unknown>) =>
  sse({
    type: 'message_start',
    message: {
      id: 'msg_01',
      type: 'message',
      role: 'assistant',
      model: 'claude-fake-2',
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage,
    },
  });

describe('anthropic adapter against a scripted upstream', () => {
  it('maps a message with thinking, text, tool calls and cache usage', async () => {
    upstream.script([
      {
        headers: { 'request-id': 'req_up' },
        body: {
          id: 'msg_01',
          type: 'message',
          role: 'assistant',
          model: 'claude-fake-2',
          content: [
            { type: 'thinking', thinking: 'Plan.', signature: 'EqQBCgIYAhIM' },
            { type: 'text', text: 'Sure.' },
            { type: 'tool_use', id: 'toolu_01A', name: 'lookup', input: { q: 'x' } },
          ],
          stop_reason: 'tool_use',
          stop_sequence: null,
          usage: {
            input_tokens: 10,
            output_tokens: 7,
            cache_read_input_tokens: 100,
            cache_creation_input_tokens: 20,
          },
        },
      },
    ]);
    expect(await complete()).toMatchInlineSnapshot(`
      {
        "choices": [
          {
            "finish_reason": "tool_calls",
            "index": 0,
            "logprobs": null,
            "message": {
              "content": "Sure.",
              "reasoning_content": "Plan.",
              "reasoning_signature": "EqQBCgIYAhIM",
              "role": "assistant",
              "tool_calls": [
                {
                  "function": {
                    "arguments": "{"q":"x"}",
                    "name": "lookup",
                  },
                  "id": "toolu_01A",
                  "type": "function",
                },
              ],
            },
          },
        ],
        "created": 1767225600,
        "id": "msg_01",
        "model": "claude-fake-2",
        "object": "chat.completion",
        "usage": {
          "completion_tokens": 7,
          "completion_tokens_details": {
            "reasoning_tokens": 0,
          },
          "prompt_tokens": 130,
          "prompt_tokens_details": {
            "cache_write_tokens": 20,
            "cached_tokens": 100,
          },
          "total_tokens": 137,
        },
      }
    `);
    const sent = upstream.requests.at(-1)!;
    expect(sent.url).toBe('/v1/messages');
    expect(sent.headers['x-api-key']).toBe('sk-ant-fake');
    expect(sent.headers['anthropic-version']).toBe('2023-06-01');
  });

  it.each([
    ['end_turn', 'stop'],
    ['stop_sequence', 'stop'],
    ['max_tokens', 'length'],
    ['tool_use', 'tool_calls'],
    ['refusal', 'content_filter'],
    ['model_context_window_exceeded', 'length'],
    ['pause_turn', 'stop'],
  ])('maps stop_reason %s to %s', async (stopReason, finish) => {
    upstream.script([
      {
        body: {
          id: 'msg_1',
          type: 'message',
          role: 'assistant',
          model: 'm',
          content: [{ type: 'text', text: 'x' }],
          stop_reason: stopReason,
          stop_sequence: null,
          usage: { input_tokens: 1, output_tokens: 1 },
        },
      },
    ]);
    expect((await complete()).choices[0]?.finish_reason).toBe(finish);
  });

  it('maps a stream with thinking, text and two tool calls, split across chunk boundaries', async () => {
    const events = [
      start({
        input_tokens: 12,
        output_tokens: 1,
        cache_read_input_tokens: 30,
        cache_creation_input_tokens: 0,
      }),
      sse({ type: 'ping' }),
      sse({
        type: 'content_block_start',
        index: 0,
        content_block: { type: 'thinking', thinking: '', signature: '' },
      }),
      sse({
        type: 'content_block_delta',
        index: 0,
        delta: { type: 'thinking_delta', thinking: 'Hmm ' },
      }),
      sse({
        type: 'content_block_delta',
        index: 0,
        delta: { type: 'thinking_delta', thinking: 'ok.' },
      }),
      sse({
        type: 'content_block_delta',
        index: 0,
        delta: { type: 'signature_delta', signature: 'SIG==' },
      }),
      sse({ type: 'content_block_stop', index: 0 }),
      sse({ type: 'content_block_start', index: 1, content_block: { type: 'text', text: '' } }),
      sse({ type: 'content_block_delta', index: 1, delta: { type: 'text_delta', text: 'Héllo' } }),
      sse({ type: 'content_block_stop', index: 1 }),
      sse({
        type: 'content_block_start',
        index: 2,
        content_block: { type: 'tool_use', id: 'toolu_A', name: 'a', input: {} },
      }),
      sse({
        type: 'content_block_delta',
        index: 2,
        delta: { type: 'input_json_delta', partial_json: '' },
      }),
      sse({
        type: 'content_block_delta',
        index: 2,
        delta: { type: 'input_json_delta', partial_json: '{"k":' },
      }),
      sse({
        type: 'content_block_delta',
        index: 2,
        delta: { type: 'input_json_delta', partial_json: '"v"}' },
      }),
      sse({ type: 'content_block_stop', index: 2 }),
      sse({
        type: 'content_block_start',
        index: 3,
        content_block: { type: 'tool_use', id: 'toolu_B', name: 'b', input: {} },
      }),
      sse({
        type: 'content_block_delta',
        index: 3,
        delta: { type: 'input_json_delta', partial_json: '{}' },
      }),
      sse({ type: 'content_block_stop', index: 3 }),
      sse({ type: 'some_future_event', detail: 1 }),
      sse({
        type: 'message_delta',
        delta: { stop_reason: 'tool_use', stop_sequence: null },
        usage: { output_tokens: 5 },
      }),
      sse({
        type: 'message_delta',
        delta: { stop_reason: 'tool_use', stop_sequence: null },
        usage: { output_tokens: 9, output_tokens_details: { thinking_tokens: 3 } },
      }),
      sse({ type: 'message_stop' }),
    ].join('');
    // Cut the stream at odd places, inside events and inside lines.
    const pieces: string[] = [];
    for (let at = 0; at < events.length; at += 37) pieces.push(events.slice(at, at + 37));
    upstream.script([{ chunks: pieces }]);
    const chunks = await stream();
    const deltas = chunks.map((chunk) => chunk.choices[0]?.delta ?? null);
    expect(deltas).toEqual([
      { role: 'assistant', content: '' },
      { reasoning_content: 'Hmm ' },
      { reasoning_content: 'ok.' },
      { reasoning_signature: 'SIG==' },
      { content: 'Héllo' },
      {
        tool_calls: [
          { index: 0, id: 'toolu_A', type: 'function', function: { name: 'a', arguments: '' } },
        ],
      },
      { tool_calls: [{ index: 0, function: { arguments: '{"k":' } }] },
      { tool_calls: [{ index: 0, function: { arguments: '"v"}' } }] },
      {
        tool_calls: [
          { index: 1, id: 'toolu_B', type: 'function', function: { name: 'b', arguments: '' } },
        ],
      },
      { tool_calls: [{ index: 1, function: { arguments: '{}' } }] },
      {},
      null,
    ]);
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe('tool_calls');
    expect(chunks.at(-1)).toMatchObject({
      id: 'msg_01',
      model: 'claude-fake-2',
      choices: [],
      usage: {
        prompt_tokens: 42,
        completion_tokens: 9,
        total_tokens: 51,
        prompt_tokens_details: { cached_tokens: 30 },
        completion_tokens_details: { reasoning_tokens: 3 },
      },
    });
  });

  it('throws the classified error for an in-stream error event', async () => {
    upstream.script([
      {
        chunks: [
          start({ input_tokens: 1, output_tokens: 1 }),
          sse({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
          sse({ type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }),
        ],
      },
    ]);
    const error = await caught(stream());
    expect([error.code, error.errorClass, error.status, error.retryable, error.failover]).toEqual([
      'upstream_overloaded',
      'overloaded',
      529,
      true,
      true,
    ]);
  });

  it('fails a stream that ends before message_stop', async () => {
    upstream.script([
      {
        chunks: [
          start({ input_tokens: 1, output_tokens: 1 }),
          sse({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
        ],
      },
    ]);
    const error = await stream().then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(GatewayError);
    expect((error as GatewayError).code).toBe('upstream_bad_response');
  });

  it('fails a stream whose connection is reset mid-way', async () => {
    upstream.script([
      {
        chunks: [start({ input_tokens: 1, output_tokens: 1 }), sse({ type: 'ping' })],
        resetAfterChunks: 1,
      },
    ]);
    await expect(stream()).rejects.toBeTruthy();
  });

  const errorBody = (type: string, message: string) => ({
    type: 'error',
    error: { type, message },
    request_id: 'req_e',
  });
  it.each<
    [
      string,
      FakeStep,
      {
        code: string;
        errorClass: string;
        status: number;
        retryable: boolean;
        failover: boolean;
        retryAfterMs?: number;
      },
    ]
  >([
    [
      '400 invalid_request_error',
      { status: 400, body: errorBody('invalid_request_error', 'messages: field required') },
      {
        code: 'invalid_request',
        errorClass: 'invalid_request',
        status: 400,
        retryable: false,
        failover: false,
      },
    ],
    [
      '400 prompt is too long',
      {
        status: 400,
        body: errorBody(
          'invalid_request_error',
          'prompt is too long: 210000 tokens > 200000 maximum',
        ),
      },
      {
        code: 'context_length_exceeded',
        errorClass: 'context_overflow',
        status: 400,
        retryable: false,
        failover: true,
      },
    ],
    [
      '401 authentication_error',
      { status: 401, body: errorBody('authentication_error', 'invalid x-api-key') },
      { code: 'upstream_auth', errorClass: 'auth', status: 502, retryable: false, failover: true },
    ],
    [
      '402 billing_error',
      { status: 402, body: errorBody('billing_error', 'credit balance too low') },
      {
        code: 'quota_exhausted',
        errorClass: 'quota_exhausted',
        status: 402,
        retryable: false,
        failover: true,
      },
    ],
    [
      '403 permission_error',
      { status: 403, body: errorBody('permission_error', 'no access') },
      { code: 'upstream_auth', errorClass: 'auth', status: 502, retryable: false, failover: true },
    ],
    [
      '404 not_found_error',
      { status: 404, body: errorBody('not_found_error', 'model: claude-nope') },
      {
        code: 'upstream_not_found',
        errorClass: 'not_found',
        status: 502,
        retryable: false,
        failover: true,
      },
    ],
    [
      '409 conflict_error',
      { status: 409, body: errorBody('conflict_error', 'conflict') },
      {
        code: 'upstream_error',
        errorClass: 'conflict',
        status: 409,
        retryable: true,
        failover: true,
      },
    ],
    [
      '413 from the CDN (not JSON)',
      { status: 413, body: '<html>Request Entity Too Large</html>' },
      {
        code: 'invalid_request',
        errorClass: 'invalid_request',
        status: 413,
        retryable: false,
        failover: false,
      },
    ],
    [
      '429 rate_limit_error',
      {
        status: 429,
        headers: { 'retry-after': '7' },
        body: errorBody('rate_limit_error', 'slow down'),
      },
      {
        code: 'upstream_rate_limited',
        errorClass: 'rate_limited',
        status: 429,
        retryable: true,
        failover: true,
        retryAfterMs: 7000,
      },
    ],
    [
      '429 with only ratelimit reset headers',
      {
        status: 429,
        headers: {
          'anthropic-ratelimit-tokens-remaining': '0',
          'anthropic-ratelimit-tokens-reset': '2026-01-01T00:00:30Z',
          'anthropic-ratelimit-requests-reset': '2026-01-01T00:00:05Z',
        },
        body: errorBody('rate_limit_error', 'tokens'),
      },
      {
        code: 'upstream_rate_limited',
        errorClass: 'rate_limited',
        status: 429,
        retryable: true,
        failover: true,
        retryAfterMs: 30_000,
      },
    ],
    [
      '500 api_error',
      { status: 500, body: errorBody('api_error', 'internal') },
      {
        code: 'upstream_error',
        errorClass: 'server_error',
        status: 502,
        retryable: true,
        failover: true,
      },
    ],
    [
      '503 without a body',
      { status: 503, body: '' },
      {
        code: 'upstream_overloaded',
        errorClass: 'overloaded',
        status: 503,
        retryable: true,
        failover: true,
      },
    ],
    [
      '504 timeout_error',
      { status: 504, body: errorBody('timeout_error', 'timeout') },
      {
        code: 'upstream_timeout',
        errorClass: 'timeout',
        status: 504,
        retryable: true,
        failover: true,
      },
    ],
    [
      '529 overloaded_error',
      { status: 529, body: errorBody('overloaded_error', 'Overloaded') },
      {
        code: 'upstream_overloaded',
        errorClass: 'overloaded',
        status: 529,
        retryable: true,
        failover: true,
      },
    ],
  ])('classifies %s', async (_name, step, expected) => {
    upstream.script([step]);
    const error = await caught(complete());
    expect({
      code: error.code,
      errorClass: error.errorClass,
      status: error.status,
      retryable: error.retryable,
      failover: error.failover,
      ...(error.retryAfterMs !== undefined ? { retryAfterMs: error.retryAfterMs } : {}),
    }).toEqual(expected);
    expect(error.provider).toBe('anthropic-main');
    expect(error.upstreamStatus).toBe(step.status);
  });
});
