import Anthropic from '@anthropic-ai/sdk';
import { createAnthropic } from '@ai-sdk/anthropic';
import { generateText, stepCountIs, streamText, tool } from 'ai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type App, createApp } from '../../src/app.js';
import { validateConfig } from '../../src/config/index.js';
import {
  type AnthropicEmulator,
  startAnthropicEmulator,
} from '../../src/sandbox/anthropic-emulator.js';
import { type Emulator, startOpenAIEmulator } from '../../src/sandbox/openai-emulator.js';
import { createLogger } from '../../src/telemetry/logger.js';

/**
 * Switchyard's /v1/messages driven by the real @anthropic-ai/sdk and the Vercel AI SDK
 * (@ai-sdk/anthropic), routed to the Anthropic emulator (same protocol) and to the OpenAI
 * emulator (translated both ways).
 */

const ANTHROPIC_KEY = 'sk-ant-emulated-0123456789';
const OPENAI_KEY = 'sk-openai-emulated-0123456789';
const CLIENT_KEY = 'local-client-key';

let anthropicCloud: AnthropicEmulator;
let openaiCloud: Emulator;
let app: App;
let url: string;
let client: Anthropic;

beforeAll(async () => {
  anthropicCloud = await startAnthropicEmulator({ apiKey: ANTHROPIC_KEY });
  openaiCloud = await startOpenAIEmulator({ flavor: 'openai', apiKey: OPENAI_KEY });
  const config = validateConfig({
    store: 'sqlite::memory:',
    logging: { level: 'silent' },
    // No same-deployment retries: an outage fails over (or fails) at once.
    routing: { retries: 0 },
    providers: {
      anthropic: { type: 'anthropic', baseUrl: anthropicCloud.url, apiKey: ANTHROPIC_KEY },
      openai: { type: 'openai', baseUrl: `${openaiCloud.url}/v1`, apiKey: OPENAI_KEY },
    },
    models: {
      'claude-sandbox': {
        capabilities: ['tools', 'reasoning', 'vision'],
        deployments: [{ provider: 'anthropic', model: 'claude-sonnet-4-5' }],
      },
      'gpt-sandbox': {
        capabilities: ['tools'],
        deployments: [{ provider: 'openai', model: 'gpt-4o-mini' }],
      },
      'claude-or-gpt': {
        capabilities: ['tools'],
        deployments: [
          { provider: 'anthropic', model: 'claude-sonnet-4-5' },
          { provider: 'openai', model: 'gpt-4o-mini' },
        ],
      },
    },
  });
  app = await createApp({ config, logger: createLogger({ level: 'silent' }) });
  url = (await app.listen(0, '127.0.0.1')).url;
  client = new Anthropic({ baseURL: url, apiKey: CLIENT_KEY, maxRetries: 0 });
});
afterAll(async () => {
  await app?.close();
  await anthropicCloud?.close();
  await openaiCloud?.close();
});

const weather: Anthropic.Tool = {
  name: 'get_weather',
  description: 'Weather in a city',
  input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

describe('@anthropic-ai/sdk against /v1/messages', () => {
  it.each(['claude-sandbox', 'gpt-sandbox'])('messages.create on %s', async (model) => {
    const { data: message, response } = await client.messages
      .create({
        model,
        max_tokens: 200,
        system: 'Be brief.',
        messages: [{ role: 'user', content: 'say "hello from switchyard"' }],
      })
      .withResponse();
    expect(message.id).toMatch(/^msg_/);
    expect(message.model).toBe(model);
    expect(message.content).toEqual([{ type: 'text', text: 'hello from switchyard' }]);
    expect(message.stop_reason).toBe('end_turn');
    expect(message.usage.input_tokens).toBeGreaterThan(0);
    expect(message.usage.output_tokens).toBeGreaterThan(0);
    const requestId = response.headers.get('request-id')!;
    expect(response.headers.get('x-request-id')).toBe(requestId);
    // One usage row, attributed to the surface and the deployment that served it.
    const row = await app.usage.get(requestId);
    expect(row).toMatchObject({
      surface: 'anthropic-messages',
      deployment: model === 'claude-sandbox' ? 'anthropic' : 'openai',
      outputTokens: message.usage.output_tokens,
    });
  });

  it.each(['claude-sandbox', 'gpt-sandbox'])('messages.stream on %s', async (model) => {
    const stream = client.messages.stream({
      model,
      max_tokens: 200,
      messages: [{ role: 'user', content: 'say "streamed to an Anthropic client"' }],
    });
    const pieces: string[] = [];
    stream.on('text', (text) => pieces.push(text));
    const message = await stream.finalMessage();
    expect(pieces.join('')).toBe('streamed to an Anthropic client');
    expect(pieces.length).toBeGreaterThan(1);
    expect(message.content).toMatchObject([
      { type: 'text', text: 'streamed to an Anthropic client' },
    ]);
    expect(message.stop_reason).toBe('end_turn');
    expect(message.usage.input_tokens).toBeGreaterThan(0);
    expect(message.usage.output_tokens).toBeGreaterThan(0);
  });

  it.each([
    ['claude-sandbox', false],
    ['gpt-sandbox', false],
    ['claude-sandbox', true],
    ['gpt-sandbox', true],
  ])('tool round trip on %s (stream: %s)', async (model, streamed) => {
    const messages: Anthropic.MessageParam[] = [
      { role: 'user', content: 'Use get_weather for "Lisbon"' },
    ];
    const request = { model, max_tokens: 300, tools: [weather], messages };
    const first = streamed
      ? await client.messages.stream(request).finalMessage()
      : await client.messages.create(request);
    expect(first.stop_reason).toBe('tool_use');
    const call = first.content.find(
      (block): block is Anthropic.ToolUseBlock => block.type === 'tool_use',
    );
    expect(call).toMatchObject({ name: 'get_weather', input: { city: 'Lisbon' } });
    messages.push(
      { role: 'assistant', content: first.content },
      {
        role: 'user',
        content: [{ type: 'tool_result', tool_use_id: call!.id, content: 'sunny, 24C' }],
      },
    );
    const second = await client.messages.create({ ...request, messages });
    expect(second.content).toEqual([
      { type: 'text', text: 'Tool get_weather returned: sunny, 24C' },
    ]);
    expect(second.stop_reason).toBe('end_turn');
  });

  it('keeps thinking signatures across a streamed tool round trip', async () => {
    const messages: Anthropic.MessageParam[] = [
      { role: 'user', content: 'think, then call get_weather for "Oslo"' },
    ];
    const request = {
      model: 'claude-sandbox',
      max_tokens: 4096,
      thinking: { type: 'enabled' as const, budget_tokens: 2048 },
      tools: [weather],
      messages,
    };
    const first = await client.messages.stream(request).finalMessage();
    const thinking = first.content.find(
      (block): block is Anthropic.ThinkingBlock => block.type === 'thinking',
    );
    expect(thinking?.thinking).toContain('Thinking about');
    expect(thinking?.signature).not.toBe('');
    const call = first.content.find(
      (block): block is Anthropic.ToolUseBlock => block.type === 'tool_use',
    )!;
    messages.push(
      { role: 'assistant', content: first.content },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: call.id, content: 'snow' }] },
    );
    // The emulator rejects a thinking block whose signature changed on the way.
    const second = await client.messages.create({ ...request, messages });
    expect(second.content.at(-1)).toEqual({
      type: 'text',
      text: 'Tool get_weather returned: snow',
    });
    const sent = anthropicCloud.received.at(-1)?.body as {
      thinking: unknown;
      messages: Array<{ content: Array<{ type: string }> }>;
    };
    expect(sent.thinking).toEqual({ type: 'enabled', budget_tokens: 2048 });
    expect(sent.messages[1]?.content[0]).toEqual({
      type: 'thinking',
      thinking: thinking!.thinking,
      signature: thinking!.signature,
    });
  });

  it('answers errors in the Anthropic shape', async () => {
    const missing = await client.messages
      .create({
        model: 'no-such-model',
        max_tokens: 10,
        messages: [{ role: 'user', content: 'x' }],
      })
      .catch((error: unknown) => error);
    expect(missing).toBeInstanceOf(Anthropic.NotFoundError);
    expect((missing as InstanceType<typeof Anthropic.NotFoundError>).error).toMatchObject({
      type: 'error',
      error: { type: 'not_found_error' },
    });

    const invalid = await client.messages
      .create({ model: 'claude-sandbox', messages: [{ role: 'user', content: 'x' }] } as never)
      .catch((error: unknown) => error);
    expect(invalid).toBeInstanceOf(Anthropic.BadRequestError);
    expect((invalid as InstanceType<typeof Anthropic.BadRequestError>).error).toMatchObject({
      type: 'error',
      error: { type: 'invalid_request_error' },
    });

    anthropicCloud.setDown(true);
    try {
      const overloaded = await client.messages
        .create({
          model: 'claude-sandbox',
          max_tokens: 10,
          messages: [{ role: 'user', content: 'x' }],
        })
        .catch((error: unknown) => error);
      expect(overloaded).toBeInstanceOf(Anthropic.APIError);
      expect((overloaded as InstanceType<typeof Anthropic.APIError>).status).toBe(529);
      expect((overloaded as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({
        type: 'error',
        error: { type: 'overloaded_error' },
      });

      // With a second deployment, the same outage is invisible to the client.
      const failedOver = await client.messages
        .create({
          model: 'claude-or-gpt',
          max_tokens: 50,
          messages: [{ role: 'user', content: 'say "from the other cloud"' }],
        })
        .withResponse();
      expect(failedOver.data.content).toEqual([{ type: 'text', text: 'from the other cloud' }]);
      expect(failedOver.response.headers.get('x-switchyard-deployment')).toBe('openai');
    } finally {
      anthropicCloud.setDown(false);
    }
  });

  it('counts tokens', async () => {
    const counted = await client.messages.countTokens({
      model: 'claude-sandbox',
      messages: [{ role: 'user', content: 'Hello there, how are you today?' }],
    });
    expect(counted.input_tokens).toBeGreaterThan(3);
  });
});

describe('Vercel AI SDK (@ai-sdk/anthropic) against /v1/messages', () => {
  const provider = () => createAnthropic({ baseURL: `${url}/v1`, apiKey: CLIENT_KEY });

  it.each(['claude-sandbox', 'gpt-sandbox'])('generateText on %s', async (model) => {
    const result = await generateText({
      model: provider()(model),
      prompt: 'say "hello from the AI SDK"',
      maxRetries: 0,
      maxOutputTokens: 200,
    });
    expect(result.text).toBe('hello from the AI SDK');
    expect(result.finishReason).toBe('stop');
    expect(result.usage.inputTokens).toBeGreaterThan(0);
    expect(result.usage.outputTokens).toBeGreaterThan(0);
  });

  it.each(['claude-sandbox', 'gpt-sandbox'])('streamText on %s', async (model) => {
    const result = streamText({
      model: provider()(model),
      prompt: 'say "streamed via messages"',
      maxRetries: 0,
      maxOutputTokens: 200,
    });
    const parts: string[] = [];
    for await (const delta of result.textStream) parts.push(delta);
    expect(parts.join('')).toBe('streamed via messages');
    expect(await result.finishReason).toBe('stop');
    expect((await result.usage).outputTokens).toBeGreaterThan(0);
  });

  it.each(['claude-sandbox', 'gpt-sandbox'])('tool loop on %s', async (model) => {
    const seen: Array<{ city: string }> = [];
    const result = await generateText({
      model: provider()(model),
      prompt: 'call get_weather for "Porto"',
      maxRetries: 0,
      maxOutputTokens: 200,
      stopWhen: stepCountIs(3),
      tools: {
        get_weather: tool({
          description: 'Weather in a city',
          inputSchema: z.object({ city: z.string() }),
          execute: async (input) => {
            seen.push(input);
            return `cloudy in ${input.city}`;
          },
        }),
      },
    });
    expect(seen).toEqual([{ city: 'Porto' }]);
    expect(result.text).toBe('Tool get_weather returned: cloudy in Porto');
  });
});
