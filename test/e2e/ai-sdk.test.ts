import { createOpenAI } from '@ai-sdk/openai';
import { generateText, stepCountIs, streamText, tool } from 'ai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  cloudProviders,
  type Clouds,
  type RunningGateway,
  startClouds,
  startGateway,
} from '../helpers/gateway.js';

/** The Vercel AI SDK (`ai` v6 + `@ai-sdk/openai` v3) chat model pointed at Switchyard. */

let clouds: Clouds;
let gateway: RunningGateway;
let model: ReturnType<ReturnType<typeof createOpenAI>['chat']>;
beforeAll(async () => {
  clouds = await startClouds();
  gateway = await startGateway({
    partners: { azure: { primary: true } },
    providers: { azure: cloudProviders(clouds)['azure-classic'] },
    models: {
      'gpt-4o-mini': {
        capabilities: ['tools'],
        deployments: [{ provider: 'azure', model: 'gpt-4o-mini' }],
      },
    },
  });
  model = createOpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'local-key' }).chat('gpt-4o-mini');
});
afterAll(async () => {
  await gateway.close();
  await clouds.close();
});

describe('Vercel AI SDK', () => {
  it('generateText', async () => {
    const result = await generateText({
      model,
      prompt: 'say hello from the AI SDK',
      maxRetries: 0,
    });
    expect(result.text).toBe('hello from the AI SDK');
    expect(result.finishReason).toBe('stop');
    expect(result.usage.inputTokens).toBeGreaterThan(0);
    expect(result.usage.outputTokens).toBeGreaterThan(0);
    expect(result.response.headers?.['x-switchyard-deployment']).toBe('azure');
  });

  it('streamText', async () => {
    const result = streamText({ model, prompt: 'say streamed through the gateway', maxRetries: 0 });
    const parts: string[] = [];
    for await (const delta of result.textStream) parts.push(delta);
    expect(parts.join('')).toBe('streamed through the gateway');
    expect(parts.length).toBeGreaterThan(1);
    expect(await result.finishReason).toBe('stop');
    // The SDK asks for stream usage; the gateway forwards the usage chunk.
    expect((await result.usage).outputTokens).toBeGreaterThan(0);
  });

  it('calls a tool and answers with its result', async () => {
    const seen: Array<{ city: string }> = [];
    const result = await generateText({
      model,
      prompt: 'call get_weather for "Lisbon"',
      maxRetries: 0,
      tools: {
        get_weather: tool({
          description: 'Weather in a city',
          inputSchema: z.object({ city: z.string() }),
          execute: async (input) => {
            seen.push(input);
            return `sunny in ${input.city}`;
          },
        }),
      },
      stopWhen: stepCountIs(3),
    });
    expect(seen).toEqual([{ city: 'Lisbon' }]);
    expect(result.steps).toHaveLength(2);
    expect(result.steps[0]?.toolCalls.map((toolCall) => toolCall.toolName)).toEqual([
      'get_weather',
    ]);
    expect(result.text).toBe('Tool get_weather returned: sunny in Lisbon');
  });

  it('streams a tool call', async () => {
    const result = streamText({
      model,
      prompt: 'use a tool for "Oslo"',
      maxRetries: 0,
      tools: {
        get_weather: tool({
          description: 'Weather in a city',
          inputSchema: z.object({ city: z.string() }),
        }),
      },
    });
    const calls = await result.toolCalls;
    expect(calls.map((toolCall) => [toolCall.toolName, toolCall.input])).toEqual([
      ['get_weather', { city: 'Oslo' }],
    ]);
    expect(await result.finishReason).toBe('tool-calls');
  });
});
