import { createOpenAI } from '@ai-sdk/openai';
import {
  Agent,
  OpenAIProvider,
  Runner,
  setTracingDisabled,
  tool as agentTool,
} from '@openai/agents';
import { generateText, stepCountIs, streamText, tool } from 'ai';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { CLOUD_MODELS, type FiveClouds, lastSent, startFiveClouds } from './clouds.js';
import { type RunningApp, startApp, TENANT_A_KEY } from './helpers.js';

/**
 * The Vercel AI SDK (`@ai-sdk/openai`, whose default model speaks Responses) and the OpenAI
 * Agents SDK (default Responses mode) against Switchyard, with Anthropic, Bedrock, Gemini,
 * Azure and OpenAI behind it: each turn of a chain on another protocol family.
 */

// No trace may leave the machine: the Agents SDK would export traces to api.openai.com.
setTracingDisabled(true);

let five: FiveClouds;
let app: RunningApp;

beforeAll(async () => {
  five = await startFiveClouds();
  app = await startApp(five.config);
});
afterAll(async () => {
  await app.close();
  await five.close();
});

describe('ai + @ai-sdk/openai (Responses)', () => {
  it('chains turns across clouds with previousResponseId, streaming and not', async () => {
    const openai = createOpenAI({ baseURL: `${app.url}/v1`, apiKey: TENANT_A_KEY });
    const first = await generateText({
      model: openai(CLOUD_MODELS.anthropic),
      prompt: 'My name is Ada. say noted',
    });
    expect(first.text).toBe('noted');
    const firstId = first.providerMetadata?.['openai']?.['responseId'];
    expect(String(firstId)).toMatch(/^resp_/);

    const second = await generateText({
      model: openai(CLOUD_MODELS.bedrock),
      prompt: 'say second turn',
      providerOptions: { openai: { previousResponseId: String(firstId) } },
    });
    expect(second.text).toBe('second turn');
    expect(lastSent(five.clouds.bedrock)).toContain('My name is Ada');

    const third = streamText({
      model: openai(CLOUD_MODELS.gemini),
      prompt: 'say streamed third',
      providerOptions: {
        openai: { previousResponseId: String(second.providerMetadata?.['openai']?.['responseId']) },
      },
    });
    expect(await third.text).toBe('streamed third');
    const usage = await third.usage;
    expect(usage.inputTokens).toBeGreaterThan(0);
    const sent = lastSent(five.clouds.gemini);
    expect(sent).toContain('My name is Ada');
    expect(sent).toContain('second turn');
  });

  it('runs a tool loop on Gemini', async () => {
    const openai = createOpenAI({ baseURL: `${app.url}/v1`, apiKey: TENANT_A_KEY });
    const result = await generateText({
      model: openai(CLOUD_MODELS.gemini),
      prompt: 'Use get_weather for "Oslo"',
      tools: {
        get_weather: tool({
          description: 'Weather in a city',
          inputSchema: z.object({ city: z.string() }),
          execute: async ({ city }) => `cold in ${city}`,
        }),
      },
      stopWhen: stepCountIs(3),
    });
    expect(result.steps).toHaveLength(2);
    expect(result.steps[0]!.toolCalls[0]).toMatchObject({
      toolName: 'get_weather',
      input: { city: 'Oslo' },
    });
    // Gemini wraps a tool result in {result}; the tool name shows its model saw the call.
    expect(result.text).toMatch(/^Tool get_weather returned: .*cold in Oslo/);
  });

  it('resends earlier assistant output as item references (store: true), resolved from the store', async () => {
    const openai = createOpenAI({ baseURL: `${app.url}/v1`, apiKey: TENANT_A_KEY });
    const first = await generateText({
      model: openai(CLOUD_MODELS.azure),
      prompt: 'say the password is swordfish',
    });
    const second = await generateText({
      model: openai(CLOUD_MODELS.anthropic),
      messages: [
        { role: 'user', content: 'say the password is swordfish' },
        ...first.response.messages,
        { role: 'user', content: 'say understood' },
      ],
    });
    expect(JSON.stringify(second.request.body)).toContain('"type":"item_reference"');
    expect(second.text).toBe('understood');
    expect(lastSent(five.clouds.anthropic)).toContain('the password is swordfish');
  });
});

describe('@openai/agents (Responses mode)', () => {
  it('runs an agent with a function tool, then continues with previousResponseId on other clouds', async () => {
    const client = new OpenAI({ baseURL: `${app.url}/v1`, apiKey: TENANT_A_KEY, maxRetries: 0 });
    const runner = new Runner({
      modelProvider: new OpenAIProvider({ openAIClient: client, useResponses: true }),
      tracingDisabled: true,
    });
    const getWeather = agentTool({
      name: 'get_weather',
      description: 'Weather in a city',
      parameters: z.object({ city: z.string() }),
      execute: async ({ city }) => `windy in ${city}`,
    });
    const agentOn = (model: string) =>
      new Agent({
        name: 'Assistant',
        instructions: 'You answer briefly.',
        model,
        tools: [getWeather],
      });

    const first = await runner.run(agentOn(CLOUD_MODELS.anthropic), 'Use get_weather for "Bergen"');
    expect(first.finalOutput).toBe('Tool get_weather returned: windy in Bergen');
    expect(first.lastResponseId).toMatch(/^resp_/);
    // The tool result went back to Anthropic with previous_response_id: the call came from the store.
    expect(lastSent(five.clouds.anthropic)).toContain('tool_result');

    const second = await runner.run(agentOn(CLOUD_MODELS.azure), 'say still listening', {
      previousResponseId: first.lastResponseId!,
    });
    expect(second.finalOutput).toBe('still listening');
    const sent = lastSent(five.clouds.azure);
    expect(sent).toContain('Bergen');
    expect(sent).toContain('windy in Bergen');

    const third = await runner.run(agentOn(CLOUD_MODELS.bedrock), 'Use get_weather for "Tromso"', {
      previousResponseId: second.lastResponseId!,
    });
    expect(third.finalOutput).toBe('Tool get_weather returned: windy in Tromso');
    expect(lastSent(five.clouds.bedrock)).toContain('still listening');
  });

  it('streams an agent run', async () => {
    const client = new OpenAI({ baseURL: `${app.url}/v1`, apiKey: TENANT_A_KEY, maxRetries: 0 });
    const runner = new Runner({
      modelProvider: new OpenAIProvider({ openAIClient: client, useResponses: true }),
      tracingDisabled: true,
    });
    const agent = new Agent({
      name: 'Streamer',
      instructions: 'Be brief.',
      model: CLOUD_MODELS.gemini,
    });
    const result = await runner.run(agent, 'say streamed agent', { stream: true });
    let text = '';
    for await (const chunk of result.toTextStream()) text += chunk;
    await result.completed;
    expect(text).toBe('streamed agent');
    expect(result.finalOutput).toBe('streamed agent');
  });
});
