import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startFakeUpstream, type FakeUpstream } from '../fakes/upstream.js';
import { startGateway, type RunningGateway } from '../helpers/gateway.js';
import { redisTestUrl, uniquePrefix } from '../helpers/redis.js';
import { type Emulator, startOpenAIEmulator } from '../../src/sandbox/openai-emulator.js';

const redis = await redisTestUrl();
const suite = redis ? describe : describe.skip;
if (!redis)
  console.warn(
    'Skipping shared breaker tests: no Redis on 127.0.0.1:6379 (set SWITCHYARD_TEST_REDIS=redis://... to run them)',
  );

suite('breaker state shared through Redis', () => {
  let broken: FakeUpstream;
  let healthy: Emulator;
  let first: RunningGateway;
  let second: RunningGateway;

  beforeAll(async () => {
    broken = await startFakeUpstream();
    broken.script([{ status: 500, body: { error: { message: 'boom', type: 'server_error' } } }]);
    healthy = await startOpenAIEmulator({ flavor: 'openai' });
    const config = {
      redis: redis!,
      redisPrefix: uniquePrefix('health'),
      partners: { azure: { primary: true } },
      providers: {
        broken: { type: 'openai' as const, partner: 'azure', baseUrl: `${broken.url}/v1` },
        healthy: { type: 'openai' as const, baseUrl: `${healthy.url}/v1` },
      },
      models: {
        m: {
          deployments: [
            { provider: 'broken', model: 'm' },
            { provider: 'healthy', model: 'm' },
          ],
        },
      },
      routing: { retries: 1 },
    };
    first = await startGateway(config);
    second = await startGateway(config);
  });

  afterAll(async () => {
    await Promise.all([first?.close(), second?.close()]);
    await Promise.all([broken?.close(), healthy?.close()]);
  });

  const chat = (gateway: RunningGateway) =>
    request(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] }),
    });

  it('a breaker opened by one process keeps the other away from the deployment', async () => {
    for (let i = 0; i < 5; i++) {
      const response = await chat(first);
      expect(response.headers['x-switchyard-deployment']).toBe('healthy');
      await response.body.text();
    }
    const routing = async (gateway: RunningGateway) => {
      const response = await request(`${gateway.url}/v1/routing`);
      return (await response.body.json()) as {
        data: Array<{ deployments: Array<{ provider: string; breaker: string }> }>;
      };
    };
    const firstView = await routing(first);
    expect(
      firstView.data[0]!.deployments.find((deployment) => deployment.provider === 'broken')!
        .breaker,
    ).toBe('open');
    // The other process learns it over pub/sub, well within a second.
    let breaker = '';
    for (let i = 0; i < 50 && breaker !== 'open'; i++) {
      breaker = (await routing(second)).data[0]!.deployments.find(
        (deployment) => deployment.provider === 'broken',
      )!.breaker;
      if (breaker !== 'open') await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(breaker).toBe('open');
    const before = broken.requests.length;
    const response = await chat(second);
    expect(response.headers['x-switchyard-deployment']).toBe('healthy');
    expect(response.headers['x-switchyard-attempts']).toBe('1');
    await response.body.text();
    expect(broken.requests.length).toBe(before);
  });
});
