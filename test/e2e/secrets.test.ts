import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startOpenAIEmulator, type Emulator } from '../../src/sandbox/openai-emulator.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { type FakeUpstream, startFakeUpstream } from '../fakes/upstream.js';
import { call, memoryDestination, type RunningGateway, startGateway } from '../helpers/gateway.js';
import { streamRequest } from '../helpers/sse.js';

/** Neither the client's key nor the upstream's key ever reaches the logs, even at debug level. */

const CLIENT_KEY = 'sk-client-secret-5f2b8c1e9d';
const UPSTREAM_KEY = 'sk-upstream-secret-a7c3e0b4f6';
const WRONG_UPSTREAM_KEY = 'sk-wrong-upstream-secret-19d4';

let emulator: Emulator;
let upstream: FakeUpstream;
let gateway: RunningGateway;
const logs = memoryDestination();
beforeAll(async () => {
  emulator = await startOpenAIEmulator({ flavor: 'openai', apiKey: UPSTREAM_KEY });
  upstream = await startFakeUpstream();
  gateway = await startGateway(
    {
      auth: { masterKey: CLIENT_KEY },
      logging: { level: 'debug' },
      providers: {
        good: { type: 'openai', baseUrl: `${emulator.url}/v1`, apiKey: UPSTREAM_KEY },
        misconfigured: {
          type: 'openai',
          baseUrl: `${emulator.url}/v1`,
          apiKey: WRONG_UPSTREAM_KEY,
        },
        echo: { type: 'openai', baseUrl: `${upstream.url}/v1`, apiKey: UPSTREAM_KEY },
      },
      models: {
        'gpt-4o-mini': { deployments: [{ provider: 'good', model: 'gpt-4o-mini' }] },
        'needs-failover': {
          deployments: [
            { provider: 'misconfigured', model: 'gpt-4o-mini' },
            { provider: 'good', model: 'gpt-4o-mini' },
          ],
        },
        'only-misconfigured': {
          deployments: [{ provider: 'misconfigured', model: 'gpt-4o-mini' }],
        },
        echo: { deployments: [{ provider: 'echo', model: 'echo' }] },
      },
    },
    { logger: createLogger({ level: 'debug', destination: logs.stream }) },
  );
});
afterAll(async () => {
  await gateway.close();
  await upstream.close();
  await emulator.close();
});

describe('secrets in logs', () => {
  it('logs requests without the client key or any upstream key', async () => {
    const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: CLIENT_KEY, maxRetries: 0 });
    const headers = { authorization: `Bearer ${CLIENT_KEY}` };
    const messages = [{ role: 'user' as const, content: 'say logged' }];

    await client.chat.completions.create({ model: 'gpt-4o-mini', messages });
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages,
      stream: true,
    });
    for await (const _chunk of stream) void _chunk;
    await client.embeddings.create({ model: 'gpt-4o-mini', input: 'x' }).catch(() => undefined);
    await client.models.list();
    // Upstream rejects our key (its 401 quotes part of it): fail over, and fail outright.
    expect(
      (
        await call(`${gateway.url}/v1/chat/completions`, {
          body: { model: 'needs-failover', messages },
          headers,
        })
      ).status,
    ).toBe(200);
    const failed = await call(`${gateway.url}/v1/chat/completions`, {
      body: { model: 'only-misconfigured', messages },
      headers,
    });
    expect(failed.status).toBe(502);
    expect(failed.text).not.toContain(WRONG_UPSTREAM_KEY.slice(-4));
    // An upstream that echoes our key back in an error body.
    upstream.script([
      {
        status: 401,
        body: {
          error: {
            message: `Incorrect API key provided: ${UPSTREAM_KEY}`,
            type: 'invalid_request_error',
            code: 'invalid_api_key',
          },
        },
      },
    ]);
    const echoed = await call(`${gateway.url}/v1/chat/completions`, {
      body: { model: 'echo', messages },
      headers,
    });
    expect(echoed.status).toBe(502);
    expect(echoed.text).not.toContain(UPSTREAM_KEY);
    upstream.script([
      {
        chunks: ['data: {"choices":[{"index":0,"delta":{"role":"assistant"}}]}\n\n'],
        resetAfterChunks: 1,
      },
    ]);
    await streamRequest(
      `${gateway.url}/v1/chat/completions`,
      { model: 'echo', messages, stream: true },
      headers,
    );
    // Wrong client keys and malformed bodies.
    await call(`${gateway.url}/v1/chat/completions`, {
      body: { model: 'gpt-4o-mini', messages },
      headers: { authorization: `Bearer ${CLIENT_KEY}-typo` },
    });
    await call(`${gateway.url}/v1/chat/completions`, {
      body: `{"api_key": "${CLIENT_KEY}"`,
      headers,
    });

    const text = logs.text();
    // The logger did record these requests...
    expect(
      text.split('\n').filter((line) => line.includes('"msg":"request"')).length,
    ).toBeGreaterThanOrEqual(10);
    // ...and no secret, nor its distinctive tail.
    for (const secret of [CLIENT_KEY, UPSTREAM_KEY, WRONG_UPSTREAM_KEY]) {
      expect(text).not.toContain(secret);
      expect(text).not.toContain(secret.slice(-10));
    }
  });
});
