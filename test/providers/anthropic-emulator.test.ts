import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatCompletion, ChatCompletionChunk, ChatRequest } from '../../src/core/chat.js';
import { GatewayError, UpstreamError } from '../../src/errors/index.js';
import type { GatewayCall, ProviderAdapter } from '../../src/providers/adapter.js';
import { anthropicAdapter } from '../../src/providers/anthropic/index.js';
import {
  type AnthropicEmulator,
  startAnthropicEmulator,
  thinkingSignature,
} from '../../src/sandbox/anthropic-emulator.js';
import { createTransport } from '../../src/transport/http.js';
import { decodeSse } from '../../src/transport/sse.js';

const KEY = 'sk-ant-emulated';
const transport = createTransport();
let emulator: AnthropicEmulator;
let adapter: ProviderAdapter;

beforeAll(async () => {
  emulator = await startAnthropicEmulator({ apiKey: KEY, contextWindow: 3000 });
  adapter = anthropicAdapter(
    'anthropic',
    { type: 'anthropic', apiKey: KEY, version: '2023-06-01', sandbox: true, baseUrl: emulator.url },
    { env: {}, now: () => 1_700_000_000_000 },
  );
});
afterAll(async () => {
  await emulator.close();
  await transport.close();
});

function call(body: Partial<ChatRequest>, stream = false): GatewayCall {
  return {
    requestId: 'req_1',
    operation: 'chat',
    body: { model: 'logical', messages: [], ...body } as ChatRequest,
    stream,
    deployment: { provider: 'anthropic', model: 'claude-sandbox' },
    signal: AbortSignal.timeout(10_000),
  };
}

/** Runs one call the way the router does: build, send, classify or parse. */
async function complete(
  target: ProviderAdapter,
  body: Partial<ChatRequest>,
): Promise<ChatCompletion> {
  const request = call(body);
  const response = await transport.send(await target.buildRequest(request), request.signal);
  if (response.status >= 300)
    throw target.classifyError(
      { status: response.status, headers: response.headers, body: await response.text() },
      request,
    );
  return target.parseResponse(JSON.parse(await response.text()), request);
}

async function stream(body: Partial<ChatRequest>): Promise<ChatCompletionChunk[]> {
  const request = call(body, true);
  const response = await transport.send(await adapter.buildRequest(request), request.signal);
  if (response.status >= 300)
    throw adapter.classifyError(
      { status: response.status, headers: response.headers, body: await response.text() },
      request,
    );
  const chunks: ChatCompletionChunk[] = [];
  for await (const item of adapter.mapStream(decodeSse(response.body), request))
    chunks.push(item.chunk());
  return chunks;
}

async function failure(promise: Promise<unknown>): Promise<UpstreamError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!(error instanceof UpstreamError))
    throw new Error(`expected UpstreamError, got ${String(error)}`);
  return error;
}

const tools: ChatRequest['tools'] = [
  {
    type: 'function',
    function: {
      name: 'get_weather',
      parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
    },
  },
];

describe('anthropic adapter against the emulator', () => {
  it('completes a plain request', async () => {
    const completion = await complete(adapter, {
      messages: [
        { role: 'system', content: 'sys' },
        { role: 'user', content: 'say "hello there"' },
      ],
    });
    expect(completion.id).toMatch(/^msg_/);
    expect(completion.model).toBe('claude-sandbox');
    expect(completion.choices[0]?.message).toEqual({ role: 'assistant', content: 'hello there' });
    expect(completion.choices[0]?.finish_reason).toBe('stop');
    expect(completion.usage?.completion_tokens).toBeGreaterThan(0);
    const sent = emulator.received.at(-1);
    expect(sent?.headers['x-api-key']).toBe(KEY);
    expect(sent?.headers['anthropic-version']).toBe('2023-06-01');
    expect(sent?.body).toMatchObject({
      model: 'claude-sandbox',
      system: [{ type: 'text', text: 'sys' }],
      max_tokens: 4096,
    });
  });

  it('maps tool calls and a tool round trip with the same ids', async () => {
    const first = await complete(adapter, {
      messages: [{ role: 'user', content: 'Use get_weather for "Paris"' }],
      tools,
    });
    const message = first.choices[0]!.message;
    expect(first.choices[0]?.finish_reason).toBe('tool_calls');
    expect(message.content).toBeNull();
    const toolCall = message.tool_calls![0]!;
    expect(toolCall).toMatchObject({
      type: 'function',
      function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
    });
    expect(toolCall.id).toMatch(/^toolu_/);
    const second = await complete(adapter, {
      messages: [
        { role: 'user', content: 'Use get_weather for "Paris"' },
        message,
        { role: 'tool', tool_call_id: toolCall.id, content: 'sunny' },
      ],
      tools,
    });
    expect(second.choices[0]?.message.content).toBe('Tool get_weather returned: sunny');
    const sent = emulator.received.at(-1)?.body as {
      messages: Array<{ content: Array<{ type: string; tool_use_id?: string; id?: string }> }>;
    };
    expect(sent.messages[1]?.content[0]).toMatchObject({ type: 'tool_use', id: toolCall.id });
    expect(sent.messages[2]?.content[0]).toMatchObject({
      type: 'tool_result',
      tool_use_id: toolCall.id,
    });
  });

  it('returns thinking with its signature, and the signature survives the next turn', async () => {
    const first = await complete(adapter, {
      messages: [{ role: 'user', content: 'think, then say "ok"' }],
      reasoning_effort: 'low',
    });
    const message = first.choices[0]!.message;
    expect(message.reasoning_content).toContain('Thinking about');
    expect(message.reasoning_signature).toBe(thinkingSignature(message.reasoning_content!));
    expect(first.usage?.completion_tokens_details?.reasoning_tokens).toBeGreaterThan(0);
    const second = await complete(adapter, {
      messages: [
        { role: 'user', content: 'think, then say "ok"' },
        message,
        { role: 'user', content: 'say "again"' },
      ],
    });
    expect(second.choices[0]?.message.content).toBe('again');
    const forged = complete(adapter, {
      messages: [
        { role: 'user', content: 'x' },
        { ...message, reasoning_signature: 'forged' },
        { role: 'user', content: 'y' },
      ],
    });
    expect((await failure(forged)).code).toBe('invalid_request');
  });

  it('maps max_tokens and stop sequences to finish reasons', async () => {
    const long = await complete(adapter, {
      messages: [{ role: 'user', content: 'say one two three four five six' }],
      max_tokens: 2,
    });
    expect(long.choices[0]?.finish_reason).toBe('length');
    const stopped = await complete(adapter, {
      messages: [{ role: 'user', content: 'say one two three' }],
      stop: [' two'],
    });
    expect([stopped.choices[0]?.message.content, stopped.choices[0]?.finish_reason]).toEqual([
      'one',
      'stop',
    ]);
  });

  it('reports cached prompt tokens inside prompt_tokens', async () => {
    const long = 'lorem ipsum dolor sit amet '.repeat(300);
    const completion = await complete(adapter, {
      messages: [
        { role: 'user', content: long },
        { role: 'assistant', content: 'ok' },
        { role: 'user', content: 'say "done"' },
      ],
    });
    const usage = completion.usage!;
    expect(usage.prompt_tokens_details?.cached_tokens).toBeGreaterThan(1000);
    expect(usage.prompt_tokens).toBeGreaterThan(usage.prompt_tokens_details!.cached_tokens!);
    expect(usage.total_tokens).toBe(usage.prompt_tokens + usage.completion_tokens);
  });

  it('structured output answers JSON for the schema', async () => {
    const schema = { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] };
    const completion = await complete(adapter, {
      messages: [{ role: 'user', content: 'name is "Ada"' }],
      response_format: { type: 'json_schema', json_schema: { name: 'p', schema } },
    });
    expect(JSON.parse(String(completion.choices[0]?.message.content))).toEqual({ name: 'Ada' });
  });

  it('streams text in OpenAI order with a usage chunk last', async () => {
    const chunks = await stream({ messages: [{ role: 'user', content: 'say "a b c"' }] });
    expect(chunks[0]?.choices[0]?.delta).toEqual({ role: 'assistant', content: '' });
    const text = chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('');
    expect(text).toBe('a b c');
    expect(chunks.at(-2)?.choices[0]).toMatchObject({ delta: {}, finish_reason: 'stop' });
    expect(chunks.at(-1)?.choices).toEqual([]);
    expect(chunks.at(-1)?.usage?.completion_tokens).toBeGreaterThan(0);
    expect(new Set(chunks.map((chunk) => chunk.id)).size).toBe(1);
  });

  it('streams tool calls and thinking', async () => {
    const chunks = await stream({
      messages: [{ role: 'user', content: 'think, then call get_weather for "Oslo"' }],
      tools,
      reasoning_effort: 'low',
    });
    const deltas = chunks.flatMap((chunk) => chunk.choices.map((choice) => choice.delta));
    const reasoning = deltas.map((delta) => delta.reasoning_content ?? '').join('');
    const signature = deltas.find(
      (delta) => delta.reasoning_signature !== undefined,
    )?.reasoning_signature;
    expect(signature).toBe(thinkingSignature(reasoning));
    const fragments = deltas.flatMap((delta) => delta.tool_calls ?? []);
    expect(fragments[0]).toMatchObject({
      index: 0,
      type: 'function',
      function: { name: 'get_weather', arguments: '' },
    });
    expect(fragments[0]?.id).toMatch(/^toolu_/);
    expect(fragments.length).toBeGreaterThan(2);
    expect(
      fragments
        .slice(1)
        .every((fragment) => Object.keys(fragment).sort().join() === 'function,index'),
    ).toBe(true);
    expect(fragments.map((fragment) => fragment.function?.arguments ?? '').join('')).toBe(
      '{"city":"Oslo"}',
    );
    expect(chunks.at(-2)?.choices[0]?.finish_reason).toBe('tool_calls');
    expect(chunks.at(-1)?.usage?.completion_tokens_details?.reasoning_tokens).toBeGreaterThan(0);
  });

  it('classifies auth, overload and context overflow', async () => {
    const wrongKey = anthropicAdapter(
      'anthropic',
      {
        type: 'anthropic',
        apiKey: 'nope',
        version: '2023-06-01',
        sandbox: true,
        baseUrl: emulator.url,
      },
      { env: {}, now: Date.now },
    );
    const auth = await failure(complete(wrongKey, { messages: [{ role: 'user', content: 'x' }] }));
    expect([auth.code, auth.errorClass, auth.status, auth.failover, auth.upstreamStatus]).toEqual([
      'upstream_auth',
      'auth',
      502,
      true,
      401,
    ]);

    emulator.setDown(true);
    try {
      const overloaded = await failure(
        complete(adapter, { messages: [{ role: 'user', content: 'x' }] }),
      );
      expect([
        overloaded.code,
        overloaded.errorClass,
        overloaded.status,
        overloaded.retryable,
      ]).toEqual(['upstream_overloaded', 'overloaded', 529, true]);
      expect(overloaded.retryAfterMs).toBe(1000);
      const streamed = await failure(stream({ messages: [{ role: 'user', content: 'x' }] }));
      expect(streamed.status).toBe(529);
    } finally {
      emulator.setDown(false);
    }

    const overflow = await failure(
      complete(adapter, { messages: [{ role: 'user', content: 'word '.repeat(3100) }] }),
    );
    expect([
      overflow.code,
      overflow.errorClass,
      overflow.status,
      overflow.retryable,
      overflow.failover,
    ]).toEqual(['context_length_exceeded', 'context_overflow', 400, false, true]);
  });

  it('rejects embeddings', async () => {
    const request: GatewayCall = {
      ...call({}),
      operation: 'embeddings',
      body: { model: 'e', input: 'x' },
    };
    await expect(adapter.buildRequest(request)).rejects.toBeInstanceOf(GatewayError);
  });
});
