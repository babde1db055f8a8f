import { ConverseCommand } from '@aws-sdk/client-bedrock-runtime';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scaledToDecimal } from '../../src/core/money.js';
import { decodeEventStream } from '../../src/transport/aws-eventstream.js';
import { call } from '../helpers/gateway.js';
import {
  clients,
  type Emulators,
  type MoneyGateway,
  modelOf,
  moneyConfig,
  startEmulators,
  startMoneyGateway,
} from './money-world.js';

/**
 * Every model call answers `x-switchyard-cost`: exactly the revenue the ledger booked for the
 * same request id, as decimal USD. Asked for (header, body switch or config), the body's usage
 * carries it as `usage.cost`, and a stream carries it in its final usage event.
 */

let emulators: Emulators;
let gateway: MoneyGateway;
beforeAll(async () => {
  emulators = await startEmulators(0);
  const config = moneyConfig(emulators);
  gateway = await startMoneyGateway({
    ...config,
    models: {
      ...config.models,
      embed: {
        kind: 'embedding',
        price: { input: '20', output: '0' },
        deployments: [{ provider: 'openai', model: 'text-embedding-3-small' }],
      },
    },
  });
});
afterAll(async () => {
  await gateway?.close();
  await emulators?.close();
});

/** The revenue the ledger booked for a request, as decimal USD. */
async function booked(requestId: string): Promise<string> {
  const transactions = await gateway.app.billing.transactions(requestId);
  const usage = transactions.filter((transaction) => transaction.kind === 'usage');
  expect(usage).toHaveLength(1);
  expect(usage[0]!.revenue).toBeGreaterThan(0n);
  return scaledToDecimal(usage[0]!.revenue, 6);
}

const messages = [{ role: 'user' as const, content: 'say the cost of a token is booked' }];
const ask = { 'x-switchyard-include-cost': 'true' };

describe('x-switchyard-cost', () => {
  it('OpenAI chat: the header equals the ledger entry; usage.cost only when asked', async () => {
    const sdk = clients(gateway.url, gateway.key);
    const plain = await sdk.openai.chat.completions
      .create({ model: modelOf('openai'), messages })
      .withResponse();
    const id = plain.response.headers.get('x-request-id')!;
    expect(plain.response.headers.get('x-switchyard-cost')).toBe(await booked(id));
    expect((plain.data.usage as unknown as Record<string, unknown>)['cost']).toBeUndefined();

    // OpenRouter's switch in the body: not forwarded upstream, answered in the usage block.
    const asked = await call(`${gateway.url}/v1/chat/completions`, {
      headers: { authorization: `Bearer ${gateway.key}` },
      body: { model: modelOf('azure'), messages, usage: { include: true } },
    });
    expect(asked.status).toBe(200);
    const askedId = String(asked.headers['x-request-id']);
    expect(asked.headers['x-switchyard-cost']).toBe(await booked(askedId));
    expect(String(asked.body.usage.cost)).toBe(await booked(askedId));
  });

  it('OpenAI chat stream: the final usage chunk carries usage.cost, the booked figure', async () => {
    const sdk = new (await import('openai')).default({
      baseURL: `${gateway.url}/v1`,
      apiKey: gateway.key,
      maxRetries: 0,
      defaultHeaders: ask,
    });
    const { data, response } = await sdk.chat.completions
      .create({ model: modelOf('anthropic'), messages, stream: true })
      .withResponse();
    let cost: unknown;
    for await (const chunk of data) if (chunk.usage) cost = (chunk.usage as never)['cost'];
    const id = response.headers.get('x-request-id')!;
    expect(String(cost)).toBe(await booked(id));
  });

  it('embeddings: the header equals the ledger entry', async () => {
    const sdk = clients(gateway.url, gateway.key);
    const { response } = await sdk.openai.embeddings
      .create({ model: 'embed', input: 'a booked embedding' })
      .withResponse();
    const id = response.headers.get('x-request-id')!;
    expect(response.headers.get('x-switchyard-cost')).toBe(await booked(id));
  });

  it('Responses: header, and usage.cost when asked', async () => {
    const sdk = new (await import('openai')).default({
      baseURL: `${gateway.url}/v1`,
      apiKey: gateway.key,
      maxRetries: 0,
      defaultHeaders: ask,
    });
    const { data, response } = await sdk.responses
      .create({ model: modelOf('gemini'), input: 'say booked' })
      .withResponse();
    const id = response.headers.get('x-request-id')!;
    expect(response.headers.get('x-switchyard-cost')).toBe(await booked(id));
    expect(String((data.usage as unknown as Record<string, unknown>)['cost'])).toBe(
      await booked(id),
    );
  });

  it('Anthropic Messages: header, and usage.cost when asked', async () => {
    const Anthropic = (await import('@anthropic-ai/sdk')).default;
    const sdk = new Anthropic({
      baseURL: gateway.url,
      apiKey: gateway.key,
      maxRetries: 0,
      defaultHeaders: ask,
    });
    const { data, response } = await sdk.messages
      .create({ model: modelOf('bedrock'), max_tokens: 256, messages })
      .withResponse();
    const id = response.headers.get('x-request-id')!;
    expect(response.headers.get('x-switchyard-cost')).toBe(await booked(id));
    expect(String((data.usage as unknown as Record<string, unknown>)['cost'])).toBe(
      await booked(id),
    );
  });

  it('Bedrock Converse: header on JSON; the stream metadata event carries usage.cost', async () => {
    const sdk = clients(gateway.url, gateway.key);
    const sent: Record<string, string> = {};
    sdk.bedrock.middlewareStack.add(
      (next) => async (args) => {
        const request = args.request as { headers: Record<string, string> };
        request.headers['x-switchyard-include-cost'] = 'true';
        const result = await next(args);
        const headers = (result.response as { headers: Record<string, string> }).headers;
        Object.assign(sent, headers);
        return result;
      },
      { step: 'finalizeRequest' },
    );
    const whole = await sdk.bedrock.send(
      new ConverseCommand({
        modelId: modelOf('openai'),
        messages: [{ role: 'user', content: [{ text: 'say booked' }] }],
      }),
    );
    const id = whole.$metadata.requestId!;
    expect(sent['x-switchyard-cost']).toBe(await booked(id));

    // The SDK keeps only the usage fields it knows: read the event stream's metadata raw.
    const streamed = await request(`${gateway.url}/model/${modelOf('gemini')}/converse-stream`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${gateway.key}`,
        'content-type': 'application/json',
        ...ask,
      },
      body: JSON.stringify({ messages: [{ role: 'user', content: [{ text: 'say booked' }] }] }),
    });
    expect(streamed.statusCode).toBe(200);
    let cost: unknown;
    for await (const frame of decodeEventStream(streamed.body)) {
      if (frame.event !== 'metadata') continue;
      cost = (JSON.parse(frame.data) as { usage: { cost?: number } }).usage.cost;
    }
    expect(String(cost)).toBe(await booked(String(streamed.headers['x-request-id'])));
  });
});
