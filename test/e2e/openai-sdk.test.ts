import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ConfigInput } from '../../src/config/index.js';
import {
  AZURE_KEY,
  call,
  cloudProviders,
  type Clouds,
  type RunningGateway,
  startClouds,
  startGateway,
} from '../helpers/gateway.js';
import { streamRequest } from '../helpers/sse.js';

/**
 * The real `openai` SDK (v6) against Switchyard, routed through each OpenAI-family provider
 * type to the emulated clouds: OpenAI, Azure classic (api-version), Azure v1, OpenAI-compatible.
 */

let clouds: Clouds;
beforeAll(async () => {
  clouds = await startClouds();
});
afterAll(async () => {
  await clouds.close();
});

const KINDS = ['openai', 'azure-classic', 'azure-v1', 'compatible'] as const;

function configFor(kind: (typeof KINDS)[number]): ConfigInput {
  return {
    partners: { openai: {}, azure: { primary: true } },
    providers: { [kind]: cloudProviders(clouds)[kind] },
    models: {
      'gpt-4o-mini': {
        contextWindow: 128000,
        capabilities: ['tools', 'json_schema'],
        deployments: [{ provider: kind, model: 'gpt-4o-mini' }],
      },
      'text-embedding-3-small': {
        kind: 'embedding',
        deployments: [{ provider: kind, model: 'text-embedding-3-small' }],
      },
    },
  };
}

const weatherTools: OpenAI.Chat.Completions.ChatCompletionTool[] = [
  {
    type: 'function',
    function: {
      name: 'get_weather',
      description: 'Weather in a city',
      parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
    },
  },
  {
    type: 'function',
    function: {
      name: 'get_time',
      description: 'Local time in a city',
      parameters: {
        type: 'object',
        properties: { city: { type: 'string' }, utc: { type: 'boolean' } },
        required: ['city', 'utc'],
      },
    },
  },
];

describe.each(KINDS)('openai SDK through a %s provider', (kind) => {
  let gateway: RunningGateway;
  let client: OpenAI;
  beforeAll(async () => {
    gateway = await startGateway(configFor(kind));
    client = new OpenAI({
      baseURL: `${gateway.url}/v1`,
      apiKey: 'unused-on-loopback',
      maxRetries: 0,
    });
  });
  afterAll(async () => {
    await gateway.close();
  });

  it('answers a non-streaming chat with usage and routing headers', async () => {
    const { data, response } = await client.chat.completions
      .create({
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'say hello from the gateway' }],
      })
      .withResponse();
    expect(data.object).toBe('chat.completion');
    expect(data.choices[0]?.message.content).toBe('hello from the gateway');
    expect(data.choices[0]?.finish_reason).toBe('stop');
    expect(data.usage?.completion_tokens).toBeGreaterThan(0);
    expect(data.usage?.total_tokens).toBe(
      (data.usage?.prompt_tokens ?? 0) + (data.usage?.completion_tokens ?? 0),
    );
    expect(response.headers.get('x-switchyard-deployment')).toBe(kind);
    expect(response.headers.get('x-switchyard-attempts')).toBe('1');
    expect(response.headers.get('x-request-id')).toMatch(/^req_/);
  });

  it('streams with stream_options.include_usage: a final usage chunk with choices [] then [DONE]', async () => {
    const stream = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'say one two three four' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    const text = chunks.map((chunk) => chunk.choices[0]?.delta.content ?? '').join('');
    expect(text).toBe('one two three four');
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage?.completion_tokens).toBeGreaterThan(0);
    expect(
      chunks.slice(0, -1).every((chunk) => chunk.choices.length === 1 && chunk.usage == null),
    ).toBe(true);

    // The wire framing itself: the usage chunk is the last event before [DONE], and [DONE] ends it.
    const raw = await streamRequest(`${gateway.url}/v1/chat/completions`, {
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'say one two three four' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(raw.status).toBe(200);
    expect(raw.headers['content-type']).toMatch(/^text\/event-stream/);
    expect(raw.done).toBe(true);
    expect(raw.error).toBeUndefined();
    expect(raw.events.filter((event) => event.data === '[DONE]')).toHaveLength(1);
    expect(raw.chunks.at(-1)).toMatchObject({ choices: [], usage: last.usage });
  });

  it('strips the usage chunk when the client did not ask for it', async () => {
    const raw = await streamRequest(`${gateway.url}/v1/chat/completions`, {
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'say one two three four' }],
      stream: true,
    });
    expect(raw.done).toBe(true);
    expect(raw.chunks.length).toBeGreaterThan(2);
    expect(raw.chunks.every((chunk) => chunk.choices.length === 1)).toBe(true);
    expect(raw.chunks.every((chunk) => chunk.usage == null)).toBe(true);
    expect(raw.chunks.map((chunk) => chunk.choices[0].delta.content ?? '').join('')).toBe(
      'one two three four',
    );
  });

  it('never forwards a chunk without choices (Azure filter-only first chunk)', async () => {
    const raw = await streamRequest(`${gateway.url}/v1/chat/completions`, {
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'say azure first chunk' }],
      stream: true,
    });
    expect(raw.done).toBe(true);
    expect(raw.chunks[0]).toMatchObject({
      object: 'chat.completion.chunk',
      choices: [{ index: 0, delta: { role: 'assistant' } }],
    });
    for (const chunk of raw.chunks) {
      expect(chunk.id).not.toBe('');
      expect(chunk.choices.length).toBe(1);
      expect(chunk).not.toHaveProperty('prompt_filter_results');
    }
    if (kind.startsWith('azure')) {
      // The cloud itself does send it: the gateway is what keeps it from the client.
      const direct = await streamRequest(
        `${clouds.azure.url}/openai/deployments/gpt-4o-mini/chat/completions?api-version=2024-10-21`,
        { messages: [{ role: 'user', content: 'say azure first chunk' }], stream: true },
        { 'api-key': AZURE_KEY },
      );
      expect(direct.chunks[0]).toMatchObject({
        id: '',
        choices: [],
        prompt_filter_results: expect.any(Array),
      });
    }
  });

  it('streams parallel tool calls that the SDK accumulates by index', async () => {
    const messages: OpenAI.Chat.Completions.ChatCompletionMessageParam[] = [
      { role: 'user', content: 'call get_weather and get_time for "Paris"' },
    ];
    const stream = client.chat.completions.stream({
      model: 'gpt-4o-mini',
      messages,
      tools: weatherTools,
    });
    let fragments = 0;
    stream.on(
      'chunk',
      (chunk) => void (fragments += chunk.choices[0]?.delta.tool_calls?.length ?? 0),
    );
    const final = await stream.finalChatCompletion();
    const choice = final.choices[0]!;
    expect(choice.finish_reason).toBe('tool_calls');
    const calls = (choice.message.tool_calls ?? []).map((toolCall) =>
      toolCall.type === 'function' ? toolCall : undefined,
    );
    expect(calls.map((toolCall) => toolCall?.function.name)).toEqual(['get_weather', 'get_time']);
    expect(JSON.parse(calls[0]!.function.arguments)).toEqual({ city: 'Paris' });
    expect(JSON.parse(calls[1]!.function.arguments)).toEqual({ city: 'Paris', utc: true });
    expect(calls.every((toolCall) => toolCall?.id.startsWith('call_'))).toBe(true);
    // Arguments really came in fragments, not in one piece per call.
    expect(fragments).toBeGreaterThan(4);

    // Same calls as the non-streaming answer.
    const whole = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages,
      tools: weatherTools,
    });
    expect(whole.choices[0]?.message.tool_calls).toEqual(choice.message.tool_calls);
  });

  it('passes response_format json_schema through and returns conforming JSON', async () => {
    const completion = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'Extract the person: "Ada" is 36' }],
      response_format: {
        type: 'json_schema',
        json_schema: {
          name: 'person',
          strict: true,
          schema: {
            type: 'object',
            properties: { name: { type: 'string' }, age: { type: 'integer' } },
            required: ['name', 'age'],
            additionalProperties: false,
          },
        },
      },
    });
    const parsed = JSON.parse(completion.choices[0]?.message.content ?? '');
    expect(parsed).toEqual({ name: 'Ada', age: expect.any(Number) });
  });

  it('honours stop sequences (the upstream cuts the answer)', async () => {
    const completion = await client.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: [{ role: 'user', content: 'say alpha beta gamma delta' }],
      stop: [' gamma'],
    });
    expect(completion.choices[0]?.message.content).toBe('alpha beta');
  });

  it('lists the configured logical models', async () => {
    const models = [];
    for await (const model of client.models.list()) models.push(model);
    expect(models.map((model) => model.id).sort()).toEqual([
      'gpt-4o-mini',
      'text-embedding-3-small',
    ]);
    expect(models.every((model) => model.object === 'model')).toBe(true);
    const one = await client.models.retrieve('gpt-4o-mini');
    expect(one.id).toBe('gpt-4o-mini');
  });

  it('embeds through POST /v1/embeddings', async () => {
    const { data, response } = await client.embeddings
      .create({
        model: 'text-embedding-3-small',
        input: ['hello', 'world'],
        encoding_format: 'float',
      })
      .withResponse();
    expect(data.data).toHaveLength(2);
    expect(data.data[0]?.embedding.length).toBeGreaterThan(0);
    expect(data.data[0]?.embedding).not.toEqual(data.data[1]?.embedding);
    expect(data.usage.prompt_tokens).toBe(2);
    expect(response.headers.get('x-switchyard-deployment')).toBe(kind);
  });
});

describe('health endpoints', () => {
  it('serves /healthz and /readyz', async () => {
    const gateway = await startGateway(configFor('openai'));
    try {
      const health = await call(`${gateway.url}/healthz`);
      expect(health.status).toBe(200);
      expect(health.body).toEqual({ status: 'ok' });
      const ready = await call(`${gateway.url}/readyz`);
      expect(ready.status).toBe(200);
      expect(ready.body).toMatchObject({ status: 'ready', checks: { store: 'ok' } });
    } finally {
      await gateway.close();
    }
  });
});

describe('Azure content filter', () => {
  it('maps a content-filter 400 to an OpenAI error with code content_filter and does not fail over', async () => {
    const providers = cloudProviders(clouds);
    const gateway = await startGateway({
      partners: { openai: {}, azure: { primary: true } },
      providers: { 'azure-classic': providers['azure-classic'], openai: providers.openai },
      models: {
        'gpt-4o-mini': {
          deployments: [
            { provider: 'azure-classic', model: 'gpt-4o-mini' },
            { provider: 'openai', model: 'gpt-4o-mini' },
          ],
        },
      },
    });
    const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    try {
      const before = { azure: clouds.azure.requests, openai: clouds.openai.requests };
      const error = await client.chat.completions
        .create({
          model: 'gpt-4o-mini',
          messages: [{ role: 'user', content: 'please say forbidden-content now' }],
        })
        .then(
          () => undefined,
          (thrown: unknown) => thrown,
        );
      expect(error).toBeInstanceOf(OpenAI.BadRequestError);
      const apiError = error as InstanceType<typeof OpenAI.BadRequestError>;
      expect(apiError.status).toBe(400);
      expect(apiError.code).toBe('content_filter');
      expect(apiError.type).toBe('invalid_request_error');
      expect(apiError.message).toMatch(/content management policy/);
      expect(apiError.headers.get('x-should-retry')).toBe('false');
      expect(clouds.azure.requests - before.azure).toBe(1);
      expect(clouds.openai.requests - before.openai).toBe(0);

      // The same in a stream: the error comes before any byte, as a plain HTTP error.
      const raw = await streamRequest(`${gateway.url}/v1/chat/completions`, {
        model: 'gpt-4o-mini',
        messages: [{ role: 'user', content: 'say forbidden-content' }],
        stream: true,
      });
      expect(raw.status).toBe(400);
      expect(raw.chunks[0]).toEqual({
        error: {
          message: expect.any(String),
          type: 'invalid_request_error',
          param: 'prompt',
          code: 'content_filter',
        },
      });
      expect(clouds.openai.requests - before.openai).toBe(0);
    } finally {
      await gateway.close();
    }
  });
});
