import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UsageEvent } from '../../src/store/index.js';
import { type FakeUpstream, startFakeUpstream } from '../fakes/upstream.js';
import {
  call,
  cloudProviders,
  type Clouds,
  type JsonAnswer,
  type RunningGateway,
  startClouds,
  startGateway,
} from '../helpers/gateway.js';
import { PG_SKIP_MESSAGE, pgTestUrl } from '../helpers/postgres.js';
import { streamRequest } from '../helpers/sse.js';

/**
 * Every request writes exactly one usage row keyed by its `x-request-id`, with where it went and
 * the tokens the cloud reported. Runs on SQLite always, and on Postgres when reachable.
 */

const MASTER_KEY = 'sk-usage-master-key-1';
const auth = { authorization: `Bearer ${MASTER_KEY}` };

const pg = await pgTestUrl();
if (!pg) console.warn(PG_SKIP_MESSAGE);
const STORES: Array<[string, string | undefined]> = [
  ['SQLite', 'sqlite::memory:'],
  ['Postgres', pg?.url],
];

let clouds: Clouds;
let upstream: FakeUpstream;
beforeAll(async () => {
  clouds = await startClouds();
  upstream = await startFakeUpstream();
  // The fake always fails: 503 for `broken-model`, 500 for `flaky-model` (whose model then fails over to the emulator).
  upstream.script((request) => {
    const model = (JSON.parse(request.body || '{}') as { model?: string }).model;
    if (model === 'broken-model')
      return {
        status: 503,
        headers: { 'retry-after-ms': '5' },
        body: { error: { message: 'overloaded', type: 'server_error' } },
      };
    return { status: 500, body: { error: { message: 'boom', type: 'server_error' } } };
  });
});
afterAll(async () => {
  await upstream.close();
  await clouds.close();
  await pg?.drop();
});

// A long system prompt makes the emulator report cached input tokens (≥ 1024-token prefix).
const longSystem = 'You are a careful assistant. '.repeat(200);
const chatBody = {
  model: 'gpt-4o-mini',
  messages: [
    { role: 'system', content: longSystem },
    { role: 'user', content: 'think, then say metered tokens' },
  ],
};

describe.each(STORES)('usage rows on %s', (name, store) => {
  let gateway: RunningGateway;
  beforeAll(async () => {
    if (store === undefined) return;
    const providers = cloudProviders(clouds);
    gateway = await startGateway({
      store,
      auth: { masterKey: MASTER_KEY },
      partners: { azure: { primary: true }, openai: {}, fakecloud: {} },
      providers: {
        azure: providers['azure-classic'],
        openai: providers.openai,
        fake: {
          type: 'openai',
          partner: 'fakecloud',
          baseUrl: `${upstream.url}/v1`,
          apiKey: 'sk-fake',
        },
      },
      models: {
        'gpt-4o-mini': { deployments: [{ provider: 'azure', model: 'gpt-4o-mini' }] },
        flaky: {
          deployments: [
            { provider: 'fake', model: 'flaky-model' },
            { provider: 'openai', model: 'gpt-4o-mini' },
          ],
        },
        broken: { deployments: [{ provider: 'fake', model: 'broken-model' }] },
        'text-embedding-3-small': {
          kind: 'embedding',
          deployments: [{ provider: 'openai', model: 'text-embedding-3-small' }],
        },
      },
    });
  });
  afterAll(async () => {
    await gateway?.close();
  });

  const count = async () => (await gateway.app.usage.list({ limit: 1000 })).length;

  /** Runs `send`, then checks that exactly one row was added, keyed by the answer's x-request-id. */
  async function oneRow<T extends { headers: JsonAnswer['headers'] }>(
    send: () => Promise<T>,
  ): Promise<{ answer: T; row: UsageEvent }> {
    const before = await count();
    const answer = await send();
    const requestId = answer.headers['x-request-id'];
    expect(requestId).toMatch(/^req_/);
    const row = await gateway.app.usage.get(String(requestId));
    expect(row, `usage row for ${String(requestId)}`).toBeDefined();
    expect(await count()).toBe(before + 1);
    return { answer, row: row! };
  }

  const tokensOf = (usage: any) => ({
    inputTokens: usage.prompt_tokens,
    cachedInputTokens: usage.prompt_tokens_details.cached_tokens,
    outputTokens: usage.completion_tokens,
    reasoningTokens: usage.completion_tokens_details.reasoning_tokens,
  });

  it.skipIf(store === undefined)(
    "success: deployment, partner, attempts and the cloud's tokens",
    async () => {
      const { answer, row } = await oneRow(() =>
        call(`${gateway.url}/v1/chat/completions`, { body: chatBody, headers: auth }),
      );
      expect(answer.status).toBe(200);
      const usage = answer.body.usage;
      expect(usage.prompt_tokens_details.cached_tokens).toBeGreaterThan(0);
      expect(usage.completion_tokens_details.reasoning_tokens).toBeGreaterThan(0);
      expect(row).toMatchObject({
        surface: 'openai-chat',
        keyId: 'master',
        modelRequested: 'gpt-4o-mini',
        model: 'gpt-4o-mini',
        deployment: 'azure',
        upstreamModel: 'gpt-4o-mini',
        partner: 'azure',
        attempts: 1,
        status: 'ok',
        httpStatus: 200,
        errorCode: null,
        stream: false,
        ...tokensOf(usage),
      });
      expect(row.attemptLog).toEqual([
        { provider: 'azure', status: 200, errorClass: null, ms: expect.any(Number) },
      ]);
    },
  );

  it.skipIf(store === undefined)(
    "stream: the row exists, with the usage chunk's tokens, once the client has read [DONE]",
    async () => {
      const { answer, row } = await oneRow(() =>
        streamRequest(
          `${gateway.url}/v1/chat/completions`,
          { ...chatBody, stream: true, stream_options: { include_usage: true } },
          auth,
        ),
      );
      expect(answer.done).toBe(true);
      expect(row).toMatchObject({
        status: 'ok',
        stream: true,
        deployment: 'azure',
        partner: 'azure',
        attempts: 1,
        ...tokensOf(answer.chunks.at(-1).usage),
      });
      expect(row.ttfbMs).not.toBeNull();
    },
  );

  it.skipIf(store === undefined)(
    'stream without include_usage: still metered from the usage chunk the gateway asked for',
    async () => {
      const reference = await call(`${gateway.url}/v1/chat/completions`, {
        body: chatBody,
        headers: auth,
      });
      const { answer, row } = await oneRow(() =>
        streamRequest(`${gateway.url}/v1/chat/completions`, { ...chatBody, stream: true }, auth),
      );
      expect(answer.done).toBe(true);
      expect(answer.chunks.every((chunk) => chunk.usage == null)).toBe(true);
      expect(row).toMatchObject({ status: 'ok', stream: true, ...tokensOf(reference.body.usage) });
    },
  );

  it.skipIf(store === undefined)('failover: the serving deployment and both attempts', async () => {
    const { answer, row } = await oneRow(() =>
      call(`${gateway.url}/v1/chat/completions`, {
        body: { ...chatBody, model: 'flaky' },
        headers: auth,
      }),
    );
    expect(answer.status).toBe(200);
    expect(row).toMatchObject({
      status: 'ok',
      model: 'flaky',
      deployment: 'openai',
      partner: 'openai',
      attempts: 2,
      ...tokensOf(answer.body.usage),
    });
    expect(row.attemptLog.map((attempt) => [attempt.provider, attempt.status])).toEqual([
      ['fake', 500],
      ['openai', 200],
    ]);
  });

  it.skipIf(store === undefined)(
    'upstream failure: an error row with the last deployment tried and no tokens',
    async () => {
      const { answer, row } = await oneRow(() =>
        call(`${gateway.url}/v1/chat/completions`, {
          body: { ...chatBody, model: 'broken' },
          headers: auth,
        }),
      );
      expect(answer.status).toBe(503);
      expect(answer.body.error.code).toBe('upstream_overloaded');
      expect(row).toMatchObject({
        status: 'error',
        httpStatus: 503,
        errorCode: 'upstream_overloaded',
        deployment: 'fake',
        attempts: 3,
        inputTokens: 0,
        outputTokens: 0,
      });
    },
  );

  it.skipIf(store === undefined)('bad input: an error row with the status sent', async () => {
    const { answer, row } = await oneRow(() =>
      call(`${gateway.url}/v1/chat/completions`, {
        body: { model: 'gpt-4o-mini', messages: 'nope' },
        headers: auth,
      }),
    );
    expect(answer.status).toBe(400);
    expect(row).toMatchObject({
      status: 'error',
      httpStatus: 400,
      errorCode: 'invalid_request',
      keyId: 'master',
      deployment: null,
      attempts: 0,
    });

    const unknown = await oneRow(() =>
      call(`${gateway.url}/v1/chat/completions`, {
        body: { ...chatBody, model: 'nope' },
        headers: auth,
      }),
    );
    expect(unknown.row).toMatchObject({
      status: 'error',
      httpStatus: 404,
      errorCode: 'model_not_found',
      modelRequested: 'nope',
    });
  });

  it.skipIf(store === undefined)('401: an error row without a principal', async () => {
    const { answer, row } = await oneRow(() =>
      call(`${gateway.url}/v1/chat/completions`, {
        body: chatBody,
        headers: { authorization: 'Bearer wrong-key-123' },
      }),
    );
    expect(answer.status).toBe(401);
    expect(row).toMatchObject({
      status: 'error',
      httpStatus: 401,
      errorCode: 'unauthorized',
      keyId: null,
      tenantId: 'unknown',
    });
  });

  it.skipIf(store === undefined)('embeddings: input tokens as the cloud counted them', async () => {
    const { answer, row } = await oneRow(() =>
      call(`${gateway.url}/v1/embeddings`, {
        body: { model: 'text-embedding-3-small', input: ['one two three', 'four'] },
        headers: auth,
      }),
    );
    expect(answer.status).toBe(200);
    expect(row).toMatchObject({
      surface: 'openai-embeddings',
      status: 'ok',
      deployment: 'openai',
      partner: 'openai',
      attempts: 1,
      inputTokens: answer.body.usage.prompt_tokens,
      outputTokens: 0,
    });
  });

  it.skipIf(store === undefined)(`stores rows in ${name}`, async () => {
    expect(gateway.app.database.dialect).toBe(name === 'SQLite' ? 'sqlite' : 'postgres');
  });
});
