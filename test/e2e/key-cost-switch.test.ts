import { Command } from 'commander';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerAccessCommands } from '../../src/cli/access-commands.js';
import { scaledToDecimal } from '../../src/core/money.js';
import {
  type Emulators,
  MASTER,
  type MoneyGateway,
  modelOf,
  moneyConfig,
  startEmulators,
  startMoneyGateway,
} from './money-world.js';

/**
 * A virtual key's `include_cost` option: every call made with it answers `usage.cost` (the
 * booked figure) in its body, as `billing.costInBody` does for all keys, without a per-request
 * switch. Set with the admin API and `switchyard keys create|update --include-cost on|off`.
 */

let emulators: Emulators;
let gateway: MoneyGateway;
beforeAll(async () => {
  emulators = await startEmulators(0);
  gateway = await startMoneyGateway(moneyConfig(emulators));
});
afterAll(async () => {
  await gateway?.close();
  await emulators?.close();
});

async function cli(...args: string[]): Promise<string> {
  let out = '';
  let err = '';
  const program = new Command('switchyard').exitOverride();
  registerAccessCommands(program, { out: (text) => (out += text), err: (text) => (err += text) });
  await program.parseAsync(['node', 'switchyard', ...args, '--url', gateway.url, '--key', MASTER]);
  if (!out) throw new Error(err);
  return out;
}

async function booked(requestId: string): Promise<string> {
  const transactions = await gateway.app.billing.transactions(requestId);
  const usage = transactions.filter((transaction) => transaction.kind === 'usage');
  expect(usage).toHaveLength(1);
  expect(usage[0]!.revenue).toBeGreaterThan(0n);
  return scaledToDecimal(usage[0]!.revenue, 6);
}

const messages = [{ role: 'user' as const, content: 'what did this call cost' }];
const costOf = (usage: unknown) => (usage as Record<string, unknown> | null | undefined)?.['cost'];

describe('per-key include_cost', () => {
  it('is off by default, set by the CLI, and shown by the admin API and the key list', async () => {
    const shown = JSON.parse(await cli('keys', 'show', gateway.keyId, '--json'));
    expect(shown.include_cost).toBe(false);
    const sdk = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: gateway.key, maxRetries: 0 });
    const plain = await sdk.chat.completions.create({ model: modelOf('openai'), messages });
    expect(costOf(plain.usage)).toBeUndefined();

    const updated = JSON.parse(
      await cli('keys', 'update', gateway.keyId, '--include-cost', 'on', '--json'),
    );
    expect(updated.include_cost).toBe(true);
    expect(await cli('keys', 'list')).toMatch(/COST[\s\S]*in body/);
    await expect(cli('keys', 'update', gateway.keyId, '--include-cost', 'maybe')).rejects.toThrow(
      /on or off/,
    );
  });

  it('answers usage.cost, the booked figure, on chat (JSON and stream), Responses and Messages', async () => {
    const sdk = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: gateway.key, maxRetries: 0 });
    const json = await sdk.chat.completions
      .create({ model: modelOf('anthropic'), messages })
      .withResponse();
    expect(String(costOf(json.data.usage))).toBe(
      await booked(json.response.headers.get('x-request-id')!),
    );

    // A stream whose client did not ask for usage still gets the usage chunk carrying the cost.
    const streamed = await sdk.chat.completions
      .create({ model: modelOf('openai'), messages, stream: true })
      .withResponse();
    let cost: unknown;
    for await (const chunk of streamed.data) if (chunk.usage) cost = costOf(chunk.usage);
    expect(String(cost)).toBe(await booked(streamed.response.headers.get('x-request-id')!));

    const responses = await sdk.responses
      .create({ model: modelOf('bedrock'), input: 'what did this cost' })
      .withResponse();
    expect(String(costOf(responses.data.usage))).toBe(
      await booked(responses.response.headers.get('x-request-id')!),
    );

    const anthropic = new Anthropic({ baseURL: gateway.url, apiKey: gateway.key, maxRetries: 0 });
    const message = await anthropic.messages
      .create({ model: modelOf('gemini'), max_tokens: 64, messages })
      .withResponse();
    expect(String(costOf(message.data.usage))).toBe(
      await booked(message.response.headers.get('x-request-id')!),
    );
  });

  it('turned off over the admin API, bodies carry no cost again (the header stays)', async () => {
    const answer = await fetch(`${gateway.url}/admin/v1/keys/${gateway.keyId}`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${MASTER}`, 'content-type': 'application/json' },
      body: JSON.stringify({ include_cost: false }),
    });
    expect(answer.status).toBe(200);
    expect(((await answer.json()) as { include_cost: boolean }).include_cost).toBe(false);
    const refused = await fetch(`${gateway.url}/admin/v1/keys/${gateway.keyId}`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${MASTER}`, 'content-type': 'application/json' },
      body: JSON.stringify({ include_cost: 'yes' }),
    });
    expect(refused.status).toBe(400);

    const sdk = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: gateway.key, maxRetries: 0 });
    const plain = await sdk.chat.completions
      .create({ model: modelOf('azure'), messages })
      .withResponse();
    expect(costOf(plain.data.usage)).toBeUndefined();
    expect(plain.response.headers.get('x-switchyard-cost')).toBe(
      await booked(plain.response.headers.get('x-request-id')!),
    );
  });
});
