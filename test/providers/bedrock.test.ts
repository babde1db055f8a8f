import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatCompletion, ChatCompletionChunk, ChatRequest } from '../../src/core/chat.js';
import type { ProviderConfig } from '../../src/config/index.js';
import type { GatewayCall, ProviderAdapter } from '../../src/providers/adapter.js';
import { bedrockAdapter } from '../../src/providers/bedrock/index.js';
import { startBedrockEmulator } from '../../src/sandbox/bedrock-emulator.js';
import type { Emulator } from '../../src/sandbox/openai-emulator.js';
import {
  decodeEventStream,
  encodeEventFrame,
  encodeExceptionFrame,
} from '../../src/transport/aws-eventstream.js';
import { createTransport } from '../../src/transport/http.js';
import { decodeSse } from '../../src/transport/sse.js';
import { type FakeUpstream, startFakeUpstream } from '../fakes/upstream.js';

/** A Bedrock provider config for tests. */
function bedrockConfig(
  overrides: Partial<Extract<ProviderConfig, { type: 'bedrock' }>> = {},
): ProviderConfig {
  return { type: 'bedrock', region: 'us-east-1', sandbox: true, ...overrides };
}

function makeAdapter(
  config: ProviderConfig,
  env: Record<string, string | undefined> = {},
): ProviderAdapter {
  return bedrockAdapter('bedrock-test', config, { env, now: Date.now });
}

function call(
  body: Partial<ChatRequest>,
  options: { stream?: boolean; model?: string; api?: 'openai' | 'converse' } = {},
): GatewayCall {
  const stream = options.stream ?? false;
  return {
    requestId: 'req_test',
    operation: 'chat',
    body: {
      model: 'logical',
      messages: [],
      ...body,
      ...(stream ? { stream: true } : {}),
    } as ChatRequest,
    stream,
    deployment: {
      provider: 'bedrock-test',
      model: options.model ?? 'anthropic.claude-3-haiku-20240307-v1:0',
      api: options.api,
    },
    signal: new AbortController().signal,
  };
}

const transport = createTransport();

/** What the router's executor does with one attempt, reduced to the adapter calls. */
async function complete(
  adapter: ProviderAdapter,
  gatewayCall: GatewayCall,
): Promise<ChatCompletion> {
  const upstream = await adapter.buildRequest(gatewayCall);
  const response = await transport.send(upstream, gatewayCall.signal);
  const text = await response.text(1024 * 1024);
  if (response.status >= 300)
    throw adapter.classifyError(
      { status: response.status, headers: response.headers, body: text },
      gatewayCall,
    );
  return adapter.parseResponse(JSON.parse(text), gatewayCall);
}

/** Streams one attempt; returns the chunks (and throws what the adapter throws). */
async function streamChunks(
  adapter: ProviderAdapter,
  gatewayCall: GatewayCall,
  seen: ChatCompletionChunk[] = [],
): Promise<ChatCompletionChunk[]> {
  const upstream = await adapter.buildRequest(gatewayCall);
  const response = await transport.send(upstream, gatewayCall.signal);
  if (response.status >= 300) {
    const text = await response.text();
    throw adapter.classifyError(
      { status: response.status, headers: response.headers, body: text },
      gatewayCall,
    );
  }
  const format = adapter.streamFormatFor?.(gatewayCall) ?? adapter.streamFormat;
  const frames = format === 'sse' ? decodeSse(response.body) : decodeEventStream(response.body);
  for await (const item of adapter.mapStream(frames, gatewayCall)) seen.push(item.chunk());
  return seen;
}

/** Joins streamed chunks into the pieces tests look at. */
function assemble(chunks: ChatCompletionChunk[]) {
  let content = '';
  let reasoning = '';
  let signature = '';
  const tools: Array<{ id?: string; name?: string; arguments: string }> = [];
  let finish: string | null = null;
  for (const chunk of chunks) {
    const choice = chunk.choices[0];
    if (!choice) continue;
    content += choice.delta.content ?? '';
    reasoning += choice.delta.reasoning_content ?? '';
    signature += choice.delta.reasoning_signature ?? '';
    for (const call of choice.delta.tool_calls ?? []) {
      const tool = (tools[call.index] ??= { arguments: '' });
      if (call.id) tool.id = call.id;
      if (call.function?.name) tool.name = call.function.name;
      tool.arguments += call.function?.arguments ?? '';
    }
    finish = choice.finish_reason ?? finish;
  }
  return { content, reasoning, signature, tools, finish, usage: chunks.at(-1)?.usage };
}

const credentials = { accessKeyId: 'AKIDSANDBOX', secretAccessKey: 'sandbox-secret' };
const weather = {
  type: 'function' as const,
  function: {
    name: 'get_weather',
    description: 'Weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};

describe('bedrock provider against the Bedrock emulator', () => {
  let emulator: Emulator;
  let adapter: ProviderAdapter;
  beforeAll(async () => {
    emulator = await startBedrockEmulator({ credentials, apiKey: 'bedrock-api-key' });
    adapter = makeAdapter(bedrockConfig({ baseUrl: emulator.url, ...credentials }));
  });
  afterAll(() => emulator.close());

  it('answers Converse (SigV4, model id with ":")', async () => {
    const completion = await complete(
      adapter,
      call({
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'say "hi there"' },
        ],
        max_tokens: 20,
        temperature: 0.2,
      }),
    );
    expect(completion.choices[0]).toMatchObject({
      message: { role: 'assistant', content: 'hi there' },
      finish_reason: 'stop',
    });
    expect(completion.usage?.completion_tokens).toBeGreaterThan(0);
    expect(completion.usage?.total_tokens).toBe(
      completion.usage!.prompt_tokens + completion.usage!.completion_tokens,
    );
    expect(completion.model).toBe('anthropic.claude-3-haiku-20240307-v1:0');
  });

  it('streams ConverseStream: role first, text, finish chunk, usage-only chunk last', async () => {
    const chunks = await streamChunks(
      adapter,
      call({ messages: [{ role: 'user', content: 'say "one two three four"' }] }, { stream: true }),
    );
    expect(chunks[0]?.choices[0]?.delta.role).toBe('assistant');
    const joined = assemble(chunks);
    expect(joined.content).toBe('one two three four');
    expect(joined.finish).toBe('stop');
    expect(chunks.at(-1)?.choices).toEqual([]);
    expect(joined.usage?.completion_tokens).toBeGreaterThan(0);
  });

  it('round-trips a tool call with its id, streamed and not', async () => {
    const ask = {
      messages: [{ role: 'user' as const, content: 'call get_weather for "Paris"' }],
      tools: [weather],
      tool_choice: 'auto' as const,
    };
    const first = await complete(adapter, call(ask));
    const toolCall = first.choices[0]!.message.tool_calls![0]!;
    expect(first.choices[0]?.finish_reason).toBe('tool_calls');
    expect(toolCall).toMatchObject({ type: 'function', function: { name: 'get_weather' } });
    expect(JSON.parse(toolCall.function.arguments)).toEqual({ city: 'Paris' });

    const streamed = await streamChunks(adapter, call(ask, { stream: true }));
    const firstFragment = streamed.find((c) => c.choices[0]?.delta.tool_calls)?.choices[0]?.delta
      .tool_calls?.[0];
    expect(firstFragment).toMatchObject({
      index: 0,
      id: toolCall.id,
      type: 'function',
      function: { name: 'get_weather', arguments: '' },
    });
    const joined = assemble(streamed);
    expect(joined.finish).toBe('tool_calls');
    expect(JSON.parse(joined.tools[0]!.arguments)).toEqual({ city: 'Paris' });

    const second = await complete(
      adapter,
      call({
        messages: [
          ...ask.messages,
          first.choices[0]!.message,
          { role: 'tool', tool_call_id: toolCall.id, content: '18°C and sunny' },
        ],
        tools: [weather],
      }),
    );
    expect(second.choices[0]?.message.content).toBe('Tool get_weather returned: 18°C and sunny');
  });

  it('carries reasoning text and signature, and sends them back intact', async () => {
    const ask = { role: 'user' as const, content: 'Think it over. Say "done"' };
    const first = await complete(adapter, call({ messages: [ask] }));
    const message = first.choices[0]!.message;
    expect(message.reasoning_content).toContain('Thinking about');
    expect(message.reasoning_signature).toBeTruthy();
    expect(message.content).toBe('done');

    const streamed = assemble(
      await streamChunks(adapter, call({ messages: [ask] }, { stream: true })),
    );
    expect(streamed.reasoning).toBe(message.reasoning_content);
    expect(streamed.signature).toBe(message.reasoning_signature);

    const next = { role: 'user' as const, content: 'say "again"' };
    const ok = await complete(adapter, call({ messages: [ask, message, next] }));
    expect(ok.choices[0]?.message.content).toBe('again');
    await expect(
      complete(
        adapter,
        call({ messages: [ask, { ...message, reasoning_signature: 'forged' }, next] }),
      ),
    ).rejects.toMatchObject({
      code: 'invalid_request',
      errorClass: 'invalid_request',
    });
  });

  it('maps json_schema to outputConfig, or to a forced tool when asked', async () => {
    const response_format = {
      type: 'json_schema' as const,
      json_schema: {
        name: 'city',
        schema: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] },
      },
    };
    const native = await complete(
      adapter,
      call({ messages: [{ role: 'user', content: 'a city named "Lyon"' }], response_format }),
    );
    expect(JSON.parse(native.choices[0]!.message.content as string)).toEqual({ name: 'Lyon' });

    const viaTool = call({
      messages: [{ role: 'user', content: 'a city named "Lyon"' }],
      response_format,
      provider_options: { bedrock: { structuredOutput: 'tool' } },
    });
    const forced = await complete(adapter, viaTool);
    expect(forced.choices[0]).toMatchObject({
      finish_reason: 'stop',
      message: { content: '{"name":"Lyon"}' },
    });
    expect(forced.choices[0]?.message.tool_calls).toBeUndefined();
    const streamed = assemble(await streamChunks(adapter, { ...viaTool, stream: true }));
    expect(streamed).toMatchObject({ content: '{"name":"Lyon"}', finish: 'stop', tools: [] });
  });

  it('authenticates with a Bedrock API key (Bearer) and with env credentials', async () => {
    const bearer = makeAdapter(bedrockConfig({ baseUrl: emulator.url, apiKey: 'bedrock-api-key' }));
    expect(
      (await complete(bearer, call({ messages: [{ role: 'user', content: 'say ok' }] }))).choices[0]
        ?.message.content,
    ).toBe('ok');
    const fromEnv = makeAdapter(bedrockConfig({ baseUrl: emulator.url }), {
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    });
    expect(
      (await complete(fromEnv, call({ messages: [{ role: 'user', content: 'say ok' }] })))
        .choices[0]?.message.content,
    ).toBe('ok');
    const wrong = makeAdapter(
      bedrockConfig({
        baseUrl: emulator.url,
        accessKeyId: credentials.accessKeyId,
        secretAccessKey: 'wrong',
      }),
    );
    await expect(
      complete(wrong, call({ messages: [{ role: 'user', content: 'say ok' }] })),
    ).rejects.toMatchObject({ code: 'upstream_auth', errorClass: 'auth', failover: true });
  });

  it("uses Bedrock's OpenAI-compatible endpoint for api: 'openai' deployments (SSE stream)", async () => {
    const openai = call(
      { messages: [{ role: 'user', content: 'say "from openai"' }] },
      { api: 'openai', model: 'openai.gpt-oss-20b-1:0' },
    );
    expect(adapter.streamFormatFor?.(openai)).toBe('sse');
    expect(adapter.streamFormatFor?.(call({}))).toBe('aws-eventstream');
    expect((await complete(adapter, openai)).choices[0]?.message.content).toBe('from openai');
    const streamed = assemble(await streamChunks(adapter, { ...openai, stream: true }));
    expect(streamed.content).toBe('from openai');
    expect(streamed.usage?.total_tokens).toBeGreaterThan(0);
  });

  it('classifies 503 ServiceUnavailableException while the emulator is down', async () => {
    emulator.setDown(true);
    try {
      await expect(
        complete(adapter, call({ messages: [{ role: 'user', content: 'hi' }] })),
      ).rejects.toMatchObject({
        code: 'upstream_overloaded',
        errorClass: 'overloaded',
        retryable: true,
      });
    } finally {
      emulator.setDown(false);
    }
  });
});

describe('bedrock provider error classes (scripted fake upstream)', () => {
  let upstream: FakeUpstream;
  let adapter: ProviderAdapter;
  beforeAll(async () => {
    upstream = await startFakeUpstream();
    adapter = makeAdapter(bedrockConfig({ baseUrl: upstream.url, apiKey: 'key' }));
  });
  afterAll(() => upstream.close());

  const suffix = ':http://internal.amazon.com/coral/com.amazon.bedrock/';
  const cases: Array<[string, number, string, object]> = [
    [
      'ThrottlingException',
      429,
      'Too many tokens, please wait before trying again.',
      { code: 'upstream_rate_limited', errorClass: 'rate_limited', retryable: true },
    ],
    [
      'ModelNotReadyException',
      429,
      'Model is not ready',
      { code: 'upstream_overloaded', errorClass: 'overloaded', retryable: true },
    ],
    [
      'ServiceUnavailableException',
      503,
      'Service unavailable',
      { code: 'upstream_overloaded', errorClass: 'overloaded', retryable: true },
    ],
    [
      'ValidationException',
      400,
      'Input is too long for requested model.',
      { code: 'context_length_exceeded', errorClass: 'context_overflow', retryable: false },
    ],
    [
      'ValidationException',
      400,
      'messages.0: bad',
      { code: 'invalid_request', errorClass: 'invalid_request', retryable: false, failover: false },
    ],
    [
      'AccessDeniedException',
      403,
      'You do not have access to the model',
      { code: 'upstream_auth', errorClass: 'auth', retryable: false, failover: true },
    ],
    [
      'ResourceNotFoundException',
      404,
      'Model not found',
      { code: 'upstream_not_found', errorClass: 'not_found', failover: true },
    ],
    [
      'ServiceQuotaExceededException',
      400,
      'Quota exceeded',
      { code: 'quota_exhausted', errorClass: 'quota_exhausted', retryable: false, failover: true },
    ],
    [
      'ModelTimeoutException',
      408,
      'Model timed out',
      { code: 'upstream_timeout', errorClass: 'timeout', retryable: true },
    ],
    [
      'ModelErrorException',
      424,
      'The model failed',
      { code: 'upstream_error', errorClass: 'server_error', retryable: true },
    ],
    [
      'InternalServerException',
      500,
      'Internal error',
      { code: 'upstream_error', errorClass: 'server_error', retryable: true },
    ],
  ];
  for (const [type, status, message, expected] of cases) {
    it(`${type} ${status} "${message}"`, async () => {
      upstream.script([
        { status, headers: { 'x-amzn-errortype': `${type}${suffix}` }, body: { message } },
      ]);
      await expect(
        complete(adapter, call({ messages: [{ role: 'user', content: 'hi' }] })),
      ).rejects.toMatchObject(expected);
    });
  }

  it('reads the error name from the body when the header is missing', async () => {
    upstream.script([
      {
        status: 429,
        body: { __type: 'com.amazon.bedrock#ThrottlingException', message: 'slow down' },
      },
    ]);
    await expect(
      complete(adapter, call({ messages: [{ role: 'user', content: 'hi' }] })),
    ).rejects.toMatchObject({ code: 'upstream_rate_limited' });
  });

  const frame = (event: string, payload: object) =>
    Buffer.from(encodeEventFrame(event, payload)).toString('latin1');
  const streamStep = (...frames: string[]) => ({
    headers: { 'content-type': 'application/vnd.amazon.eventstream' },
    // The fake writes strings; latin1 keeps every byte of the binary frames.
    chunks: frames.map((data) => ({ data: Buffer.from(data, 'latin1') as unknown as string })),
  });

  const exceptions: Array<[string, object]> = [
    ['throttlingException', { code: 'upstream_rate_limited', errorClass: 'rate_limited' }],
    ['modelStreamErrorException', { code: 'upstream_error', errorClass: 'server_error' }],
    ['internalServerException', { code: 'upstream_error', errorClass: 'server_error' }],
    ['serviceUnavailableException', { code: 'upstream_overloaded', errorClass: 'overloaded' }],
    ['validationException', { code: 'invalid_request', errorClass: 'invalid_request' }],
  ];
  for (const [type, expected] of exceptions) {
    it(`mid-stream ${type} after some text throws a classified error`, async () => {
      upstream.script([
        streamStep(
          frame('messageStart', { role: 'assistant' }),
          frame('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'Hel' }, p: 'abc' }),
          Buffer.from(encodeExceptionFrame(type, 'stream failed')).toString('latin1'),
        ),
      ]);
      const seen: ChatCompletionChunk[] = [];
      await expect(
        streamChunks(
          adapter,
          call({ messages: [{ role: 'user', content: 'hi' }] }, { stream: true }),
          seen,
        ),
      ).rejects.toMatchObject(expected);
      expect(assemble(seen).content).toBe('Hel');
    });
  }

  it('maps stop reasons and usage with cache tokens', async () => {
    upstream.script([
      streamStep(
        frame('messageStart', { role: 'assistant' }),
        frame('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'x' } }),
        frame('contentBlockStop', { contentBlockIndex: 0 }),
        frame('messageStop', { stopReason: 'guardrail_intervened' }),
        frame('metadata', {
          usage: {
            inputTokens: 10,
            outputTokens: 3,
            totalTokens: 113,
            cacheReadInputTokens: 100,
            cacheWriteInputTokens: 5,
          },
          metrics: { latencyMs: 9 },
        }),
      ),
    ]);
    const chunks = await streamChunks(
      adapter,
      call({ messages: [{ role: 'user', content: 'hi' }] }, { stream: true }),
    );
    expect(assemble(chunks).finish).toBe('content_filter');
    expect(chunks.at(-1)).toMatchObject({
      choices: [],
      usage: {
        prompt_tokens: 115,
        completion_tokens: 3,
        total_tokens: 118,
        prompt_tokens_details: { cached_tokens: 100 },
      },
    });

    upstream.script([
      {
        body: {
          output: { message: { role: 'assistant', content: [{ text: 'cut' }] } },
          stopReason: 'model_context_window_exceeded',
          usage: { inputTokens: 1, outputTokens: 1, totalTokens: 2 },
          metrics: { latencyMs: 1 },
        },
      },
    ]);
    expect(
      (await complete(adapter, call({ messages: [{ role: 'user', content: 'hi' }] }))).choices[0]
        ?.finish_reason,
    ).toBe('length');
  });

  it('throws upstream_bad_response on a corrupted frame', async () => {
    const bytes = Buffer.from(encodeEventFrame('messageStart', { role: 'assistant' }));
    bytes[bytes.length - 6]! ^= 0xff;
    upstream.script([streamStep(bytes.toString('latin1'))]);
    await expect(
      streamChunks(
        adapter,
        call({ messages: [{ role: 'user', content: 'hi' }] }, { stream: true }),
      ),
    ).rejects.toMatchObject({ code: 'upstream_bad_response' });
  });

  it('sends the model id URI-encoded in the path, with the Bedrock API key as Bearer', async () => {
    upstream.script([
      {
        body: {
          output: { message: { role: 'assistant', content: [{ text: 'ok' }] } },
          stopReason: 'end_turn',
          usage: { inputTokens: 1, outputTokens: 1, totalTokens: 2 },
          metrics: { latencyMs: 1 },
        },
      },
    ]);
    await complete(
      adapter,
      call(
        { messages: [{ role: 'user', content: 'hi' }] },
        {
          model:
            'arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.meta.llama3-2-1b-instruct-v1:0',
        },
      ),
    );
    const sent = upstream.requests.at(-1)!;
    expect(sent.url).toBe(
      '/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.meta.llama3-2-1b-instruct-v1%3A0/converse',
    );
    expect(sent.headers['authorization']).toBe('Bearer key');
  });
});
