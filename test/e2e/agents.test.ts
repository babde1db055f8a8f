import {
  Agent,
  run,
  setDefaultOpenAIClient,
  setOpenAIAPI,
  setTracingDisabled,
  tool,
} from '@openai/agents';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  cloudProviders,
  type Clouds,
  type RunningGateway,
  startClouds,
  startGateway,
} from '../helpers/gateway.js';

/** `@openai/agents` in chat-completions mode, with one function tool, through Switchyard. */

let clouds: Clouds;
let gateway: RunningGateway;
beforeAll(async () => {
  clouds = await startClouds();
  gateway = await startGateway({
    partners: { openai: {} },
    providers: { openai: cloudProviders(clouds).openai },
    models: {
      'gpt-4o-mini': {
        capabilities: ['tools'],
        deployments: [{ provider: 'openai', model: 'gpt-4o-mini' }],
      },
    },
  });
  // No traces leave the machine.
  setTracingDisabled(true);
  setDefaultOpenAIClient(
    new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'local-key', maxRetries: 0 }),
  );
  setOpenAIAPI('chat_completions');
});
afterAll(async () => {
  await gateway.close();
  await clouds.close();
});

describe('OpenAI Agents SDK', () => {
  it('runs an agent whose function tool is called, then returns the final output', async () => {
    const calls: string[] = [];
    const getWeather = tool({
      name: 'get_weather',
      description: 'Weather in a city',
      parameters: z.object({ city: z.string() }),
      execute: async ({ city }) => {
        calls.push(city);
        return `rainy in ${city}`;
      },
    });
    const agent = new Agent({
      name: 'Forecaster',
      instructions: 'Answer with the weather.',
      model: 'gpt-4o-mini',
      tools: [getWeather],
    });
    const before = clouds.openai.requests;
    const result = await run(agent, 'call get_weather for "Bergen"');
    expect(calls).toEqual(['Bergen']);
    expect(result.finalOutput).toBe('Tool get_weather returned: rainy in Bergen');
    // Two model turns: the tool call, then the answer with the tool's result.
    expect(clouds.openai.requests - before).toBe(2);
  });

  it('streams a run', async () => {
    const agent = new Agent({ name: 'Echo', instructions: 'Repeat.', model: 'gpt-4o-mini' });
    const result = await run(agent, 'say streaming agents work', { stream: true });
    let text = '';
    for await (const piece of result.toTextStream()) text += piece;
    await result.completed;
    expect(text).toBe('streaming agents work');
    expect(result.finalOutput).toBe('streaming agents work');
  });
});
