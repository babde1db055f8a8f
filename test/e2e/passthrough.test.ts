import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type FakeUpstream, startFakeUpstream } from '../fakes/upstream.js';
import { type RunningGateway, startGateway } from '../helpers/gateway.js';

/**
 * OpenAI-family upstreams get the client body with targeted edits only: what the scripted fake
 * upstream records is what the client sent, with the deployment's model name.
 */

const UPSTREAM_KEY = 'sk-fake-upstream-key-77';

let upstream: FakeUpstream;
let gateway: RunningGateway;
let client: OpenAI;
beforeAll(async () => {
  upstream = await startFakeUpstream();
  gateway = await startGateway({
    providers: { fake: { type: 'openai', baseUrl: `${upstream.url}/v1`, apiKey: UPSTREAM_KEY } },
    models: { smart: { deployments: [{ provider: 'fake', model: 'upstream-model-2025' }] } },
  });
  client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'local', maxRetries: 0 });
});
afterAll(async () => {
  await gateway.close();
  await upstream.close();
});
beforeEach(() => {
  upstream.requests.length = 0;
});

const logprobs = (token: string) => ({
  content: [
    {
      token,
      logprob: -0.25,
      bytes: [...Buffer.from(token)],
      top_logprobs: [
        { token, logprob: -0.25, bytes: [...Buffer.from(token)] },
        { token: 'x', logprob: -3.5, bytes: [120] },
      ],
    },
  ],
  refusal: null,
});

function completion(model: string) {
  return {
    id: 'chatcmpl-fake',
    object: 'chat.completion',
    created: 1_700_000_000,
    model,
    system_fingerprint: 'fp_fake',
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: 'first', refusal: null },
        logprobs: logprobs('first'),
        finish_reason: 'stop',
      },
      {
        index: 1,
        message: { role: 'assistant', content: 'second', refusal: null },
        logprobs: logprobs('second'),
        finish_reason: 'stop',
      },
    ],
    usage: { prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 },
    upstream_extra: { kept: true },
  };
}

describe('request passthrough to an OpenAI-family upstream', () => {
  it('forwards n, logprobs, top_logprobs, stop, seed and unknown fields unchanged, and returns every choice', async () => {
    upstream.script([{ body: completion('upstream-model-2025') }]);
    const body = {
      model: 'smart',
      messages: [
        { role: 'system' as const, content: 'be brief' },
        { role: 'user' as const, content: 'hi' },
      ],
      n: 2,
      logprobs: true,
      top_logprobs: 2,
      stop: ['END', '\n\n'],
      seed: 42,
      temperature: 0.3,
      x_vendor_option: { nested: [1, 'two', { three: null }] },
      metadata: { trace: 'abc' },
    };
    const result = await client.chat.completions.create(
      body as OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming,
    );

    expect(upstream.requests).toHaveLength(1);
    const received = upstream.requests[0]!;
    expect(received.method).toBe('POST');
    expect(received.url).toBe('/v1/chat/completions');
    expect(received.headers['authorization']).toBe(`Bearer ${UPSTREAM_KEY}`);
    expect(JSON.parse(received.body)).toEqual({ ...body, model: 'upstream-model-2025' });

    expect(result.choices.map((choice) => choice.message.content)).toEqual(['first', 'second']);
    expect(result.choices[1]?.logprobs?.content?.[0]?.top_logprobs).toHaveLength(2);
    // The upstream's answer is forwarded as it came, unknown fields included.
    expect((result as unknown as Record<string, unknown>)['upstream_extra']).toEqual({
      kept: true,
    });
  });

  it('applies provider_options for this provider type and strips gateway-only fields', async () => {
    upstream.script([{ body: completion('upstream-model-2025') }]);
    await client.chat.completions.create({
      model: 'smart',
      messages: [{ role: 'user', content: 'hi' }],
      provider_options: { openai: { service_tier: 'flex' }, anthropic: { top_k: 3 } },
    } as OpenAI.Chat.Completions.ChatCompletionCreateParamsNonStreaming);
    const received = JSON.parse(upstream.requests[0]!.body);
    expect(received).toEqual({
      model: 'upstream-model-2025',
      messages: [{ role: 'user', content: 'hi' }],
      service_tier: 'flex',
    });
  });

  it('asks a streaming upstream for usage, keeps the client fields, and forwards streamed logprobs', async () => {
    const chunk = (choices: unknown[], usage: unknown = null) =>
      `data: ${JSON.stringify({ id: 'chatcmpl-s', object: 'chat.completion.chunk', created: 1, model: 'upstream-model-2025', choices, usage })}\n\n`;
    upstream.script([
      {
        chunks: [
          chunk([
            {
              index: 0,
              delta: { role: 'assistant', content: '' },
              logprobs: null,
              finish_reason: null,
            },
          ]),
          chunk([
            { index: 0, delta: { content: 'Hel' }, logprobs: logprobs('Hel'), finish_reason: null },
          ]),
          chunk([
            { index: 0, delta: { content: 'lo' }, logprobs: logprobs('lo'), finish_reason: null },
          ]),
          chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }]),
          chunk([], { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 }),
          'data: [DONE]\n\n',
        ],
      },
    ]);
    const stream = await client.chat.completions.create({
      model: 'smart',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
      logprobs: true,
      top_logprobs: 2,
      seed: 7,
      stream_options: { include_obfuscation: false },
    } as OpenAI.Chat.Completions.ChatCompletionCreateParamsStreaming);
    const received: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const item of stream) received.push(item);

    const sent = JSON.parse(upstream.requests[0]!.body);
    expect(sent).toEqual({
      model: 'upstream-model-2025',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
      logprobs: true,
      top_logprobs: 2,
      seed: 7,
      stream_options: { include_obfuscation: false, include_usage: true },
    });
    expect(received.map((item) => item.choices[0]?.delta.content ?? '').join('')).toBe('Hello');
    expect(
      received
        .flatMap((item) => item.choices[0]?.logprobs?.content ?? [])
        .map((entry) => entry.token),
    ).toEqual(['Hel', 'lo']);
    // The client did not ask for usage: the usage chunk the gateway asked for is not forwarded.
    expect(received.every((item) => item.choices.length === 1)).toBe(true);
  });
});
