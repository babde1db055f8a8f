import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type FakeUpstream, startFakeUpstream } from '../fakes/upstream.js';
import { call, type RunningGateway, startGateway } from '../helpers/gateway.js';

/**
 * Retrying the same deployment waits as the upstream asks (`retry-after`, `retry-after-ms`) or
 * with jittered exponential backoff (500 ms × 2^n, minus up to 25%), and never past the total
 * deadline. One deployment, so every retry goes back to it. Lower bounds only: a delay we
 * promise to wait is a correctness property, not a performance figure.
 */

let upstream: FakeUpstream;
let gateway: RunningGateway | undefined;
beforeAll(async () => {
  upstream = await startFakeUpstream();
});
afterAll(async () => {
  await upstream.close();
});
afterEach(async () => {
  await gateway?.close();
  gateway = undefined;
  upstream.requests.length = 0;
});

const ok = {
  body: {
    id: 'chatcmpl-ok',
    object: 'chat.completion',
    created: 1,
    model: 'm',
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: 'retried fine' },
        finish_reason: 'stop',
        logprobs: null,
      },
    ],
    usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 },
  },
};
const overloaded = { message: 'overloaded', type: 'server_error', param: null, code: null };
const body = { model: 'solo', messages: [{ role: 'user', content: 'hi' }] };

async function solo(routing: Record<string, unknown> = {}): Promise<RunningGateway> {
  gateway = await startGateway({
    providers: { only: { type: 'openai', baseUrl: `${upstream.url}/v1`, apiKey: 'sk-only' } },
    models: { solo: { deployments: [{ provider: 'only', model: 'm' }] } },
    routing,
  });
  return gateway;
}

async function timed(
  url: string,
): Promise<{ answer: Awaited<ReturnType<typeof call>>; ms: number }> {
  const started = performance.now();
  const answer = await call(`${url}/v1/chat/completions`, { body });
  return { answer, ms: performance.now() - started };
}

describe('delays between retries of one deployment', () => {
  it('honours retry-after-ms on a 429', async () => {
    upstream.script([
      {
        status: 429,
        headers: { 'retry-after-ms': '400' },
        body: {
          error: {
            message: 'slow down',
            type: 'requests',
            param: null,
            code: 'rate_limit_exceeded',
          },
        },
      },
      ok,
    ]);
    const { url, app } = await solo();
    const { answer, ms } = await timed(url);
    expect(answer.status).toBe(200);
    expect(answer.body.choices[0].message.content).toBe('retried fine');
    expect(answer.headers['x-switchyard-attempts']).toBe('2');
    expect(ms).toBeGreaterThanOrEqual(400);
    expect(upstream.requests).toHaveLength(2);
    const row = await app.usage.get(String(answer.headers['x-request-id']));
    expect(row?.attemptLog.map((attempt) => [attempt.status, attempt.errorClass])).toEqual([
      [429, 'rate_limited'],
      [200, null],
    ]);
  });

  it('honours retry-after in seconds on a 503', async () => {
    upstream.script([
      { status: 503, headers: { 'retry-after': '1' }, body: { error: overloaded } },
      ok,
    ]);
    const { url } = await solo();
    const { answer, ms } = await timed(url);
    expect(answer.status).toBe(200);
    expect(ms).toBeGreaterThanOrEqual(1000);
  });

  it('backs off exponentially with jitter when the upstream gives no delay', async () => {
    upstream.script([
      { status: 500, body: { error: overloaded } },
      { status: 500, body: { error: overloaded } },
      ok,
    ]);
    const { url } = await solo({ retries: 2 });
    const { answer, ms } = await timed(url);
    expect(answer.status).toBe(200);
    expect(answer.headers['x-switchyard-attempts']).toBe('3');
    // 500 ms then 1,000 ms, each less at most 25%.
    expect(ms).toBeGreaterThanOrEqual(375 + 750);
  });

  it('does not wait past the total deadline: the upstream error comes back instead', async () => {
    upstream.script([
      {
        status: 429,
        headers: { 'retry-after': '5' },
        body: {
          error: {
            message: 'slow down',
            type: 'requests',
            param: null,
            code: 'rate_limit_exceeded',
          },
        },
      },
      ok,
    ]);
    const { url } = await solo({ totalTimeoutMs: 2000 });
    const { answer } = await timed(url);
    expect(answer.status).toBe(429);
    expect(answer.body.error.message).toMatch(/rate limited/);
    expect(upstream.requests).toHaveLength(1);
  });

  it('does not wait for a delay longer than 10 s', async () => {
    upstream.script([
      {
        status: 429,
        headers: { 'retry-after': '60' },
        body: {
          error: {
            message: 'come back in a minute',
            type: 'requests',
            param: null,
            code: 'rate_limit_exceeded',
          },
        },
      },
      ok,
    ]);
    const { url } = await solo();
    const { answer } = await timed(url);
    expect(answer.status).toBe(429);
    expect(Number(answer.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(upstream.requests).toHaveLength(1);
  });
});
