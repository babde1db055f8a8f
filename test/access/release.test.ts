import { ConverseCommand } from '@aws-sdk/client-bedrock-runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfigInput } from '../../src/config/index.js';
import { type RunningGateway, startGateway } from '../helpers/gateway.js';
import { clients } from '../e2e/money-world.js';
import { adminClient, type Answer, send } from './helpers.js';

/**
 * A request that fails after admission (its upstream is dead) gives back its concurrency slot
 * and its budget reservation at once, on every surface: with one slot, the next request is
 * admitted (it fails on the upstream again, never with 429), and nothing stays reserved.
 */

const MASTER = 'sk-release-master-0123456789';
const DEAD = 'http://127.0.0.1:1';

let gateway: RunningGateway;
beforeAll(async () => {
  gateway = await startGateway({
    auth: { masterKey: MASTER },
    routing: { retries: 0 },
    providers: { dead: { type: 'openai', baseUrl: `${DEAD}/v1`, apiKey: 'sk-dead' } },
    models: {
      m: { price: { input: '1', output: '2' }, deployments: [{ provider: 'dead', model: 'm' }] },
      embed: {
        kind: 'embedding',
        price: { input: '1', output: '0' },
        deployments: [{ provider: 'dead', model: 'embed' }],
      },
    },
  } as ConfigInput);
});
afterAll(async () => {
  await gateway?.close();
});

const messages = [{ role: 'user', content: 'hi' }];

/** Each surface's call, failing on the dead upstream; resolves the HTTP status. */
const SURFACES: Record<string, (key: string) => Promise<number>> = {
  'openai chat': async (key) =>
    status(send(`${gateway.url}/v1/chat/completions`, 'POST', key, { model: 'm', messages })),
  'openai chat stream': async (key) =>
    status(
      send(`${gateway.url}/v1/chat/completions`, 'POST', key, {
        model: 'm',
        messages,
        stream: true,
      }),
    ),
  embeddings: async (key) =>
    status(send(`${gateway.url}/v1/embeddings`, 'POST', key, { model: 'embed', input: 'hi' })),
  responses: async (key) =>
    status(send(`${gateway.url}/v1/responses`, 'POST', key, { model: 'm', input: 'hi' })),
  'anthropic messages': async (key) =>
    status(
      send(`${gateway.url}/v1/messages`, 'POST', key, { model: 'm', max_tokens: 50, messages }),
    ),
  'bedrock converse': async (key) => {
    try {
      await clients(gateway.url, key).bedrock.send(
        new ConverseCommand({
          modelId: 'm',
          messages: [{ role: 'user', content: [{ text: 'hi' }] }],
        }),
      );
      return 200;
    } catch (error) {
      return (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode ?? 0;
    }
  },
};

async function status(answer: Promise<Answer>): Promise<number> {
  return (await answer).status;
}

describe.each(Object.keys(SURFACES))('a dead upstream on %s', (surface) => {
  it('gives back the concurrency slot and the budget reservation at once', async () => {
    const admin = adminClient(gateway.url, MASTER);
    const { key, secret } = await admin.setup({
      key: {
        limits: { max_concurrent: 1 },
        budget: { amount_micros: '100000', period: 'month', mode: 'hard' },
      },
    });
    for (let attempt = 0; attempt < 3; attempt++) {
      // A leaked slot would make the next attempt a 429; a leaked reservation shows below.
      const code = await SURFACES[surface]!(secret);
      expect(code, `attempt ${attempt + 1}`).toBeGreaterThanOrEqual(400);
      expect(code, `attempt ${attempt + 1}`).not.toBe(429);
      const shown = await admin.call('GET', `/keys/${key.id}`);
      const level = shown.levels.find((item: { kind: string }) => item.kind === 'key');
      expect(level.spend).toMatchObject({ reserved_micros: '0', spent_micros: '0' });
    }
  });
});
