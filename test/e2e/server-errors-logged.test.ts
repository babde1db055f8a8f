import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/telemetry/logger.js';
import { type FakeUpstream, startFakeUpstream } from '../fakes/upstream.js';
import { call, memoryDestination, type RunningGateway, startGateway } from '../helpers/gateway.js';

/**
 * Every 5xx the gateway answers is logged with its request id, code and cause, whichever
 * surface rendered it (surfaces render their own errors, so the server logs them as the answer
 * closes); a 4xx is not logged as an error.
 */

const MASTER = 'sk-switchyard-errors-logged-master-0123';
let upstream: FakeUpstream;
let gateway: RunningGateway;
const logs = memoryDestination();

beforeAll(async () => {
  upstream = await startFakeUpstream();
  upstream.script([
    { status: 500, body: { error: { message: 'exploded', type: 'server_error' } } },
  ]);
  gateway = await startGateway(
    {
      auth: { masterKey: MASTER },
      routing: { retries: 0 },
      providers: { up: { type: 'openai', baseUrl: `${upstream.url}/v1`, apiKey: 'sk-up-0123' } },
      models: { chat: { deployments: [{ provider: 'up', model: 'gpt-x' }] } },
    },
    { logger: createLogger({ level: 'error', destination: logs.stream }) },
  );
});
afterAll(async () => {
  await gateway?.close();
  await upstream?.close();
});

function errorLines(): Array<Record<string, unknown>> {
  return logs
    .text()
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((line) => line['level'] === 50);
}

describe('5xx answers are logged', () => {
  it.each([
    ['OpenAI chat', '/v1/chat/completions', { authorization: `Bearer ${MASTER}` }, {}],
    [
      'Anthropic messages',
      '/v1/messages',
      { 'x-api-key': MASTER, 'anthropic-version': '2023-06-01' },
      { max_tokens: 10 },
    ],
  ])(
    '%s: an upstream 500 answered as a 5xx is logged with its request id and code',
    async (_name, path, headers, extra) => {
      const answer = await call(`${gateway.url}${path}`, {
        body: { model: 'chat', messages: [{ role: 'user', content: 'hi' }], ...extra },
        headers,
      });
      expect(answer.status).toBeGreaterThanOrEqual(500);
      const requestId = answer.headers['x-request-id'];
      const line = errorLines().find((entry) => entry['requestId'] === requestId);
      expect(line).toMatchObject({ status: answer.status, code: 'upstream_error' });
    },
  );

  it('a 400 is not logged as an error', async () => {
    const before = errorLines().length;
    const answer = await call(`${gateway.url}/v1/chat/completions`, {
      body: { model: 'chat', messages: 'not a list' },
      headers: { authorization: `Bearer ${MASTER}` },
    });
    expect(answer.status).toBe(400);
    expect(errorLines()).toHaveLength(before);
  });
});
