import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  http,
  openAIFamilyProviders,
  pinned,
  type RunningApp,
  startApp,
  startOpenAIFamilyClouds,
  TENANT_A_KEY,
} from './helpers.js';

/**
 * Context management: truncation to the model's window (`models.<name>.contextWindow`) and
 * compaction (explicit `/responses/compact`, `context_management` thresholds and a
 * `compaction_trigger` item), each compaction being its own metered model call.
 */

let clouds: Awaited<ReturnType<typeof startOpenAIFamilyClouds>>;
let app: RunningApp;
let client: OpenAI;

beforeAll(async () => {
  clouds = await startOpenAIFamilyClouds();
  app = await startApp({
    providers: openAIFamilyProviders(clouds),
    models: {
      small: pinned('azure-east', 'gpt-4o-mini', 400),
      roomy: pinned('openai-direct', 'gpt-4o-mini', 128_000),
    },
  });
  client = new OpenAI({ baseURL: `${app.url}/v1`, apiKey: TENANT_A_KEY, maxRetries: 0 });
});
afterAll(async () => {
  await app.close();
  await clouds.close();
});

const filler = (label: string) => `${label}: ${'lorem ipsum dolor sit amet '.repeat(60)}`;

/** A chain of `turns` responses on `model`, each with a long input; returns the last. */
async function chain(model: string, turns: number): Promise<OpenAI.Responses.Response> {
  let previous: OpenAI.Responses.Response | undefined;
  for (let turn = 0; turn < turns; turn++) {
    previous = await client.responses.create({
      model,
      input: `${filler(`turn ${turn}`)}. say ok ${turn}`,
      ...(previous ? { previous_response_id: previous.id } : {}),
    });
  }
  return previous!;
}

describe('truncation', () => {
  it('answers a clear context error when the chain outgrows the window and truncation is disabled', async () => {
    const last = await chain('roomy', 4);
    const error = await client.responses
      .create({ model: 'small', previous_response_id: last.id, input: 'say hi' })
      .catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as InstanceType<typeof OpenAI.BadRequestError>).error).toMatchObject({
      code: 'context_length_exceeded',
      param: 'input',
      type: 'invalid_request_error',
    });
    expect((error as Error).message).toMatch(/context window/);
  });

  it('drops the oldest items to fit the window with truncation: auto', async () => {
    const last = await chain('roomy', 4);
    clouds.azure.requests.length = 0;
    const answer = await client.responses.create({
      model: 'small',
      previous_response_id: last.id,
      input: 'say fitted',
      truncation: 'auto',
      instructions: 'Keep me.',
    });
    expect(answer.output_text).toBe('fitted');
    expect(answer.truncation).toBe('auto');
    const messages = clouds.azure.bodies().at(-1)!['messages'] as Array<{
      role: string;
      content: string;
    }>;
    expect(messages[0]).toEqual({ role: 'system', content: 'Keep me.' });
    expect(messages[1]?.role).toBe('user');
    expect(messages.at(-1)).toEqual({ role: 'user', content: 'say fitted' });
    const sent = JSON.stringify(messages);
    expect(sent).not.toContain('turn 0');
    expect(sent).toContain('turn 3');
  });
});

describe('compaction', () => {
  it('compacts older items through a model call when context_management crosses its threshold', async () => {
    const last = await chain('roomy', 4);
    clouds.openai.requests.length = 0;
    const answer = await client.responses.create({
      model: 'roomy',
      previous_response_id: last.id,
      input: 'say compacted',
      context_management: [{ type: 'compaction', compact_threshold: 1000 }],
    });
    expect(answer.output.map((item) => item.type)).toEqual(['compaction', 'message']);
    expect(answer.output_text).toBe('compacted');
    // Two calls: the summary, then the answer with the summary in place of the older items.
    const [summaryCall, answerCall] = clouds.openai.bodies();
    expect(JSON.stringify(summaryCall)).toContain('compact a conversation');
    const messages = answerCall!['messages'] as Array<{ role: string; content: string }>;
    expect(messages.filter((message) => message.role === 'assistant')).toEqual([]);
    expect(messages.find((message) => message.role === 'system')?.content).toMatch(
      /^Summary of the earlier conversation:\n/,
    );
    expect(messages.at(-1)).toEqual({ role: 'user', content: 'say compacted' });
    expect(answer.usage!.input_tokens).toBeGreaterThan(0);

    // The next turn uses the compaction item in place of the older items.
    clouds.openai.requests.length = 0;
    const next = await client.responses.create({
      model: 'roomy',
      previous_response_id: answer.id,
      input: 'say after',
    });
    expect(next.output.map((item) => item.type)).toEqual(['message']);
    const after = clouds.openai.bodies()[0]!['messages'] as Array<{
      role: string;
      content: string;
    }>;
    expect(after.map((message) => message.role)).toEqual([
      'user',
      'user',
      'user',
      'user',
      'system',
      'user',
      'assistant',
      'user',
    ]);

    // The compaction call was metered under its own request id.
    const usage = await app.app.usage.list({ limit: 1000 });
    expect(
      usage.some(
        (event) => event.requestId.endsWith(':compact') && event.surface === 'openai-responses',
      ),
    ).toBe(true);
  });

  it('compacts on a trailing compaction_trigger item', async () => {
    const first = await client.responses.create({
      model: 'roomy',
      input: 'The key is "blue-7". say stored',
    });
    const answer = await http(`${app.url}/v1/responses`, {
      body: {
        model: 'roomy',
        previous_response_id: first.id,
        input: [{ role: 'user', content: 'say triggered' }, { type: 'compaction_trigger' }],
      },
    });
    expect(answer.status).toBe(200);
    expect(answer.json().output.map((item: { type: string }) => item.type)).toEqual([
      'compaction',
      'message',
    ]);
  });

  it('leaves the context alone below the threshold', async () => {
    const first = await client.responses.create({ model: 'roomy', input: 'say short' });
    const answer = await client.responses.create({
      model: 'roomy',
      previous_response_id: first.id,
      input: 'say still short',
      context_management: [{ type: 'compaction', compact_threshold: 100_000 }],
    });
    expect(answer.output.map((item) => item.type)).toEqual(['message']);
  });
});
