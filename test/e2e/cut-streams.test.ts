import { ConverseStreamCommand } from '@aws-sdk/client-bedrock-runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { costMicros, parsePrice } from '../../src/billing/prices.js';
import type { UsageEvent } from '../../src/store/index.js';
import { eventually } from '../helpers/gateway.js';
import {
  clients,
  type Emulators,
  FAMILIES,
  type Family,
  type MoneyGateway,
  modelOf,
  moneyConfig,
  PRICE,
  startEmulators,
  startMoneyGateway,
} from './money-world.js';

/**
 * A stream the client cuts is still metered: Switchyard reads the upstream to its end and books
 * the upstream's own usage (usage row, ledger revenue, partner share, budget), exactly as the
 * same request read whole. With no drain time the tokens are counted by the tokenizer and the
 * row is marked estimated. Every surface (through its SDK) × every provider family × three cut
 * points: at the first token, in the middle, and after the last token, before the usage event.
 */

const SURFACES = ['openai-chat', 'openai-chat-usage', 'responses', 'anthropic', 'bedrock'] as const;
type Surface = (typeof SURFACES)[number];
const CUTS = ['start', 'middle', 'before-usage'] as const;
type Cut = (typeof CUTS)[number];
type Kind = 'text' | 'finish' | 'usage' | 'other';

const PROMPT =
  'say one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen';
const price = parsePrice(PRICE);

/** Whether the client leaves at this event (the `texts`-th text event so far). */
function leavesAt(cut: Cut | 'never', kind: Kind, texts: number): boolean {
  if (cut === 'start') return kind === 'text';
  if (cut === 'middle') return kind === 'text' && texts === 4;
  if (cut === 'before-usage') return kind === 'finish';
  return false;
}

/** Streams PROMPT on `surface` and leaves at `cut`; resolves the request id. */
async function run(gateway: MoneyGateway, surface: Surface, family: Family, cut: Cut | 'never') {
  const sdk = clients(gateway.url, gateway.key);
  const model = modelOf(family);
  let texts = 0;
  const leave = (kind: Kind) => {
    if (kind === 'text') texts++;
    return leavesAt(cut, kind, texts);
  };
  if (surface === 'openai-chat' || surface === 'openai-chat-usage') {
    const { data, response } = await sdk.openai.chat.completions
      .create({
        model,
        messages: [{ role: 'user', content: PROMPT }],
        stream: true,
        ...(surface === 'openai-chat-usage' && { stream_options: { include_usage: true } }),
      })
      .withResponse();
    for await (const chunk of data) {
      const choice = chunk.choices[0];
      const kind: Kind = choice?.finish_reason
        ? 'finish'
        : choice?.delta?.content
          ? 'text'
          : chunk.usage
            ? 'usage'
            : 'other';
      if (leave(kind)) break;
    }
    return response.headers.get('x-request-id')!;
  }
  if (surface === 'responses') {
    const { data, response } = await sdk.openai.responses
      .create({ model, input: PROMPT, stream: true })
      .withResponse();
    for await (const event of data) {
      const kind: Kind =
        event.type === 'response.output_text.delta'
          ? 'text'
          : event.type === 'response.output_text.done'
            ? 'finish'
            : event.type === 'response.completed'
              ? 'usage'
              : 'other';
      if (leave(kind)) break;
    }
    return response.headers.get('x-request-id')!;
  }
  if (surface === 'anthropic') {
    const { data, response } = await sdk.anthropic.messages
      .create({
        model,
        max_tokens: 1024,
        messages: [{ role: 'user', content: PROMPT }],
        stream: true,
      })
      .withResponse();
    for await (const event of data) {
      const kind: Kind =
        event.type === 'content_block_delta'
          ? 'text'
          : event.type === 'content_block_stop'
            ? 'finish'
            : event.type === 'message_delta'
              ? 'usage'
              : 'other';
      if (leave(kind)) break;
    }
    return response.headers.get('x-request-id')!;
  }
  const controller = new AbortController();
  const answer = await sdk.bedrock.send(
    new ConverseStreamCommand({
      modelId: model,
      messages: [{ role: 'user', content: [{ text: PROMPT }] }],
    }),
    { abortSignal: controller.signal },
  );
  try {
    for await (const event of answer.stream!) {
      const kind: Kind = event.contentBlockDelta
        ? 'text'
        : event.messageStop
          ? 'finish'
          : event.metadata
            ? 'usage'
            : 'other';
      if (leave(kind)) {
        // The SDK talks HTTP/2 here: leaving the loop does not end the stream, closing the
        // client's sessions does (as a process that exits would).
        controller.abort();
        sdk.bedrock.destroy();
        break;
      }
    }
  } catch (error) {
    if (!controller.signal.aborted) throw error;
  }
  return answer.$metadata.requestId!;
}

/** What one request booked: its usage row, ledger revenue and share, and the budget spent. */
interface Booked {
  row: UsageEvent;
  revenue: bigint;
  share: bigint;
  spent: bigint;
}

/** Runs one request and waits for its usage row (written once the drain ends). */
async function booked(
  gateway: MoneyGateway,
  surface: Surface,
  family: Family,
  cut: Cut | 'never',
): Promise<Booked> {
  const before = await gateway.spent();
  const requestId = await run(gateway, surface, family, cut);
  expect(requestId).toMatch(/^req_/);
  const row = await eventually(() => gateway.app.usage.get(requestId), 10_000);
  // Budget spend is settled just before the row is written; the ledger in the same transaction.
  const transactions = await gateway.app.billing.transactions(requestId);
  const usage = transactions.filter((transaction) => transaction.kind === 'usage');
  expect(usage).toHaveLength(1);
  return {
    row,
    revenue: usage[0]!.revenue,
    share: usage[0]!.share,
    spent:
      (await eventually(async () => {
        const now = await gateway.spent();
        return now > before ? now : undefined;
      }, 5_000)) - before,
  };
}

const tokens = (row: UsageEvent) => ({
  inputTokens: row.inputTokens,
  cachedInputTokens: row.cachedInputTokens,
  outputTokens: row.outputTokens,
  reasoningTokens: row.reasoningTokens,
});

let emulators: Emulators;
let draining: MoneyGateway;
let cutting: MoneyGateway;
beforeAll(async () => {
  emulators = await startEmulators(15);
  draining = await startMoneyGateway(moneyConfig(emulators));
  cutting = await startMoneyGateway(
    moneyConfig(emulators, { routing: { retries: 0, drainOnDisconnectMs: 0 } }),
  );
});
afterAll(async () => {
  await draining?.close();
  await cutting?.close();
  await emulators?.close();
});

describe.each(SURFACES)('a stream cut on %s', (surface) => {
  describe.each(FAMILIES)('served by %s', (family) => {
    let whole: Booked;
    beforeAll(async () => {
      whole = await booked(draining, surface, family, 'never');
      expect(whole.row.status).toBe('ok');
      expect(whole.row.outputTokens).toBeGreaterThan(5);
      expect(whole.revenue).toBeGreaterThan(0n);
    });

    it.each(CUTS)('cut at %s: books the tokens the upstream generated', async (cut) => {
      const got = await booked(draining, surface, family, cut);
      // Cut after the last token, the client may be gone only once the answer was all written
      // (the Anthropic and Responses surfaces send their last events with the usage).
      if (cut === 'before-usage') expect(['aborted', 'ok']).toContain(got.row.status);
      else expect(got.row).toMatchObject({ status: 'aborted', httpStatus: 499, stream: true });
      expect(got.row.estimated).toBeUndefined();
      expect(tokens(got.row)).toEqual(tokens(whole.row));
      expect(got.revenue).toBe(whole.revenue);
      expect(got.share).toBe(whole.share);
      expect(got.share).toBeGreaterThan(0n);
      expect(got.spent).toBe(costMicros(tokens(whole.row), price, 'up'));
    });
  });
});

describe.each(FAMILIES)('drain time 0, served by %s', (family) => {
  it('counts the input and the output seen with the tokenizer and marks the row estimated', async () => {
    const got = await booked(cutting, 'openai-chat', family, 'middle');
    expect(got.row).toMatchObject({ status: 'aborted', estimated: true });
    expect(got.row.inputTokens).toBeGreaterThan(5);
    // At least the 4 text events the client saw (at most what the whole answer has).
    expect(got.row.outputTokens).toBeGreaterThanOrEqual(4);
    expect(got.row.outputTokens).toBeLessThan(40);
    expect(got.revenue).toBe(costMicros(tokens(got.row), price, 'half-even'));
    expect(got.spent).toBe(costMicros(tokens(got.row), price, 'up'));
    // The partner's 20 % (accrued on the running total, so this event's part may round either way).
    expect(got.share).toBeGreaterThanOrEqual((got.revenue * 2n) / 10n - 1n);
    expect(got.share).toBeLessThanOrEqual((got.revenue * 2n) / 10n + 1n);
  });
});
