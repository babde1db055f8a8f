import { encode } from 'gpt-tokenizer/encoding/o200k_base';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { countTokens, emulate, IMAGE_TOKENS, tokenize } from '../../src/sandbox/model.js';
import type { EmulatedInput } from '../../src/sandbox/model.js';

const weather = {
  name: 'get_weather',
  description: 'Current weather for a city',
  parameters: {
    type: 'object',
    properties: {
      city: { type: 'string' },
      country: { type: 'string' },
      unit: { type: 'string', enum: ['celsius', 'fahrenheit'] },
      days: { type: 'integer' },
      detailed: { type: 'boolean' },
      location: {
        type: 'object',
        properties: { lat: { type: 'number' }, label: { type: 'string' } },
        required: ['lat', 'label'],
      },
      note: { type: 'string' },
    },
    required: ['city', 'country', 'unit', 'days', 'detailed', 'location'],
  },
};
const search = {
  name: 'search_docs',
  parameters: { type: 'object', properties: { query: { type: 'string' } }, required: ['query'] },
};

function user(text: string, extra: Partial<EmulatedInput> = {}): EmulatedInput {
  return { messages: [{ role: 'user', text }], tools: [], ...extra };
}

describe('emulate', () => {
  it('echoes the last user message', () => {
    const output = emulate({
      messages: [
        { role: 'system', text: 'Be brief.' },
        { role: 'user', text: 'first' },
        { role: 'assistant', text: 'You said: first' },
        { role: 'user', text: 'hello there' },
      ],
      tools: [],
    });
    expect(output).toMatchObject({
      text: 'You said: hello there',
      toolCalls: [],
      finishReason: 'stop',
    });
    expect(output.reasoning).toBeUndefined();
  });

  it.each([
    ['Say "Hello, world!"', 'Hello, world!'],
    ['say pong', 'pong'],
    ['Reply with OK', 'OK'],
    ['repeat after me: the quick brown fox', 'the quick brown fox'],
    ['Hi there. Please say cheese', 'cheese'],
  ])('answers %j with exactly %j', (text, expected) => {
    expect(emulate(user(text)).text).toBe(expected);
  });

  it('calls a mentioned tool with arguments generated from its schema', () => {
    const output = emulate(
      user('Use get_weather for "Paris" in "France"', { tools: [search, weather] }),
    );
    expect(output.text).toBe('');
    expect(output.finishReason).toBe('tool_calls');
    expect(output.toolCalls).toHaveLength(1);
    const [call] = output.toolCalls;
    expect(call?.name).toBe('get_weather');
    expect(call?.id).toMatch(/^call_[0-9a-f]{24}$/);
    expect(JSON.parse(call?.arguments ?? '')).toEqual({
      city: 'Paris',
      country: 'France',
      unit: 'celsius',
      days: 1,
      detailed: true,
      location: { lat: 1, label: 'example' },
    });
    // Stable: the same conversation gives the same id.
    expect(
      emulate(user('Use get_weather for "Paris" in "France"', { tools: [search, weather] }))
        .toolCalls[0]?.id,
    ).toBe(call?.id);
  });

  it('chooses tools by tool_choice, "use a tool", parallel mentions and parallelToolCalls', () => {
    const tools = [weather, search];
    expect(
      emulate(user('hello', { tools, toolChoice: 'required' })).toolCalls.map((c) => c.name),
    ).toEqual(['get_weather']);
    expect(
      emulate(user('hello', { tools, toolChoice: { name: 'search_docs' } })).toolCalls.map(
        (c) => c.name,
      ),
    ).toEqual(['search_docs']);
    expect(emulate(user('please use a tool', { tools })).toolCalls.map((c) => c.name)).toEqual([
      'get_weather',
    ]);
    expect(emulate(user('hello', { tools })).toolCalls).toEqual([]);
    expect(emulate(user('get_weather please', { tools, toolChoice: 'none' })).text).toBe(
      'You said: get_weather please',
    );
    const both = emulate(user('call search_docs and get_weather', { tools }));
    expect(both.toolCalls.map((c) => c.name)).toEqual(['get_weather', 'search_docs']);
    expect(new Set(both.toolCalls.map((c) => c.id)).size).toBe(2);
    expect(
      emulate(user('call search_docs and get_weather', { tools, parallelToolCalls: false }))
        .toolCalls,
    ).toHaveLength(1);
  });

  it('answers a tool result with the tool name and result', () => {
    const output = emulate({
      messages: [
        { role: 'user', text: 'weather in "Oslo"?' },
        {
          role: 'assistant',
          text: '',
          toolCalls: [{ id: 'call_1', name: 'get_weather', arguments: '{"city":"Oslo"}' }],
        },
        { role: 'tool', text: '-3C and snowing', toolCallId: 'call_1' },
      ],
      tools: [weather],
      toolChoice: 'required',
    });
    expect(output).toMatchObject({
      text: 'Tool get_weather returned: -3C and snowing',
      toolCalls: [],
      finishReason: 'stop',
    });
  });

  it('produces JSON conforming to a requested schema', () => {
    const shape = z.object({
      title: z.string(),
      rating: z.number().int().min(3).max(5),
      tags: z.array(z.enum(['a', 'b'])).min(2),
      author: z.object({ email: z.string().email(), verified: z.boolean() }),
      subtitle: z.string().nullable(),
      published: z.string().datetime(),
    });
    const jsonSchema = z.toJSONSchema(shape) as Record<string, unknown>;
    const output = emulate(user('Summarise "Dune"', { jsonSchema }));
    expect(output.finishReason).toBe('stop');
    const value = shape.parse(JSON.parse(output.text));
    expect(value.title).toBe('Dune');
    // Structured output wins over "say X" so the answer always parses.
    expect(() =>
      shape.parse(JSON.parse(emulate(user('say hi', { jsonSchema })).text)),
    ).not.toThrow();
  });

  it('truncates at maxTokens with finish reason length', () => {
    const full = emulate(user('one two three four five six'));
    const output = emulate(user('one two three four five six', { maxTokens: 4 }));
    expect(output.finishReason).toBe('length');
    expect(full.text.startsWith(output.text)).toBe(true);
    expect(encode(output.text)).toHaveLength(4);
    expect(output.usage.outputTokens).toBe(4);
    expect(emulate(user('hi', { maxTokens: 100 })).finishReason).toBe('stop');
    const call = emulate(user('use get_weather', { tools: [weather], maxTokens: 6 }));
    expect(call.finishReason).toBe('length');
    expect(() => JSON.parse(call.toolCalls[0]?.arguments ?? '')).toThrow();
  });

  it('cuts the text at the first stop sequence', () => {
    expect(emulate(user('alpha beta gamma', { stop: ['gamma', 'beta'] }))).toMatchObject({
      text: 'You said: alpha ',
      finishReason: 'stop',
    });
  });

  it('counts tokens exactly as gpt-tokenizer o200k_base does', () => {
    const input: EmulatedInput = {
      messages: [
        { role: 'system', text: 'You are a helpful assistant.' },
        { role: 'user', text: 'What is the weather like in Zürich today? 🌦' },
        {
          role: 'assistant',
          text: '',
          toolCalls: [{ id: 'c1', name: 'get_weather', arguments: '{"city":"Zürich"}' }],
        },
        { role: 'tool', text: '12 degrees', toolCallId: 'c1' },
        { role: 'user', text: 'And tomorrow? Think it over.' },
      ],
      tools: [weather],
      images: 2,
    };
    const output = emulate(input, { modelName: 'gpt-4o-mini' });
    const expectedInput =
      input.messages.reduce((n, m) => n + encode(m.text).length, 0) +
      encode('get_weather').length +
      encode('{"city":"Zürich"}').length +
      encode(JSON.stringify(weather)).length +
      2 * IMAGE_TOKENS;
    expect(output.usage.inputTokens).toBe(expectedInput);
    expect(output.reasoning).toContain('gpt-4o-mini');
    expect(output.usage.reasoningTokens).toBe(encode(output.reasoning ?? '').length);
    expect(output.usage.outputTokens).toBe(
      encode(output.text).length + output.usage.reasoningTokens,
    );
    expect(output.usage.cachedInputTokens).toBe(0);
    expect(countTokens('hello world')).toBe(encode('hello world').length);
    expect(countTokens('<|endoftext|>')).toBeGreaterThan(1); // special tokens are plain text
  });

  it('reports a cached prefix of at least 1024 tokens in 128-token steps', () => {
    const system = 'lorem ipsum dolor sit amet '.repeat(300);
    const output = emulate({
      messages: [
        { role: 'system', text: system },
        { role: 'user', text: 'hi' },
      ],
      tools: [],
    });
    const prefix = encode(system).length;
    expect(prefix).toBeGreaterThanOrEqual(1024);
    expect(output.usage.cachedInputTokens).toBe(prefix - (prefix % 128));
  });

  it('tokenizes into one piece per token that concatenate to the text', () => {
    const text = 'Hello, world! Grüße 世界 👋🏽 <|endoftext|>';
    const pieces = tokenize(text);
    expect(pieces.join('')).toBe(text);
    expect(tokenize('Hello world')).toEqual(['Hello', ' world']);
    expect(tokenize('plain ascii words only')).toHaveLength(
      encode('plain ascii words only').length,
    );
    expect(tokenize('')).toEqual([]);
  });
});
