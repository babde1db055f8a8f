import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { embedText } from '../../src/sandbox/embeddings.js';
import { countTokens, emulate, tokenize } from '../../src/sandbox/model.js';
import { startOpenAIEmulator } from '../../src/sandbox/openai-emulator.js';
import type { Emulator } from '../../src/sandbox/openai-emulator.js';

const apiKey = 'sk-sandbox-test';
const weatherTool = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['c', 'f'] } },
      required: ['city', 'unit'],
    },
  },
};

let emulator: Emulator;
let client: OpenAI;

beforeAll(async () => {
  emulator = await startOpenAIEmulator({ flavor: 'openai', apiKey });
  client = new OpenAI({ baseURL: `${emulator.url}/v1`, apiKey, maxRetries: 0 });
});
afterAll(() => emulator.close());
beforeEach(() => {
  emulator.setDown(false);
  emulator.setTokenDelay(0);
});

/** POSTs raw JSON and returns status and body text (for wire-level assertions). */
async function post(
  path: string,
  body: unknown,
  key = apiKey,
): Promise<{ status: number; text: string }> {
  const response = await fetch(`${emulator.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, text: await response.text() };
}

describe('OpenAI emulator', () => {
  it('answers a non-streaming chat completion with usage details', async () => {
    const completion = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: [{ type: 'text', text: 'Say hello' }] },
      ],
    });
    expect(completion.object).toBe('chat.completion');
    expect(completion.model).toBe('gpt-4o-mini');
    expect(completion.choices[0]?.message).toMatchObject({ role: 'assistant', content: 'hello' });
    expect(completion.choices[0]?.finish_reason).toBe('stop');
    expect(completion.usage).toMatchObject({
      prompt_tokens: countTokens('You are terse.') + countTokens('Say hello'),
      completion_tokens: countTokens('hello'),
      prompt_tokens_details: { cached_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0 },
    });
  });

  it('streams one chunk per token with a usage chunk when include_usage is set', async () => {
    const content = 'Tell me about streams, please';
    const stream = await client.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    const expected = `You said: ${content}`;
    expect(chunks[0]?.choices[0]?.delta).toMatchObject({ role: 'assistant', content: '' });
    const pieces = chunks.flatMap((c) =>
      c.choices[0]?.delta.content ? [c.choices[0].delta.content] : [],
    );
    expect(pieces).toEqual(tokenize(expected));
    const finish = chunks.at(-2);
    expect(finish?.choices[0]).toMatchObject({ delta: {}, finish_reason: 'stop' });
    const usageChunk = chunks.at(-1);
    expect(usageChunk?.choices).toEqual([]);
    expect(usageChunk?.usage).toMatchObject({
      prompt_tokens: countTokens(content),
      completion_tokens: countTokens(expected),
    });
    expect(chunks.slice(0, -1).every((c) => c.usage === null)).toBe(true);
    expect(chunks.every((c) => c.model === 'gpt-4o' && c.id === chunks[0]?.id)).toBe(true);
  });

  it('ends the raw stream with [DONE] and sends no usage chunk unless asked', async () => {
    const { status, text } = await post('/v1/chat/completions', {
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'say hi' }],
      stream: true,
    });
    expect(status).toBe(200);
    const events = text.split('\n\n').filter(Boolean);
    expect(events.at(-1)).toBe('data: [DONE]');
    const chunks = events
      .slice(0, -1)
      .map((e) => JSON.parse(e.slice('data: '.length)) as Record<string, unknown>);
    expect(
      chunks.every(
        (c) => Array.isArray(c['choices']) && c['choices'].length === 1 && !('usage' in c),
      ),
    ).toBe(true);
    expect(chunks.every((c) => typeof c['obfuscation'] === 'string')).toBe(true);
  });

  it('streams tool calls that the SDK stream helper accumulates', async () => {
    const request = {
      model: 'gpt-4o',
      messages: [{ role: 'user' as const, content: 'Call get_weather for "Lisbon"' }],
      tools: [weatherTool],
    };
    const runner = client.chat.completions.stream({
      ...request,
      stream_options: { include_usage: true },
    });
    const final = await runner.finalChatCompletion();
    const call = final.choices[0]?.message.tool_calls?.[0];
    expect(final.choices[0]?.finish_reason).toBe('tool_calls');
    expect(call?.type).toBe('function');
    if (call?.type !== 'function') throw new Error('expected a function call');
    expect(call.function.name).toBe('get_weather');
    expect(JSON.parse(call.function.arguments)).toEqual({ city: 'Lisbon', unit: 'c' });
    const plain = await client.chat.completions.create(request);
    expect(plain.choices[0]?.message.content).toBeNull();
    expect(plain.choices[0]?.message.tool_calls?.[0]?.id).toBe(call.id);
    expect(final.usage?.completion_tokens).toBe(plain.usage?.completion_tokens);

    // Second turn: the assistant's call and the tool result go back; the model reports the result.
    const answer = await client.chat.completions.create({
      ...request,
      messages: [
        ...request.messages,
        { role: 'assistant', content: null, tool_calls: [call] },
        { role: 'tool', tool_call_id: call.id, content: '18C, sunny' },
      ],
    });
    expect(answer.choices[0]?.message.content).toBe('Tool get_weather returned: 18C, sunny');
    expect(answer.choices[0]?.finish_reason).toBe('stop');
  });

  it('streams parallel tool calls by index', async () => {
    const search = {
      type: 'function' as const,
      function: { name: 'search', parameters: { type: 'object', properties: {} } },
    };
    const final = await client.chat.completions
      .stream({
        model: 'gpt-4o',
        messages: [{ role: 'user', content: 'use get_weather and search' }],
        tools: [weatherTool, search],
      })
      .finalChatCompletion();
    const calls = final.choices[0]?.message.tool_calls ?? [];
    expect(calls.map((c) => (c.type === 'function' ? c.function.name : c.type))).toEqual([
      'get_weather',
      'search',
    ]);
    expect(calls.map((c) => (c.type === 'function' ? c.function.arguments : ''))).toEqual([
      '{"city":"example","unit":"c"}',
      '{}',
    ]);
  });

  it('returns deterministic embeddings as floats or base64', async () => {
    const viaBase64 = await client.embeddings.create({
      model: 'text-embedding-3-small',
      input: ['alpha', 'beta'],
    });
    expect(viaBase64.data).toHaveLength(2);
    expect(viaBase64.data[0]?.embedding).toEqual(Array.from(embedText('alpha')));
    expect(viaBase64.usage.prompt_tokens).toBe(countTokens('alpha') + countTokens('beta'));
    const floats = await client.embeddings.create({
      model: 'text-embedding-3-small',
      input: 'alpha',
      dimensions: 8,
      encoding_format: 'float',
    });
    const vector = floats.data[0]?.embedding ?? [];
    expect(vector).toHaveLength(8);
    expect(Math.hypot(...vector)).toBeCloseTo(1, 5);
    expect(viaBase64.data[1]?.embedding).not.toEqual(viaBase64.data[0]?.embedding);
  });

  it('lists models', async () => {
    const ids: string[] = [];
    for await (const model of client.models.list()) ids.push(model.id);
    expect(ids).toContain('gpt-4o-mini');
  });

  it('rejects bad credentials, bad JSON and invalid bodies in OpenAI error shape', async () => {
    const wrongKey = new OpenAI({
      baseURL: `${emulator.url}/v1`,
      apiKey: 'sk-wrong-key',
      maxRetries: 0,
    });
    await expect(wrongKey.models.list()).rejects.toMatchObject({
      status: 401,
      code: 'invalid_api_key',
    });
    const badJson = await post('/v1/chat/completions', '{"model":');
    expect(badJson.status).toBe(400);
    expect(JSON.parse(badJson.text)).toMatchObject({
      error: { type: 'invalid_request_error', param: null, code: null },
    });
    await expect(
      client.chat.completions.create({ model: 'gpt-4o', messages: [] }),
    ).rejects.toMatchObject({ status: 400, param: 'messages', code: 'empty_array' });
    const noMessages = await post('/v1/chat/completions', { model: 'gpt-4o' });
    expect(JSON.parse(noMessages.text)).toEqual({
      error: {
        message: "Missing required parameter: 'messages'.",
        type: 'invalid_request_error',
        param: 'messages',
        code: 'missing_required_parameter',
      },
    });
    const badRole = await post('/v1/chat/completions', {
      model: 'gpt-4o',
      messages: [{ role: 'robot', content: 'x' }],
    });
    expect(JSON.parse(badRole.text)).toMatchObject({
      error: { param: 'messages[0].role', code: 'invalid_value' },
    });
    expect((await post('/v1/nope', {})).status).toBe(404);
  });

  it('answers 503 while down and counts every request', async () => {
    const before = emulator.requests;
    emulator.setDown(true);
    expect(emulator.isDown()).toBe(true);
    await expect(
      client.chat.completions.create({
        model: 'gpt-4o',
        messages: [{ role: 'user', content: 'hi' }],
      }),
    ).rejects.toMatchObject({ status: 503, type: 'server_error' });
    emulator.setDown(false);
    const ok = await client.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(ok.choices[0]?.message.content).toBe('You said: hi');
    expect(emulator.requests).toBe(before + 2);
  });

  it('paces chunks by the token delay and survives a client that disconnects', async () => {
    emulator.setTokenDelay(15);
    const started = Date.now();
    const stream = await client.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'say one two three' }],
      stream: true,
    });
    let count = 0;
    for await (const _chunk of stream) count++;
    // role chunk + 3 tokens + finish chunk = 5 chunks, 4 gaps of 15 ms
    expect(count).toBe(5);
    expect(Date.now() - started).toBeGreaterThanOrEqual(55);

    const controller = new AbortController();
    const aborted = await client.chat.completions.create(
      {
        model: 'gpt-4o',
        messages: [{ role: 'user', content: 'a long answer '.repeat(20) }],
        stream: true,
      },
      { signal: controller.signal },
    );
    let received = 0;
    for await (const _chunk of aborted) {
      received++;
      controller.abort(); // the SDK ends the iteration quietly on abort
    }
    expect(received).toBe(1);
    emulator.setTokenDelay(0);
    const after = await client.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'still up?' }],
    });
    expect(after.choices[0]?.message.content).toBe(
      emulate({ messages: [{ role: 'user', text: 'still up?' }], tools: [] }).text,
    );
  });

  it('enforces the configured models and context window', async () => {
    const strict = await startOpenAIEmulator({
      flavor: 'openai',
      models: ['small'],
      contextWindow: 5,
    });
    try {
      const local = new OpenAI({ baseURL: `${strict.url}/v1`, apiKey: 'any', maxRetries: 0 });
      await expect(
        local.chat.completions.create({
          model: 'big',
          messages: [{ role: 'user', content: 'hi' }],
        }),
      ).rejects.toMatchObject({ status: 404, code: 'model_not_found' });
      await expect(
        local.chat.completions.create({
          model: 'small',
          messages: [{ role: 'user', content: 'one two three four five six seven' }],
        }),
      ).rejects.toMatchObject({ status: 400, code: 'context_length_exceeded' });
    } finally {
      await strict.close();
    }
  });
});
