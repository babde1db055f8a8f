import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  openAIFamilyProviders,
  pinned,
  type RunningApp,
  startApp,
  startOpenAIFamilyClouds,
  TENANT_A_KEY,
  TENANT_B_KEY,
} from './helpers.js';

/**
 * The real `openai` SDK against Switchyard's Responses and Conversations APIs, with the
 * OpenAI and Azure emulators behind it.
 */

let clouds: Awaited<ReturnType<typeof startOpenAIFamilyClouds>>;
let app: RunningApp;
let client: OpenAI;
let other: OpenAI;

beforeAll(async () => {
  clouds = await startOpenAIFamilyClouds();
  app = await startApp({
    providers: openAIFamilyProviders(clouds),
    models: { 'azure-mini': pinned('azure-east'), 'openai-mini': pinned('openai-direct') },
  });
  client = new OpenAI({ baseURL: `${app.url}/v1`, apiKey: TENANT_A_KEY, maxRetries: 0 });
  other = new OpenAI({ baseURL: `${app.url}/v1`, apiKey: TENANT_B_KEY, maxRetries: 0 });
});
afterAll(async () => {
  await app.close();
  await clouds.close();
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

describe('responses with the openai SDK', () => {
  it('creates, retrieves, lists input items and deletes a response', async () => {
    const created = await client.responses.create({
      model: 'azure-mini',
      input: 'say hello from Switchyard',
      instructions: 'Be brief.',
      metadata: { case: 'crud' },
    });
    expect(created.object).toBe('response');
    expect(created.status).toBe('completed');
    expect(created.output_text).toBe('hello from Switchyard');
    expect(created.id).toMatch(/^resp_/);
    expect(created.output[0]).toMatchObject({
      type: 'message',
      role: 'assistant',
      status: 'completed',
    });
    expect(created.usage?.input_tokens).toBeGreaterThan(0);
    expect(created.instructions).toBe('Be brief.');
    expect(created.metadata).toEqual({ case: 'crud' });

    const fetched = await client.responses.retrieve(created.id);
    expect({ ...fetched, output_text: undefined }).toEqual({ ...created, output_text: undefined });
    expect(fetched.output_text).toBe('hello from Switchyard');

    const items = await client.responses.inputItems.list(created.id);
    expect(items.data).toHaveLength(1);
    expect(items.data[0]).toMatchObject({
      type: 'message',
      role: 'user',
      content: [{ type: 'input_text', text: 'say hello from Switchyard' }],
    });

    await client.responses.delete(created.id);
    await expect(client.responses.retrieve(created.id)).rejects.toMatchObject({ status: 404 });
  });

  it('continues a chain with previous_response_id, instructions not carried over', async () => {
    const first = await client.responses.create({
      model: 'openai-mini',
      input: 'My name is Ada. say noted',
      instructions: 'FIRST-INSTRUCTIONS',
    });
    clouds.openai.requests.length = 0;
    const second = await client.responses.create({
      model: 'openai-mini',
      input: 'What is my name?',
      previous_response_id: first.id,
    });
    expect(second.previous_response_id).toBe(first.id);
    const sent = clouds.openai.bodies().at(-1)!;
    const messages = sent['messages'] as Array<{ role: string; content: unknown }>;
    expect(messages.map((message) => message.role)).toEqual(['user', 'assistant', 'user']);
    expect(JSON.stringify(messages)).not.toContain('FIRST-INSTRUCTIONS');
    expect(messages[0]?.content).toBe('My name is Ada. say noted');
    expect(messages[1]?.content).toBe('noted');
  });

  it('streams with the stream helper and replays the stored events', async () => {
    const stream = client.responses.stream({
      model: 'azure-mini',
      input: 'say streamed words here',
    });
    const types: string[] = [];
    const sequence: number[] = [];
    for await (const event of stream) {
      types.push(event.type);
      sequence.push(event.sequence_number);
    }
    const final = await stream.finalResponse();
    expect(final.output_text).toBe('streamed words here');
    expect(types.slice(0, 4)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
    ]);
    expect(types.slice(-4)).toEqual([
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(sequence).toEqual(sequence.map((_, index) => index));

    const stored = await client.responses.retrieve(final.id);
    // The stream helper adds `parsed` to text parts; everything else is the same Response.
    expect(JSON.stringify(stored.output)).toBe(
      JSON.stringify(final.output).replace(',"parsed":null', ''),
    );
    const replay = await client.responses.retrieve(final.id, { stream: true, starting_after: 2 });
    const replayed: number[] = [];
    for await (const event of replay) replayed.push(event.sequence_number);
    expect(replayed[0]).toBe(3);
    expect(replayed.at(-1)).toBe(sequence.at(-1));
  });

  it('calls a function tool and takes its output on the next turn', async () => {
    const first = await client.responses.create({
      model: 'azure-mini',
      input: 'Use get_weather for "Paris"',
      tools: [weather],
    });
    const call = first.output.find((item) => item.type === 'function_call');
    expect(call).toMatchObject({
      type: 'function_call',
      name: 'get_weather',
      arguments: '{"city":"Paris"}',
      status: 'completed',
    });
    if (call?.type !== 'function_call') throw new Error('no call');
    const second = await client.responses.create({
      model: 'openai-mini',
      previous_response_id: first.id,
      tools: [weather],
      input: [{ type: 'function_call_output', call_id: call.call_id, output: 'sunny, 21°C' }],
    });
    expect(second.output_text).toBe('Tool get_weather returned: sunny, 21°C');
  });

  it('honours text.format json_schema, max_output_tokens, tool_choice and parallel_tool_calls', async () => {
    const structured = await client.responses.create({
      model: 'openai-mini',
      input: 'Describe "Oslo"',
      text: {
        format: {
          type: 'json_schema',
          name: 'city',
          strict: true,
          schema: {
            type: 'object',
            properties: { name: { type: 'string' }, population: { type: 'integer' } },
            required: ['name', 'population'],
            additionalProperties: false,
          },
        },
      },
    });
    expect(JSON.parse(structured.output_text)).toEqual({ name: 'Oslo', population: 1 });
    expect(structured.text?.format).toMatchObject({ type: 'json_schema', name: 'city' });
    const sent = clouds.openai.bodies().at(-1)!;
    expect(sent['response_format']).toMatchObject({
      type: 'json_schema',
      json_schema: { name: 'city', strict: true },
    });

    const cut = await client.responses.create({
      model: 'azure-mini',
      input:
        'say one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty',
      max_output_tokens: 16,
    });
    expect(cut.status).toBe('incomplete');
    expect(cut.incomplete_details).toEqual({ reason: 'max_output_tokens' });
    expect(cut.output[0]).toMatchObject({ type: 'message', status: 'incomplete' });
    expect(cut.usage?.output_tokens).toBe(16);

    const time: OpenAI.Responses.FunctionTool = {
      type: 'function',
      name: 'get_time',
      parameters: { type: 'object', properties: {} },
      strict: false,
    };
    const forced = await client.responses.create({
      model: 'azure-mini',
      input: 'hello',
      tools: [weather, time],
      tool_choice: { type: 'function', name: 'get_time' },
    });
    expect(
      forced.output.map((item) => (item.type === 'function_call' ? item.name : item.type)),
    ).toEqual(['get_time']);
    const both = await client.responses.create({
      model: 'azure-mini',
      input: 'call get_weather and get_time',
      tools: [weather, time],
    });
    expect(
      both.output.map((item) => (item.type === 'function_call' ? item.name : item.type)),
    ).toEqual(['get_weather', 'get_time']);
    const one = await client.responses.create({
      model: 'azure-mini',
      input: 'call get_weather and get_time',
      tools: [weather, time],
      parallel_tool_calls: false,
    });
    expect(
      one.output.map((item) => (item.type === 'function_call' ? item.name : item.type)),
    ).toEqual(['get_weather']);
    // A hosted tool no deployment can run is dropped, and the answer says so (issue 21).
    const { data, response } = await client.responses
      .create({
        model: 'azure-mini',
        input: 'x',
        // Codex CLI's form; external_web_access is newer than this SDK's types.
        tools: [{ type: 'web_search', external_web_access: false } as never],
      })
      .withResponse();
    expect(data.status).toBe('completed');
    expect(response.headers.get('x-switchyard-warnings')).toBe(
      'tool web_search dropped: not run by Switchyard',
    );
    // A type that is not in the API at all is still refused by name.
    await expect(
      client.responses.create({
        model: 'azure-mini',
        input: 'x',
        tools: [{ type: 'teleport' } as never],
      }),
    ).rejects.toMatchObject({
      status: 400,
      error: { code: 'unsupported_parameter', param: 'tools[0].type' },
    });
  });

  it('keeps store:false responses out of reach', async () => {
    const created = await client.responses.create({
      model: 'azure-mini',
      input: 'say ephemeral',
      store: false,
    });
    expect((created as unknown as { store: boolean }).store).toBe(false);
    await expect(client.responses.retrieve(created.id)).rejects.toMatchObject({ status: 404 });
    await expect(
      client.responses.create({
        model: 'azure-mini',
        input: 'again',
        previous_response_id: created.id,
      }),
    ).rejects.toMatchObject({
      status: 400,
      error: { code: 'previous_response_not_found', param: 'previous_response_id' },
    });
  });

  it('compacts a chain and counts input tokens', async () => {
    const first = await client.responses.create({
      model: 'azure-mini',
      input: 'The code word is "heron". say remembered',
    });
    const compacted = await client.responses.compact({
      model: 'openai-mini',
      previous_response_id: first.id,
      input: 'What is the code word?',
    });
    expect(compacted.object).toBe('response.compaction');
    expect(compacted.output.map((item) => item.type)).toEqual(['message', 'message', 'compaction']);
    const next = await client.responses.create({
      model: 'openai-mini',
      input: [
        ...(compacted.output as OpenAI.Responses.ResponseInputItem[]),
        { role: 'user', content: 'say thanks' },
      ],
    });
    expect(next.output_text).toBe('thanks');
    const sent = clouds.openai.bodies().at(-1)!;
    expect(JSON.stringify(sent['messages'])).toContain('heron');

    const counted = await client.responses.inputTokens.count({
      model: 'azure-mini',
      previous_response_id: first.id,
      input: 'hello',
    });
    expect(counted.object).toBe('response.input_tokens');
    expect(counted.input_tokens).toBeGreaterThan(5);
  });

  it("hides one tenant's responses from another", async () => {
    const created = await client.responses.create({ model: 'azure-mini', input: 'say mine' });
    await expect(other.responses.retrieve(created.id)).rejects.toMatchObject({ status: 404 });
    await expect(other.responses.delete(created.id)).rejects.toMatchObject({ status: 404 });
    await expect(other.responses.inputItems.list(created.id)).rejects.toMatchObject({
      status: 404,
    });
    await expect(
      other.responses.create({ model: 'azure-mini', input: 'x', previous_response_id: created.id }),
    ).rejects.toMatchObject({ status: 400 });
    expect((await client.responses.retrieve(created.id)).id).toBe(created.id);
  });
});

describe('conversations with the openai SDK', () => {
  it('creates, updates, lists, appends through responses, and deletes', async () => {
    const conversation = await client.conversations.create({
      metadata: { topic: 'demo' },
      items: [{ type: 'message', role: 'user', content: 'My favourite colour is teal.' }],
    });
    expect(conversation).toMatchObject({ object: 'conversation', metadata: { topic: 'demo' } });
    const updated = await client.conversations.update(conversation.id, {
      metadata: { topic: 'colours' },
    });
    expect(updated.metadata).toEqual({ topic: 'colours' });

    clouds.azure.requests.length = 0;
    const reply = await client.responses.create({
      model: 'azure-mini',
      conversation: conversation.id,
      input: 'say ok',
    });
    expect(reply.conversation).toEqual({ id: conversation.id });
    expect(JSON.stringify(clouds.azure.bodies().at(-1))).toContain('teal');

    const added = await client.conversations.items.create(conversation.id, {
      items: [{ type: 'message', role: 'user', content: 'extra' }],
    });
    expect(added.data).toHaveLength(1);
    const listed = await client.conversations.items.list(conversation.id, { order: 'asc' });
    expect(listed.data.map((item) => item.type)).toEqual([
      'message',
      'message',
      'message',
      'message',
    ]);
    const ids = listed.data.map((item) => (item as { id: string }).id);
    const page = await client.conversations.items.list(conversation.id, {
      limit: 2,
      order: 'desc',
    });
    expect(page.data.map((item) => (item as { id: string }).id)).toEqual([ids[3], ids[2]]);
    expect(page.has_more).toBe(true);

    const item = await client.conversations.items.retrieve(ids[0]!, {
      conversation_id: conversation.id,
    });
    expect(item).toMatchObject({ type: 'message', role: 'user' });
    const afterDelete = await client.conversations.items.delete(ids[3]!, {
      conversation_id: conversation.id,
    });
    expect(afterDelete.id).toBe(conversation.id);

    await expect(other.conversations.retrieve(conversation.id)).rejects.toMatchObject({
      status: 404,
    });
    await expect(
      client.responses.create({
        model: 'azure-mini',
        conversation: conversation.id,
        previous_response_id: reply.id,
        input: 'x',
      }),
    ).rejects.toMatchObject({
      status: 400,
      error: { code: 'mutually_exclusive_parameters' },
    });

    const deleted = await client.conversations.delete(conversation.id);
    expect(deleted).toMatchObject({
      id: conversation.id,
      object: 'conversation.deleted',
      deleted: true,
    });
    await expect(client.conversations.retrieve(conversation.id)).rejects.toMatchObject({
      status: 404,
    });
    // Its items are not deleted: the response that added them still holds them.
    const inputItems = await client.responses.inputItems.list(reply.id);
    expect(inputItems.data).toHaveLength(1);
  });

  it('rejects an input item whose id is already in the conversation', async () => {
    const conversation = await client.conversations.create({
      items: [{ type: 'message', role: 'user', content: 'hello' }],
    });
    const [first] = (await client.conversations.items.list(conversation.id)).data as Array<{
      id: string;
    }>;
    await expect(
      client.responses.create({
        model: 'azure-mini',
        conversation: conversation.id,
        input: [
          {
            type: 'message',
            id: first!.id,
            role: 'user',
            content: [{ type: 'input_text', text: 'hello' }],
          } as OpenAI.Responses.ResponseInputItem,
        ],
      }),
    ).rejects.toMatchObject({
      status: 400,
      error: {
        message: `Duplicate item found with id ${first!.id}. Remove duplicate items from your input and try again.`,
        param: 'input',
        type: 'invalid_request_error',
      },
    });
  });
});
