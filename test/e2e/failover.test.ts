import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  closedPort,
  type FakeStep,
  type FakeUpstream,
  startFakeUpstream,
} from '../fakes/upstream.js';
import {
  call,
  cloudProviders,
  type Clouds,
  type RunningGateway,
  startClouds,
  startGateway,
} from '../helpers/gateway.js';
import { streamRequest } from '../helpers/sse.js';

/**
 * Failover before the first byte: the scripted fake upstream is the first deployment, the OpenAI
 * emulator the second. After the first byte, an SSE error event instead.
 */

let clouds: Clouds;
let upstream: FakeUpstream;
let gateway: RunningGateway | undefined;
beforeAll(async () => {
  clouds = await startClouds();
  upstream = await startFakeUpstream();
});
afterAll(async () => {
  await upstream.close();
  await clouds.close();
});
afterEach(async () => {
  await gateway?.close();
  gateway = undefined;
  upstream.requests.length = 0;
  clouds.openai.setDown(false);
  clouds.azure.setDown(false);
});

/** A gateway whose model tries `first` (at `firstUrl`), then the OpenAI emulator (`second`). */
async function failoverGateway(
  firstUrl: string,
  routing: Record<string, unknown> = {},
): Promise<RunningGateway> {
  gateway = await startGateway({
    partners: { openai: {}, fakecloud: {} },
    providers: {
      first: {
        type: 'openai',
        partner: 'fakecloud',
        baseUrl: `${firstUrl}/v1`,
        apiKey: 'sk-first',
      },
      second: { ...cloudProviders(clouds).openai, partner: 'openai' },
    },
    models: {
      'gpt-4o-mini': {
        deployments: [
          { provider: 'first', model: 'gpt-4o-mini' },
          { provider: 'second', model: 'gpt-4o-mini' },
        ],
      },
    },
    routing,
  });
  return gateway;
}

const body = {
  model: 'gpt-4o-mini',
  messages: [{ role: 'user', content: 'say answered by the second deployment' }],
};

const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
  `data: ${JSON.stringify({ id: 'chatcmpl-f', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o-mini', choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] })}\n\n`;

const FAILURES: Array<[string, FakeStep, { status: number | null; errorClass: string }]> = [
  [
    '429 with retry-after',
    {
      status: 429,
      headers: { 'retry-after': '1' },
      body: {
        error: {
          message: 'Rate limit reached',
          type: 'requests',
          param: null,
          code: 'rate_limit_exceeded',
        },
      },
    },
    { status: 429, errorClass: 'rate_limited' },
  ],
  [
    '500',
    {
      status: 500,
      body: {
        error: {
          message: 'The server had an error',
          type: 'server_error',
          param: null,
          code: null,
        },
      },
    },
    { status: 500, errorClass: 'server_error' },
  ],
  [
    '503',
    {
      status: 503,
      body: {
        error: {
          message: 'The engine is currently overloaded',
          type: 'server_error',
          param: null,
          code: null,
        },
      },
    },
    { status: 503, errorClass: 'overloaded' },
  ],
  [
    '529 (overloaded, as Anthropic and some proxies send it)',
    {
      status: 529,
      body: { error: { message: 'Overloaded', type: 'overloaded_error', param: null, code: null } },
    },
    { status: 529, errorClass: 'overloaded' },
  ],
  [
    'garbage body (non-JSON 200)',
    { status: 200, body: '<html><body>502 Bad Gateway from some proxy</body></html>' },
    { status: null, errorClass: 'bad_response' },
  ],
  [
    'reset before headers',
    { resetBeforeHeaders: true },
    { status: null, errorClass: 'connection' },
  ],
];

describe('failover to the second deployment', () => {
  it.each(FAILURES)('%s → answered by the second deployment', async (_name, step, first) => {
    upstream.script([step]);
    const { url, app } = await failoverGateway(upstream.url);
    const answer = await call(`${url}/v1/chat/completions`, { body });
    expect(answer.status).toBe(200);
    expect(answer.body.choices[0].message.content).toBe('answered by the second deployment');
    expect(answer.headers['x-switchyard-deployment']).toBe('second');
    expect(answer.headers['x-switchyard-partner']).toBe('openai');
    expect(answer.headers['x-switchyard-attempts']).toBe('2');
    expect(upstream.requests).toHaveLength(1);

    const row = await app.usage.get(String(answer.headers['x-request-id']));
    expect(row).toMatchObject({ status: 'ok', deployment: 'second', attempts: 2 });
    expect(
      row?.attemptLog.map((attempt) => [attempt.provider, attempt.status, attempt.errorClass]),
    ).toEqual([
      ['first', first.status, first.errorClass],
      ['second', 200, null],
    ]);
  });

  it('connection refused → answered by the second deployment', async () => {
    const port = await closedPort();
    const { url } = await failoverGateway(`http://127.0.0.1:${port}`);
    const answer = await call(`${url}/v1/chat/completions`, { body });
    expect(answer.status).toBe(200);
    expect(answer.body.choices[0].message.content).toBe('answered by the second deployment');
    expect(answer.headers['x-switchyard-deployment']).toBe('second');
    expect(answer.headers['x-switchyard-attempts']).toBe('2');
  });

  it('slow headers past routing.attemptTimeoutMs → answered by the second deployment', async () => {
    upstream.script([{ headersDelayMs: 5000, body: { never: 'used' } }]);
    const { url } = await failoverGateway(upstream.url, { attemptTimeoutMs: 400 });
    const answer = await call(`${url}/v1/chat/completions`, { body });
    expect(answer.status).toBe(200);
    // Failed over on the attempt timeout: had it waited the upstream's 5 s, the first deployment
    // would have answered. (No wall-clock assertion: a loaded machine stretches durations.)
    expect(answer.headers['x-switchyard-deployment']).toBe('second');
    expect(answer.headers['x-switchyard-attempts']).toBe('2');
    expect(upstream.requests).toHaveLength(1);
  });

  it.each([
    ['500', { status: 500, body: { error: { message: 'boom', type: 'server_error' } } }],
    ['reset before headers', { resetBeforeHeaders: true }],
    [
      'a 200 HTML page instead of a stream',
      {
        status: 200,
        headers: { 'content-type': 'text/html' },
        body: '<html><body>captive portal</body></html>',
      },
    ],
    ['a 200 stream with no event before [DONE]', { chunks: ['data: [DONE]\n\n'] }],
    [
      'a 200 stream whose first event is not JSON',
      { chunks: ['data: upstream exploded\n\n', 'data: [DONE]\n\n'] },
    ],
  ] as Array<[string, FakeStep]>)(
    'streaming: %s before the first byte → the second deployment streams',
    async (_name, step) => {
      upstream.script([step]);
      const { url } = await failoverGateway(upstream.url);
      const answer = await streamRequest(`${url}/v1/chat/completions`, { ...body, stream: true });
      expect(answer.status).toBe(200);
      expect(answer.headers['x-switchyard-deployment']).toBe('second');
      expect(answer.headers['x-switchyard-attempts']).toBe('2');
      expect(answer.done).toBe(true);
      expect(answer.chunks.map((item) => item.choices[0]?.delta.content ?? '').join('')).toBe(
        'answered by the second deployment',
      );
    },
  );
});

describe('no failover', () => {
  it('a 400 from the first deployment is returned as is', async () => {
    const upstreamError = {
      message: "Invalid 'temperature': decimal above maximum value.",
      type: 'invalid_request_error',
      param: 'temperature',
      code: 'decimal_above_max_value',
    };
    upstream.script([{ status: 400, body: { error: upstreamError } }]);
    const { url, app } = await failoverGateway(upstream.url);
    const before = clouds.openai.requests;
    const answer = await call(`${url}/v1/chat/completions`, { body: { ...body, temperature: 7 } });
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatchObject({
      message: upstreamError.message,
      type: 'invalid_request_error',
      param: 'temperature',
    });
    expect(answer.headers['x-should-retry']).toBe('false');
    expect(upstream.requests).toHaveLength(1);
    expect(clouds.openai.requests).toBe(before);
    const row = await app.usage.get(String(answer.headers['x-request-id']));
    expect(row).toMatchObject({
      status: 'error',
      httpStatus: 400,
      attempts: 1,
      deployment: 'first',
    });
  });

  it('a reset after the first streamed chunk ends the stream with an SSE error event and no [DONE]', async () => {
    upstream.script([
      {
        chunks: [
          chunk({ role: 'assistant', content: '' }),
          chunk({ content: 'partial' }),
          chunk({ content: ' answer' }),
          chunk({}, 'stop'),
          'data: [DONE]\n\n',
        ],
        resetAfterChunks: 2,
      },
    ]);
    const { url, app } = await failoverGateway(upstream.url);
    const before = clouds.openai.requests;
    const answer = await streamRequest(`${url}/v1/chat/completions`, { ...body, stream: true });
    expect(answer.status).toBe(200);
    expect(answer.done).toBe(false);
    expect(answer.events.some((event) => event.data === '[DONE]')).toBe(false);
    expect(answer.chunks.slice(0, -1).map((item) => item.choices[0].delta.content)).toEqual([
      '',
      'partial',
    ]);
    expect(answer.events.at(-1)?.event).toBeUndefined();
    expect(answer.chunks.at(-1)).toEqual({
      error: {
        message: expect.stringMatching(/first/),
        type: 'server_error',
        param: null,
        code: 'upstream_unreachable',
      },
    });
    // Never spliced with a second model's output.
    expect(clouds.openai.requests).toBe(before);
    const row = await app.usage.get(String(answer.headers['x-request-id']));
    expect(row).toMatchObject({
      status: 'error',
      deployment: 'first',
      attempts: 1,
      errorCode: 'upstream_unreachable',
    });

    // The openai SDK turns that event into an APIError.
    upstream.script([
      {
        chunks: [
          chunk({ role: 'assistant', content: '' }),
          chunk({ content: 'partial' }),
          chunk({}, 'stop'),
        ],
        resetAfterChunks: 2,
      },
    ]);
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'local', maxRetries: 0 });
    const stream = await client.chat.completions.create({
      ...body,
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    });
    const seen: string[] = [];
    await expect(
      (async () => {
        for await (const item of stream) seen.push(item.choices[0]?.delta.content ?? '');
      })(),
    ).rejects.toBeInstanceOf(OpenAI.APIError);
    expect(seen).toEqual(['', 'partial']);
  });
});

describe('routing strategies', () => {
  function twoClouds(strategy: 'primary-first' | 'weighted', weights: [number, number] = [1, 1]) {
    const providers = cloudProviders(clouds);
    return startGateway({
      partners: { openai: {}, azure: { primary: true } },
      providers: { openai: providers.openai, azure: providers['azure-v1'] },
      models: {
        'gpt-4o-mini': {
          deployments: [
            { provider: 'openai', model: 'gpt-4o-mini', weight: weights[0] },
            { provider: 'azure', model: 'gpt-4o-mini', weight: weights[1] },
          ],
        },
      },
      routing: { strategy },
    });
  }

  it('primary-first puts the primary partner first, and fails over from it', async () => {
    gateway = await twoClouds('primary-first');
    const before = { openai: clouds.openai.requests, azure: clouds.azure.requests };
    for (let i = 0; i < 3; i++) {
      const answer = await call(`${gateway.url}/v1/chat/completions`, { body });
      expect(answer.headers['x-switchyard-deployment']).toBe('azure');
      expect(answer.headers['x-switchyard-partner']).toBe('azure');
      expect(answer.headers['x-switchyard-attempts']).toBe('1');
    }
    expect(clouds.azure.requests - before.azure).toBe(3);
    expect(clouds.openai.requests - before.openai).toBe(0);

    clouds.azure.setDown(true);
    const answer = await call(`${gateway.url}/v1/chat/completions`, { body });
    expect(answer.status).toBe(200);
    expect(answer.headers['x-switchyard-deployment']).toBe('openai');
    expect(answer.headers['x-switchyard-attempts']).toBe('2');
  });

  it('weighted spreads traffic roughly by weight', async () => {
    gateway = await twoClouds('weighted', [3, 1]);
    const url = `${gateway.url}/v1/chat/completions`;
    const counts: Record<string, number> = {};
    const total = 200;
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < total) {
          next += 1;
          const answer = await call(url, { body });
          expect(answer.status).toBe(200);
          const deployment = String(answer.headers['x-switchyard-deployment']);
          counts[deployment] = (counts[deployment] ?? 0) + 1;
        }
      }),
    );
    expect((counts['openai'] ?? 0) + (counts['azure'] ?? 0)).toBe(total);
    // Expected 150 / 50 (σ ≈ 6); the bounds are about 5σ wide.
    expect(counts['openai']).toBeGreaterThanOrEqual(120);
    expect(counts['openai']).toBeLessThanOrEqual(180);
  });
});

describe('model chains: the client list and configured fallbacks', () => {
  /** `broken` has one deployment at `brokenUrl`; `backup` is the OpenAI emulator. */
  function chainGateway(brokenUrl: string, fallbacks: string[] = []) {
    return startGateway({
      partners: { openai: {}, fakecloud: {} },
      providers: {
        first: {
          type: 'openai',
          partner: 'fakecloud',
          baseUrl: `${brokenUrl}/v1`,
          apiKey: 'sk-first',
        },
        second: { ...cloudProviders(clouds).openai, partner: 'openai' },
      },
      models: {
        broken: { fallbacks, deployments: [{ provider: 'first', model: 'gpt-4o-mini' }] },
        backup: { deployments: [{ provider: 'second', model: 'gpt-4o-mini' }] },
      },
      routing: { retries: 1 },
    });
  }
  const ask = { messages: [{ role: 'user', content: 'say answered by the backup model' }] };

  it('models: [...] tries the next model when every deployment of the first fails', async () => {
    gateway = await chainGateway(`http://127.0.0.1:${await closedPort()}`);
    const answer = await call(`${gateway.url}/v1/chat/completions`, {
      body: { ...ask, model: 'broken', models: ['broken', 'backup'] },
    });
    expect(answer.status).toBe(200);
    expect(answer.body.choices[0].message.content).toBe('answered by the backup model');
    expect(answer.headers['x-switchyard-model']).toBe('backup');
    expect(answer.headers['x-switchyard-deployment']).toBe('second');
    const row = await gateway.app.usage.get(String(answer.headers['x-request-id']));
    expect(row?.attemptLog.map((attempt) => [attempt.provider, attempt.errorClass])).toEqual([
      ['first', 'connection'],
      ['first', 'connection'],
      ['second', null],
    ]);
  });

  it("a model's configured fallbacks serve when it is down, with the openai SDK", async () => {
    gateway = await chainGateway(`http://127.0.0.1:${await closedPort()}`, ['backup']);
    const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'local', maxRetries: 0 });
    const { data, response } = await client.chat.completions
      .create({
        model: 'broken',
        messages: [{ role: 'user', content: 'say answered by the backup model' }],
      })
      .withResponse();
    expect(data.choices[0]?.message.content).toBe('answered by the backup model');
    expect(response.headers.get('x-switchyard-model')).toBe('backup');

    const streamed = await streamRequest(`${gateway.url}/v1/chat/completions`, {
      ...ask,
      model: 'broken',
      stream: true,
    });
    expect(streamed.status).toBe(200);
    expect(streamed.headers['x-switchyard-model']).toBe('backup');
    expect(streamed.done).toBe(true);
  });

  it('a client error is not retried on the fallback model', async () => {
    upstream.script([
      {
        status: 400,
        body: {
          error: {
            message: 'bad temperature',
            type: 'invalid_request_error',
            param: 'temperature',
            code: null,
          },
        },
      },
    ]);
    gateway = await chainGateway(upstream.url, ['backup']);
    const before = clouds.openai.requests;
    const answer = await call(`${gateway.url}/v1/chat/completions`, {
      body: { ...ask, model: 'broken' },
    });
    expect(answer.status).toBe(400);
    expect(answer.body.error.message).toBe('bad temperature');
    expect(clouds.openai.requests).toBe(before);
  });

  it('config check names a fallback that does not exist', async () => {
    await expect(chainGateway(upstream.url, ['nope'])).rejects.toThrow(
      /models\.broken\.fallbacks\[0\]: unknown model "nope"/,
    );
  });
});
