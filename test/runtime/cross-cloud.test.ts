import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CLOUD_MODELS,
  type CloudName,
  type FiveClouds,
  lastSent,
  startFiveClouds,
} from './clouds.js';
import { type RunningApp, startApp, TENANT_A_KEY } from './helpers.js';

/**
 * State belongs to Switchyard, not to a cloud: a conversation that alternates clouds turn by
 * turn (OpenAI, Azure, Anthropic, Bedrock, Gemini: four protocol families) keeps its context.
 * Each cloud's recorded request shows that its model saw the earlier turns, the tool call made
 * on another cloud and its result.
 */

let five: FiveClouds;
let app: RunningApp;
let client: OpenAI;

beforeAll(async () => {
  five = await startFiveClouds();
  app = await startApp(five.config);
  client = new OpenAI({ baseURL: `${app.url}/v1`, apiKey: TENANT_A_KEY, maxRetries: 0 });
});
afterAll(async () => {
  await app.close();
  await five.close();
});

const weather: OpenAI.Responses.FunctionTool = {
  type: 'function',
  name: 'get_weather',
  description: 'Weather in a city',
  parameters: {
    type: 'object',
    properties: { city: { type: 'string' } },
    required: ['city'],
    additionalProperties: false,
  },
  strict: true,
};

type Turn = {
  cloud: CloudName;
  input: OpenAI.Responses.ResponseCreateParams['input'];
  stream?: boolean;
};

/** Runs the same five-turn script through any continuation mechanism. */
async function runScript(
  order: CloudName[],
  link: (
    previous: OpenAI.Responses.Response | undefined,
  ) => Partial<OpenAI.Responses.ResponseCreateParamsNonStreaming>,
) {
  const seen: Record<string, string> = {};
  let previous: OpenAI.Responses.Response | undefined;
  const run = async (turn: Turn) => {
    const params = {
      model: CLOUD_MODELS[turn.cloud],
      input: turn.input,
      tools: [weather],
      ...link(previous),
    };
    if (turn.stream) {
      const stream = client.responses.stream({ ...params, stream: true });
      previous = await stream.finalResponse();
    } else previous = await client.responses.create(params);
    seen[turn.cloud] = lastSent(five.clouds[turn.cloud]);
    return previous;
  };

  const first = await run({
    cloud: order[0]!,
    input: 'My name is Ada and I live in "Lisbon". say noted',
  });
  expect(first.output_text).toBe('noted');

  const second = await run({
    cloud: order[1]!,
    input: 'Use get_weather for "Lisbon"',
    stream: true,
  });
  const call = second.output.find((item) => item.type === 'function_call');
  if (call?.type !== 'function_call') throw new Error(`no function call from ${order[1]}`);
  expect(call.name).toBe('get_weather');
  expect(JSON.parse(call.arguments)).toEqual({ city: 'Lisbon' });

  const third = await run({
    cloud: order[2]!,
    input: [
      { type: 'function_call_output', call_id: call.call_id, output: 'sunny and 24 degrees' },
    ],
  });
  // The tool name comes from the call that another cloud made: this model saw it.
  expect(third.output_text).toBe('Tool get_weather returned: sunny and 24 degrees');

  const fourth = await run({ cloud: order[3]!, input: 'say still here', stream: true });
  expect(fourth.output_text).toBe('still here');
  const fifth = await run({ cloud: order[4]!, input: 'say goodbye' });
  expect(fifth.output_text).toBe('goodbye');

  // Every cloud after the first saw the first turn; every cloud after the third saw the tool call and result.
  for (const [index, cloud] of order.entries()) {
    if (index >= 1) expect(seen[cloud], cloud).toContain('My name is Ada');
    if (index >= 3) {
      expect(seen[cloud], cloud).toContain('get_weather');
      expect(seen[cloud], cloud).toContain('sunny and 24 degrees');
      expect(seen[cloud], cloud).toContain('noted');
    }
  }
  return fifth;
}

describe('a conversation alternating clouds turn by turn', () => {
  it('keeps its context through previous_response_id (Azure → Anthropic → Bedrock → Gemini → OpenAI)', async () => {
    const last = await runScript(
      ['azure', 'anthropic', 'bedrock', 'gemini', 'openai'],
      (previous) => (previous ? { previous_response_id: previous.id } : {}),
    );
    const items = await client.responses.inputItems.list(last.id);
    expect(items.data).toHaveLength(1);
  });

  it('keeps its context through a conversation (Gemini → OpenAI → Anthropic → Azure → Bedrock)', async () => {
    const conversation = await client.conversations.create({ metadata: { case: 'cross-cloud' } });
    await runScript(['gemini', 'openai', 'anthropic', 'azure', 'bedrock'], () => ({
      conversation: conversation.id,
    }));
    const items = await client.conversations.items.list(conversation.id, {
      order: 'asc',
      limit: 100,
    });
    expect(items.data.map((item) => item.type)).toEqual([
      'message',
      'message', // turn 1: user, assistant
      'message',
      'function_call', // turn 2: user, call
      'function_call_output',
      'message', // turn 3: result, assistant
      'message',
      'message', // turn 4
      'message',
      'message', // turn 5
    ]);
  });

  it('turns provider reasoning into reasoning items and sends it back only to the model that made it', async () => {
    const first = await client.responses.create({
      model: CLOUD_MODELS.anthropic,
      input: 'think about "tides" and use get_weather',
      tools: [weather],
      reasoning: { effort: 'low' },
    });
    const reasoning = first.output.find((item) => item.type === 'reasoning');
    expect(reasoning).toMatchObject({ type: 'reasoning', summary: [{ type: 'summary_text' }] });
    if (reasoning?.type !== 'reasoning') throw new Error('no reasoning');
    expect(reasoning.summary[0]?.text).toContain('tides');
    const call = first.output.find((item) => item.type === 'function_call');
    if (call?.type !== 'function_call') throw new Error('no call');

    // Same model: the thinking block goes back with its signature (the emulator verifies it).
    const same = await client.responses.create({
      model: CLOUD_MODELS.anthropic,
      previous_response_id: first.id,
      tools: [weather],
      input: [{ type: 'function_call_output', call_id: call.call_id, output: 'calm' }],
    });
    expect(same.output_text).toBe('Tool get_weather returned: calm');
    expect(lastSent(five.clouds.anthropic)).toContain('"type":"thinking"');

    // Another cloud: the reasoning stays behind, the rest of the turn travels.
    const other = await client.responses.create({
      model: CLOUD_MODELS.bedrock,
      previous_response_id: first.id,
      tools: [weather],
      input: [{ type: 'function_call_output', call_id: call.call_id, output: 'calm' }],
    });
    expect(other.output_text).toBe('Tool get_weather returned: calm');
    expect(lastSent(five.clouds.bedrock)).not.toContain('reasoningContent');
  });
});
