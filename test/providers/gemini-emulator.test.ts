import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProviderConfig } from '../../src/config/index.js';
import type {
  ChatCompletion,
  ChatCompletionChunk,
  ChatMessage,
  ChatRequest,
  ChatToolCall,
} from '../../src/core/chat.js';
import type { GatewayError } from '../../src/errors/index.js';
import type { GatewayCall, ProviderAdapter } from '../../src/providers/adapter.js';
import { geminiAdapter } from '../../src/providers/gemini/index.js';
import { decodeToolCallId } from '../../src/providers/gemini/signatures.js';
import { type GeminiEmulator, startGeminiEmulator } from '../../src/sandbox/gemini-emulator.js';
import { createTransport } from '../../src/transport/http.js';
import { decodeSse } from '../../src/transport/sse.js';

const MODEL = 'gemini-3-flash-preview';
const transport = createTransport();
let gemini: GeminiEmulator;
let vertex: GeminiEmulator;

beforeAll(async () => {
  gemini = await startGeminiEmulator({ apiKey: 'AIza-emulated' });
  vertex = await startGeminiEmulator({ flavor: 'vertex', apiKey: 'ya29.emulated' });
});
afterAll(async () => {
  await Promise.all([gemini.close(), vertex.close(), transport.close()]);
});

const geminiConfig = (): ProviderConfig => ({
  type: 'gemini',
  apiKey: 'AIza-emulated',
  baseUrl: gemini.url,
  sandbox: true,
});
const adapterFor = (config: ProviderConfig = geminiConfig()) =>
  geminiAdapter('gem', config, { env: {}, now: Date.now });

const weatherTools: ChatRequest['tools'] = [
  {
    type: 'function',
    function: {
      name: 'get_weather',
      parameters: {
        type: 'object',
        additionalProperties: false,
        properties: { city: { type: 'string' } },
        required: ['city'],
      },
    },
  },
  {
    type: 'function',
    function: {
      name: 'get_time',
      parameters: { type: 'object', properties: { zone: { type: 'string' } } },
    },
  },
];

/** One attempt as the router makes it: build, send, then classify, parse, or map the stream and fold it like openai-node. */
async function complete(
  body: Partial<ChatRequest>,
  options: { stream?: boolean; adapter?: ProviderAdapter; model?: string } = {},
): Promise<ChatCompletion> {
  const adapter = options.adapter ?? adapterFor();
  const call: GatewayCall = {
    requestId: 'req_emu',
    operation: 'chat',
    body: { model: 'logical', messages: [], ...body },
    stream: options.stream ?? false,
    deployment: { provider: 'gem', model: options.model ?? MODEL },
    signal: AbortSignal.timeout(10_000),
  };
  const response = await transport.send(await adapter.buildRequest(call), call.signal);
  if (response.status >= 400)
    throw adapter.classifyError(
      { status: response.status, headers: response.headers, body: await response.text() },
      call,
    );
  if (!call.stream) return adapter.parseResponse(JSON.parse(await response.text()), call);
  const chunks: ChatCompletionChunk[] = [];
  for await (const item of adapter.mapStream(decodeSse(response.body), call))
    chunks.push(item.chunk());
  return fold(chunks);
}

/** Accumulates chunks the way openai-node's ChatCompletionStream does (tool calls by index). */
function fold(chunks: ChatCompletionChunk[]): ChatCompletion {
  const message: ChatMessage & { role: 'assistant' } = { role: 'assistant', content: '' };
  const calls: ChatToolCall[] = [];
  let finish: ChatCompletion['choices'][number]['finish_reason'] = null;
  for (const chunk of chunks) {
    const choice = chunk.choices[0];
    if (!choice) continue;
    const { delta } = choice;
    if (delta.content) message.content = String(message.content) + delta.content;
    if (delta.reasoning_content)
      message.reasoning_content = (message.reasoning_content ?? '') + delta.reasoning_content;
    if (delta.reasoning_signature) message.reasoning_signature = delta.reasoning_signature;
    for (const fragment of delta.tool_calls ?? []) {
      const call = (calls[fragment.index] ??= {
        id: '',
        type: 'function',
        function: { name: '', arguments: '' },
      });
      if (fragment.id) call.id = fragment.id;
      if (fragment.function?.name) call.function.name = fragment.function.name;
      call.function.arguments += fragment.function?.arguments ?? '';
    }
    finish = choice.finish_reason ?? finish;
  }
  if (calls.length > 0) message.tool_calls = calls;
  const usage = chunks.at(-1)?.usage ?? undefined;
  return {
    id: chunks[0]!.id,
    object: 'chat.completion',
    created: chunks[0]!.created,
    model: chunks[0]!.model,
    choices: [{ index: 0, message, finish_reason: finish }],
    ...(usage ? { usage } : {}),
  };
}

/** What an OpenAI client sends back: only id, type and function of each tool call. */
const echo = (call: ChatToolCall): ChatToolCall => ({
  id: call.id,
  type: call.type,
  function: { ...call.function },
});
const lastBody = (emulator: GeminiEmulator) =>
  emulator.received.at(-1)!.body as {
    contents: Array<{ role: string; parts: Array<Record<string, unknown>> }>;
  };
const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: unknown) => e as GatewayError,
  );

describe('gemini adapter against the emulator', () => {
  it.each([false, true])('answers text with usage (stream=%s)', async (stream) => {
    const completion = await complete(
      {
        messages: [
          { role: 'system', content: 'Be nice.' },
          { role: 'user', content: 'Say "hello there"' },
        ],
      },
      { stream },
    );
    expect(completion.choices[0]!.message.content).toBe('hello there');
    expect(completion.choices[0]!.finish_reason).toBe('stop');
    expect(completion.usage).toMatchObject({
      completion_tokens: 2,
      completion_tokens_details: { reasoning_tokens: 0 },
    });
    expect(completion.usage!.prompt_tokens).toBeGreaterThan(0);
    expect(gemini.received.at(-1)!.url).toBe(
      `/v1beta/models/${MODEL}:${stream ? 'streamGenerateContent?alt=sse' : 'generateContent'}`,
    );
  });

  it.each([false, true])(
    'carries thought signatures across two turns through an id-only client (stream=%s)',
    async (stream) => {
      const question: ChatMessage = {
        role: 'user',
        content: 'Use get_weather and get_time for "Paris"',
      };
      const first = await complete({ messages: [question], tools: weatherTools }, { stream });
      const message = first.choices[0]!.message;
      expect(first.choices[0]!.finish_reason).toBe('tool_calls');
      expect(message.tool_calls!.map((c) => c.function.name)).toEqual(['get_weather', 'get_time']);
      const issued = decodeToolCallId(message.tool_calls![0]!.id).signature;
      expect(issued).toMatch(/^[A-Za-z0-9+/]+=*$/);
      expect(decodeToolCallId(message.tool_calls![1]!.id)).toEqual({});

      const calls = message.tool_calls!.map(echo);
      const second = await complete(
        {
          tools: weatherTools,
          messages: [
            question,
            { role: 'assistant', content: null, tool_calls: calls },
            { role: 'tool', tool_call_id: calls[0]!.id, content: '{"temp":18}' },
            { role: 'tool', tool_call_id: calls[1]!.id, content: 'noon' },
          ],
        },
        { stream },
      );
      expect(second.choices[0]!.message.content).toBe(
        'Tool get_weather returned: {"temp":18}\nTool get_time returned: {"result":"noon"}',
      );
      const history = lastBody(gemini).contents;
      expect(history.map((c) => c.role)).toEqual(['user', 'model', 'user']);
      expect(history[1]!.parts[0]!['thoughtSignature']).toBe(issued);
      expect(history[1]!.parts[1]!['thoughtSignature']).toBeUndefined();
    },
  );

  it('gets 400 from the emulator when a signature is missing or does not match', async () => {
    const raw = await fetch(`${gemini.url}/v1beta/models/${MODEL}:generateContent`, {
      method: 'POST',
      headers: { 'x-goog-api-key': 'AIza-emulated', 'content-type': 'application/json' },
      body: JSON.stringify({
        contents: [
          { role: 'user', parts: [{ text: 'Use get_weather' }] },
          {
            role: 'model',
            parts: [{ functionCall: { name: 'get_weather', args: { city: 'x' } } }],
          },
          {
            role: 'user',
            parts: [{ functionResponse: { name: 'get_weather', response: { t: 1 } } }],
          },
        ],
      }),
    });
    expect(raw.status).toBe(400);
    expect(
      ((await raw.json()) as { error: { message: string; status: string } }).error,
    ).toMatchObject({
      status: 'INVALID_ARGUMENT',
      message: expect.stringMatching(/missing a thought_signature/),
    });

    const first = await complete({
      messages: [{ role: 'user', content: 'Use get_weather for "Paris"' }],
      tools: weatherTools,
    });
    const call = echo(first.choices[0]!.message.tool_calls![0]!);
    const tampered = { ...call, function: { ...call.function, arguments: '{"city":"Rome"}' } };
    const error = await failure(
      complete({
        tools: weatherTools,
        messages: [
          { role: 'user', content: 'Use get_weather for "Paris"' },
          { role: 'assistant', content: null, tool_calls: [tampered] },
          { role: 'tool', tool_call_id: call.id, content: '1' },
        ],
      }),
    );
    expect([error.code, error.errorClass, error.message]).toEqual([
      'invalid_request',
      'invalid_request',
      expect.stringMatching(/Corrupted thought signature/),
    ]);
  });

  it('accepts calls minted by another provider thanks to the sentinel', async () => {
    const completion = await complete({
      tools: weatherTools,
      messages: [
        { role: 'user', content: 'Use get_weather for "Paris"' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: 'toolu_01XYZ',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
            },
          ],
        },
        { role: 'tool', tool_call_id: 'toolu_01XYZ', content: 'sunny' },
      ],
    });
    expect(completion.choices[0]!.message.content).toBe(
      'Tool get_weather returned: {"result":"sunny"}',
    );
  });

  it('keeps a follow-up user message after tool results in order (one merged user turn)', async () => {
    const completion = await complete({
      tools: weatherTools,
      messages: [
        { role: 'user', content: 'Use get_time' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            { id: 'call_a', type: 'function', function: { name: 'get_time', arguments: '{}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'call_a', content: 'noon' },
        { role: 'user', content: 'Say "thanks"' },
      ],
    });
    expect(completion.choices[0]!.message.content).toBe('thanks');
    expect(lastBody(gemini).contents[2]!.parts).toEqual([
      { functionResponse: { name: 'get_time', response: { result: 'noon' } } },
      { text: 'Say "thanks"' },
    ]);
  });

  it.each([false, true])(
    'returns thoughts, reasoning tokens and a text signature that comes back next turn (stream=%s)',
    async (stream) => {
      const question: ChatMessage = { role: 'user', content: 'Think it over. Say "ok"' };
      const first = await complete({ messages: [question], reasoning_effort: 'low' }, { stream });
      const message = first.choices[0]!.message;
      expect(message.content).toBe('ok');
      expect(message.reasoning_content).toMatch(/^Thinking about/);
      expect(message.reasoning_signature).toMatch(/^gemini:/);
      expect(first.usage!.completion_tokens_details!.reasoning_tokens).toBeGreaterThan(0);
      expect(first.usage!.completion_tokens).toBe(
        first.usage!.completion_tokens_details!.reasoning_tokens! + 1,
      );
      await complete(
        {
          messages: [
            question,
            { role: 'assistant', content: 'ok', reasoning_signature: message.reasoning_signature! },
            { role: 'user', content: 'again' },
          ],
        },
        { stream },
      );
      expect(lastBody(gemini).contents[1]!.parts[0]).toEqual({
        text: 'ok',
        thoughtSignature: message.reasoning_signature!.slice('gemini:'.length),
      });
    },
  );

  it('serves structured output from a strict OpenAI schema (cleaned for Gemini)', async () => {
    const completion = await complete({
      messages: [{ role: 'user', content: 'Give me a "Lyon" city' }],
      response_format: {
        type: 'json_schema',
        json_schema: {
          name: 'c',
          strict: true,
          schema: {
            type: 'object',
            additionalProperties: false,
            properties: { city: { type: 'string' }, size: { type: ['integer', 'null'] } },
            required: ['city', 'size'],
          },
        },
      },
    });
    expect(JSON.parse(String(completion.choices[0]!.message.content))).toEqual({
      city: 'Lyon',
      size: 1,
    });
  });

  it("classifies the emulator's 503, 429 RetryInfo, per-day quota, context overflow and bad key", async () => {
    gemini.setDown(true);
    expect((await failure(complete({ messages: [{ role: 'user', content: 'Hi' }] }))).code).toBe(
      'upstream_overloaded',
    );
    gemini.setDown(false);
    gemini.setRateLimited({ retryDelay: '7s' });
    const limited = await failure(complete({ messages: [{ role: 'user', content: 'Hi' }] }));
    expect([limited.code, limited.retryAfterMs, limited.retryable]).toEqual([
      'upstream_rate_limited',
      7000,
      true,
    ]);
    gemini.setRateLimited({ retryDelay: '30s', perDay: true });
    const daily = await failure(complete({ messages: [{ role: 'user', content: 'Hi' }] }));
    expect([daily.code, daily.retryAfterMs, daily.retryable, daily.failover]).toEqual([
      'quota_exhausted',
      undefined,
      false,
      true,
    ]);
    gemini.setRateLimited(null);
    const small = await startGeminiEmulator({ contextWindow: 5 });
    try {
      const overflow = await failure(
        complete(
          { messages: [{ role: 'user', content: 'a long enough prompt to overflow' }] },
          { adapter: adapterFor({ type: 'gemini', baseUrl: small.url, sandbox: true }) },
        ),
      );
      expect([overflow.code, overflow.errorClass]).toEqual([
        'context_length_exceeded',
        'context_overflow',
      ]);
    } finally {
      await small.close();
    }
    const badKey = await failure(
      complete(
        { messages: [{ role: 'user', content: 'Hi' }] },
        {
          adapter: adapterFor({
            type: 'gemini',
            apiKey: 'wrong',
            baseUrl: gemini.url,
            sandbox: true,
          }),
        },
      ),
    );
    expect([badKey.code, badKey.errorClass, badKey.failover]).toEqual([
      'upstream_auth',
      'auth',
      true,
    ]);
  });

  it('talks to the Vertex flavour with a bearer token', async () => {
    const config: ProviderConfig = {
      type: 'vertex',
      project: 'proj',
      location: 'europe-west4',
      accessToken: 'ya29.emulated',
      baseUrl: vertex.url,
      sandbox: true,
    };
    const completion = await complete(
      { messages: [{ role: 'user', content: 'Say "from vertex"' }] },
      { adapter: adapterFor(config), stream: true },
    );
    expect(completion.choices[0]!.message.content).toBe('from vertex');
    const request = vertex.received.at(-1)!;
    expect([request.url, request.headers.authorization]).toEqual([
      `/v1/projects/proj/locations/europe-west4/publishers/google/models/${MODEL}:streamGenerateContent?alt=sse`,
      'Bearer ya29.emulated',
    ]);
    const denied = await failure(
      complete(
        { messages: [{ role: 'user', content: 'Hi' }] },
        { adapter: adapterFor({ ...config, accessToken: 'expired' }) },
      ),
    );
    expect([denied.code, denied.status, denied.errorClass]).toEqual(['upstream_auth', 502, 'auth']);
  });

  it('streams a JSON array without alt=sse, as Google does', async () => {
    const response = await fetch(
      `${gemini.url}/v1beta/models/${MODEL}:streamGenerateContent?key=AIza-emulated`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'Say "a b c"' }] }] }),
      },
    );
    const events = (await response.json()) as Array<{
      candidates: Array<{ content: { parts: Array<{ text: string }> }; finishReason?: string }>;
    }>;
    expect(events.map((e) => e.candidates[0]!.content.parts[0]!.text).join('')).toBe('a b c');
    expect(events.at(-1)!.candidates[0]!.finishReason).toBe('STOP');
  });
});
