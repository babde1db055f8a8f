import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ChatCompletion, ChatCompletionChunk } from '../../src/core/chat.js';
import { GatewayError } from '../../src/errors/index.js';
import type {
  ChatInvocation,
  ChatOutcome,
  Credential,
  Gateway,
  Principal,
  RouteMeta,
} from '../../src/gateway/types.js';
import { itemOf, type StreamItem } from '../../src/providers/adapter.js';
import { createHttpServer1And2, type HttpServer } from '../../src/server/http-server.js';
import { createAnthropicMessagesRoutes } from '../../src/surfaces/anthropic-messages/index.js';
import { createLogger } from '../../src/telemetry/logger.js';

const principal: Principal = { keyId: 'k1', tenantId: 't', projectId: 'p', isMaster: false };
const meta: RouteMeta = {
  model: 'claude-x',
  deployment: 'anthropic',
  upstreamModel: 'claude-up',
  partner: null,
  attempts: 1,
  sandbox: true,
  openAIFamily: false,
};
const credentials: Credential[] = [];
const invocations: ChatInvocation[] = [];
const rejected: Array<{ status: number; code: string }> = [];
let answer: (invocation: ChatInvocation) => Promise<ChatOutcome>;

const gateway: Gateway = {
  async authenticate(credential) {
    credentials.push(credential);
    if (credential.kind === 'bearer' && credential.token === 'sk-good') return principal;
    throw new GatewayError('Invalid API key', {
      code: 'unauthorized',
      status: 401,
      errorClass: 'auth',
      retryable: false,
    });
  },
  resolveSigV4Secret: async () => undefined,
  chat: async (invocation) => {
    invocations.push(invocation);
    return answer(invocation);
  },
  embeddings: async () => {
    throw new Error('unused');
  },
  models: () => [],
  recordRejected: async (input) => void rejected.push({ status: input.status, code: input.code }),
};

let server: HttpServer;
let url: string;
beforeAll(async () => {
  server = createHttpServer1And2({
    routes: createAnthropicMessagesRoutes({ gateway }),
    logger: createLogger({ level: 'silent' }),
    maxBodyBytes: 1 << 20,
    drainTimeoutMs: 100,
  });
  url = (await server.listen(0, '127.0.0.1')).url;
});
afterAll(() => server.close());
beforeEach(() => {
  credentials.length = 0;
  invocations.length = 0;
  rejected.length = 0;
});

const completion: ChatCompletion = {
  id: 'msg_abc',
  object: 'chat.completion',
  created: 1,
  model: 'claude-up',
  choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'Hello!' } }],
  usage: {
    prompt_tokens: 12,
    completion_tokens: 3,
    total_tokens: 15,
    prompt_tokens_details: { cached_tokens: 2 },
  },
};

const body = { model: 'claude-x', max_tokens: 100, messages: [{ role: 'user', content: 'Hi' }] };
const post = (
  path: string,
  payload: unknown,
  headers: Record<string, string> = { 'x-api-key': 'sk-good' },
) =>
  fetch(url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', ...headers },
    body: typeof payload === 'string' ? payload : JSON.stringify(payload),
  });

function chunk(
  delta: ChatCompletionChunk['choices'][number]['delta'],
  finish: ChatCompletionChunk['choices'][number]['finish_reason'] = null,
): ChatCompletionChunk {
  return {
    id: 'msg_s',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'm',
    choices: [{ index: 0, delta, finish_reason: finish }],
  };
}

async function* items(
  list: ChatCompletionChunk[],
  failAfter?: GatewayError,
): AsyncGenerator<StreamItem> {
  for (const item of list) yield itemOf(item);
  if (failAfter) throw failAfter;
}

function events(text: string): Array<{ event: string; data: Record<string, unknown> }> {
  return text
    .trim()
    .split('\n\n')
    .map((block) => {
      const [event, data] = block.split('\n');
      return {
        event: event!.replace('event: ', ''),
        data: JSON.parse(data!.replace('data: ', '')) as Record<string, unknown>,
      };
    });
}

describe('POST /v1/messages', () => {
  it('answers JSON with the Anthropic message shape and request ids', async () => {
    answer = async () => ({ kind: 'json', completion, usage: undefined, meta, headers: {} });
    const response = await post('/v1/messages', body);
    expect(response.status).toBe(200);
    expect(response.headers.get('request-id')).toMatch(/^req_/);
    expect(response.headers.get('x-request-id')).toBe(response.headers.get('request-id'));
    expect(response.headers.get('x-switchyard-model')).toBe('claude-x');
    expect(await response.json()).toEqual({
      id: 'msg_abc',
      type: 'message',
      role: 'assistant',
      model: 'claude-x',
      content: [{ type: 'text', text: 'Hello!' }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: {
        input_tokens: 10,
        output_tokens: 3,
        cache_read_input_tokens: 2,
        cache_creation_input_tokens: 0,
      },
    });
    expect(invocations[0]).toMatchObject({
      surface: 'anthropic-messages',
      body: { model: 'claude-x', max_tokens: 100, messages: [{ role: 'user', content: 'Hi' }] },
    });
    expect(invocations[0]?.requestId).toBe(response.headers.get('request-id'));
  });

  it('accepts x-api-key and Authorization: Bearer, and passes no credential as none', async () => {
    answer = async () => ({ kind: 'json', completion, usage: undefined, meta, headers: {} });
    expect((await post('/v1/messages', body, { authorization: 'Bearer sk-good' })).status).toBe(
      200,
    );
    const anonymous = await post('/v1/messages', body, {});
    expect(anonymous.status).toBe(401);
    expect(credentials).toEqual([{ kind: 'bearer', token: 'sk-good' }, { kind: 'none' }]);
    expect(await anonymous.json()).toMatchObject({
      type: 'error',
      error: { type: 'authentication_error', message: 'Invalid API key' },
    });
    expect(rejected).toEqual([{ status: 401, code: 'unauthorized' }]);
  });

  it('answers validation errors in the Anthropic error shape', async () => {
    const response = await post('/v1/messages', {
      model: 'claude-x',
      messages: [{ role: 'user', content: 'x' }],
    });
    expect(response.status).toBe(400);
    const json = (await response.json()) as { request_id: string };
    expect(json).toEqual({
      type: 'error',
      error: {
        type: 'invalid_request_error',
        message: 'max_tokens: Input should be an integer greater than or equal to 1',
      },
      request_id: response.headers.get('request-id'),
    });
    expect((await post('/v1/messages', '{not json')).status).toBe(400);
    expect(invocations).toHaveLength(0);
  });

  it('keeps 529 for overload and passes retry hints for rate limits', async () => {
    answer = async () => {
      throw new GatewayError('Overloaded', {
        code: 'upstream_overloaded',
        status: 529,
        errorClass: 'overloaded',
      });
    };
    const overloaded = await post('/v1/messages', body);
    expect(overloaded.status).toBe(529);
    expect(await overloaded.json()).toMatchObject({
      type: 'error',
      error: { type: 'overloaded_error', message: 'Overloaded' },
    });
    answer = async () => {
      throw new GatewayError('Slow down', {
        code: 'rate_limited',
        status: 429,
        errorClass: 'rate_limited',
        retryAfterMs: 3000,
      });
    };
    const limited = await post('/v1/messages', body);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('3');
    expect(await limited.json()).toMatchObject({ error: { type: 'rate_limit_error' } });
    answer = async () => {
      throw new GatewayError('no such model', {
        code: 'model_not_found',
        status: 404,
        errorClass: 'not_found',
        retryable: false,
      });
    };
    const missing = await post('/v1/messages', body);
    expect([missing.status, missing.headers.get('x-should-retry')]).toEqual([404, 'false']);
  });

  it('streams Anthropic events in order', async () => {
    answer = async () => ({
      kind: 'stream',
      headers: {},
      meta,
      items: items([
        chunk({ role: 'assistant', content: '' }),
        chunk({ content: 'Hel' }),
        chunk({ content: 'lo' }),
        chunk({
          tool_calls: [
            { index: 0, id: 'toolu_1', type: 'function', function: { name: 'f', arguments: '' } },
          ],
        }),
        chunk({ tool_calls: [{ index: 0, function: { arguments: '{"a":1}' } }] }),
        chunk({}, 'tool_calls'),
        {
          id: 'msg_s',
          object: 'chat.completion.chunk',
          created: 1,
          model: 'm',
          choices: [],
          usage: { prompt_tokens: 9, completion_tokens: 4, total_tokens: 13 },
        },
      ]),
    });
    const response = await post('/v1/messages', { ...body, stream: true });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const received = events(await response.text());
    expect(received.map((event) => event.event)).toEqual([
      'message_start',
      'ping',
      'content_block_start',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'content_block_start',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    expect(received.every((event) => event.data.type === event.event)).toBe(true);
    expect(received.at(-2)?.data).toEqual({
      type: 'message_delta',
      delta: { stop_reason: 'tool_use', stop_sequence: null },
      usage: {
        input_tokens: 9,
        output_tokens: 4,
        cache_read_input_tokens: 0,
        cache_creation_input_tokens: 0,
      },
    });
    expect(invocations[0]?.body.stream).toBe(true);
  });

  it('answers an error that comes before the first item with its HTTP status', async () => {
    answer = async () => ({
      kind: 'stream',
      headers: {},
      meta,
      items: items(
        [],
        new GatewayError('Overloaded', {
          code: 'upstream_overloaded',
          status: 529,
          errorClass: 'overloaded',
        }),
      ),
    });
    const response = await post('/v1/messages', { ...body, stream: true });
    expect(response.status).toBe(529);
    expect(await response.json()).toMatchObject({
      type: 'error',
      error: { type: 'overloaded_error' },
    });
  });

  it('ends a failing stream with an error event and no message_stop', async () => {
    answer = async () => ({
      kind: 'stream',
      headers: {},
      meta,
      items: items(
        [chunk({ role: 'assistant', content: '' }), chunk({ content: 'partial' })],
        new GatewayError('Overloaded', {
          code: 'upstream_overloaded',
          status: 529,
          errorClass: 'overloaded',
        }),
      ),
    });
    const response = await post('/v1/messages', { ...body, stream: true });
    expect(response.status).toBe(200);
    const received = events(await response.text());
    expect(received.at(-1)).toEqual({
      event: 'error',
      data: { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } },
    });
    expect(received.some((event) => event.event === 'message_stop')).toBe(false);
  });
});

describe('POST /v1/messages/count_tokens', () => {
  it('estimates input tokens', async () => {
    const response = await post('/v1/messages/count_tokens', {
      model: 'claude-x',
      messages: [{ role: 'user', content: 'Hello there, how are you?' }],
    });
    expect(response.status).toBe(200);
    const json = (await response.json()) as { input_tokens: number };
    expect(json.input_tokens).toBeGreaterThan(3);
    expect(json.input_tokens).toBeLessThan(12);
  });
});
