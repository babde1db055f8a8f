import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FakeUpstream, startFakeUpstream } from '../fakes/upstream.js';
import {
  http,
  openAIFamilyProviders,
  parseSse,
  pinned,
  type RunningApp,
  startApp,
  startOpenAIFamilyClouds,
} from './helpers.js';

/**
 * The Responses event stream on the wire: order, fields, sequence numbers, item ids, function
 * call argument deltas, reasoning, and the error path (`error` then `response.failed`).
 */

let clouds: Awaited<ReturnType<typeof startOpenAIFamilyClouds>>;
let fake: FakeUpstream;
let app: RunningApp;

beforeAll(async () => {
  clouds = await startOpenAIFamilyClouds();
  fake = await startFakeUpstream();
  app = await startApp({
    providers: {
      ...openAIFamilyProviders(clouds),
      scripted: { type: 'openai-compatible', baseUrl: `${fake.url}/v1` },
    },
    models: { 'azure-mini': pinned('azure-east'), scripted: pinned('scripted', 'scripted-model') },
    routing: { retries: 0 },
  });
});
afterAll(async () => {
  await app.close();
  await fake.close();
  await clouds.close();
});

const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
  `data: ${JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'scripted-model', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
const usage = `data: ${JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'scripted-model', choices: [], usage: { prompt_tokens: 7, completion_tokens: 5, total_tokens: 12 } })}\n\n`;

async function streamed(body: Record<string, unknown>) {
  const answer = await http(`${app.url}/v1/responses`, { body: { ...body, stream: true } });
  expect(answer.status).toBe(200);
  expect(String(answer.headers['content-type'])).toContain('text/event-stream');
  const events = parseSse(answer.text);
  for (const [index, event] of events.entries()) {
    expect(event.data['sequence_number']).toBe(index);
    expect(event.event).toBe(event.data['type']);
  }
  return events.map((event) => event.data);
}

describe('Responses stream events', () => {
  it('streams a text answer in the spec order with matching item ids', async () => {
    const events = await streamed({ model: 'azure-mini', input: 'say one two three' });
    const types = events.map((event) => event['type']);
    expect(types.slice(0, 4)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
    ]);
    expect(types.slice(-5)).toEqual([
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
    const created = events[0]!['response'] as Record<string, unknown>;
    expect(created).toMatchObject({ status: 'in_progress', output: [], usage: null });
    const added = events[2]!['item'] as Record<string, unknown>;
    expect(added).toMatchObject({
      type: 'message',
      status: 'in_progress',
      role: 'assistant',
      content: [],
    });
    const deltas = events.filter((event) => event['type'] === 'response.output_text.delta');
    expect(deltas.length).toBeGreaterThan(1);
    for (const delta of deltas)
      expect(delta).toMatchObject({
        item_id: added['id'],
        output_index: 0,
        content_index: 0,
        logprobs: [],
      });
    const done = events.find((event) => event['type'] === 'response.output_text.done')!;
    expect(done['text']).toBe(deltas.map((delta) => delta['delta']).join(''));
    expect(done['text']).toBe('one two three');
    const itemDone = events.find((event) => event['type'] === 'response.output_item.done')!;
    expect(itemDone['item']).toMatchObject({
      id: added['id'],
      status: 'completed',
      content: [{ type: 'output_text', text: 'one two three', annotations: [] }],
    });

    // The final Response equals what GET returns, and what a non-streamed request returns (ids and times aside).
    const final = events.at(-1)!['response'] as Record<string, unknown>;
    const fetched = (await http(`${app.url}/v1/responses/${String(final['id'])}`)).json();
    expect(fetched).toEqual(final);
    const whole = (
      await http(`${app.url}/v1/responses`, {
        body: { model: 'azure-mini', input: 'say one two three' },
      })
    ).json();
    const strip = (response: Record<string, any>) =>
      JSON.parse(
        JSON.stringify(response)
          .replace(/"(resp|msg)_[A-Za-z0-9]+"/g, '"id"')
          .replace(/"(created_at|completed_at)":\d+/g, '"$1":0'),
      );
    expect(strip(whole)).toEqual(strip(final));
  });

  it('streams function calls with argument deltas, one block per call', async () => {
    fake.script([
      {
        chunks: [
          chunk({
            role: 'assistant',
            tool_calls: [
              {
                index: 0,
                id: 'call_a',
                type: 'function',
                function: { name: 'get_weather', arguments: '' },
              },
            ],
          }),
          chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }),
          chunk({ tool_calls: [{ index: 0, function: { arguments: '"Rome"}' } }] }),
          chunk({
            tool_calls: [
              {
                index: 1,
                id: 'call_b',
                type: 'function',
                function: { name: 'get_time', arguments: '{"city":"Rome"}' },
              },
            ],
          }),
          chunk({}, 'tool_calls'),
          usage,
          'data: [DONE]\n\n',
        ],
      },
    ]);
    const events = await streamed({
      model: 'scripted',
      input: 'weather and time in Rome',
      tools: [
        { type: 'function', name: 'get_weather', parameters: { type: 'object' } },
        { type: 'function', name: 'get_time', parameters: { type: 'object' } },
      ],
    });
    const blocks = events.filter(
      (event) =>
        String(event['type']).startsWith('response.output_item.') ||
        String(event['type']).startsWith('response.function_call'),
    );
    expect(
      blocks.map((event) => `${String(event['type'])}@${String(event['output_index'])}`),
    ).toEqual([
      'response.output_item.added@0',
      'response.function_call_arguments.delta@0',
      'response.function_call_arguments.delta@0',
      'response.function_call_arguments.done@0',
      'response.output_item.done@0',
      'response.output_item.added@1',
      'response.function_call_arguments.delta@1',
      'response.function_call_arguments.done@1',
      'response.output_item.done@1',
    ]);
    expect(blocks[0]!['item']).toMatchObject({
      type: 'function_call',
      status: 'in_progress',
      arguments: '',
      call_id: 'call_a',
      name: 'get_weather',
    });
    expect(blocks[3]).toMatchObject({
      name: 'get_weather',
      arguments: '{"city":"Rome"}',
      item_id: (blocks[0]!['item'] as { id: string }).id,
    });
    expect(blocks[8]!['item']).toMatchObject({
      type: 'function_call',
      status: 'completed',
      call_id: 'call_b',
      name: 'get_time',
      arguments: '{"city":"Rome"}',
    });
    const final = events.at(-1)!;
    expect(final['type']).toBe('response.completed');
    expect((final['response'] as { usage: unknown }).usage).toMatchObject({
      input_tokens: 7,
      output_tokens: 5,
      total_tokens: 12,
    });
  });

  it('turns streamed reasoning into a reasoning item before the message', async () => {
    fake.script([
      {
        chunks: [
          chunk({ role: 'assistant', reasoning_content: 'Let me ' }),
          chunk({ reasoning_content: 'think.' }),
          chunk({ content: 'Done.' }),
          chunk({}, 'stop'),
          usage,
          'data: [DONE]\n\n',
        ],
      },
    ]);
    const events = await streamed({ model: 'scripted', input: 'think first' });
    const types = events.map((event) => event['type']);
    expect(types).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.reasoning_summary_part.added',
      'response.reasoning_summary_text.delta',
      'response.reasoning_summary_text.delta',
      'response.reasoning_summary_text.done',
      'response.reasoning_summary_part.done',
      'response.output_item.done',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
    const output = (events.at(-1)!['response'] as { output: Array<Record<string, unknown>> })
      .output;
    expect(output[0]).toMatchObject({
      type: 'reasoning',
      summary: [{ type: 'summary_text', text: 'Let me think.' }],
    });
    expect(String(output[0]!['encrypted_content'])).toMatch(/^swy\.rs\.v1\./);
    expect(output[1]).toMatchObject({ type: 'message', content: [{ text: 'Done.' }] });
  });

  it('sends error then response.failed when the upstream breaks mid-stream, and stores the failure', async () => {
    fake.script([
      {
        chunks: [chunk({ role: 'assistant', content: 'Partial' }), chunk({ content: ' answ' })],
        resetAfterChunks: 2,
      },
    ]);
    const events = await streamed({ model: 'scripted', input: 'go' });
    const types = events.map((event) => event['type']);
    expect(types.slice(-2)).toEqual(['error', 'response.failed']);
    const error = events.at(-2)!;
    expect(error).toMatchObject({
      code: 'upstream_unreachable',
      param: null,
      error: { code: 'upstream_unreachable', type: 'server_error' },
    });
    expect(typeof error['message']).toBe('string');
    const failed = events.at(-1)!['response'] as Record<string, any>;
    expect(failed).toMatchObject({ status: 'failed', error: { code: 'server_error' } });
    expect(failed['output'][0]).toMatchObject({
      type: 'message',
      status: 'in_progress',
      content: [{ text: 'Partial answ' }],
    });
    const stored = (await http(`${app.url}/v1/responses/${String(failed['id'])}`)).json();
    expect(stored.status).toBe('failed');
    // A replay shows the same failure.
    const replay = parseSse(
      (await http(`${app.url}/v1/responses/${String(failed['id'])}?stream=true`)).text,
    ).map((event) => event.data['type']);
    expect(replay).toEqual(types);
  });

  it('answers a failure before the first byte as a plain HTTP error', async () => {
    fake.script([
      {
        status: 429,
        body: { error: { message: 'slow down', type: 'rate_limit_error', code: null } },
      },
    ]);
    const answer = await http(`${app.url}/v1/responses`, {
      body: { model: 'scripted', input: 'go', stream: true },
    });
    expect(answer.status).toBe(429);
    expect(answer.json().error).toMatchObject({ type: 'rate_limit_error' });
  });

  it('replays a non-streamed response as events rebuilt from its final state', async () => {
    const created = (
      await http(`${app.url}/v1/responses`, {
        body: { model: 'azure-mini', input: 'say replay me' },
      })
    ).json();
    const events = parseSse(
      (await http(`${app.url}/v1/responses/${created.id}?stream=true`)).text,
    ).map((event) => event.data);
    expect(events.map((event) => event['sequence_number'])).toEqual(
      events.map((_, index) => index),
    );
    expect(events.map((event) => event['type'])).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(events.at(-1)!['response']).toEqual(created);
    expect((events[2]!['item'] as { id: string }).id).toBe(created.output[0].id);
  });
});
