import { describe, expect, it } from 'vitest';
import type { ChatMessage } from '../../src/core/chat.js';
import { fitToWindow, messageTokens } from '../../src/runtime/context-window.js';
import { encodeCompaction, encodeReasoning } from '../../src/runtime/envelope.js';
import { RuntimeError } from '../../src/runtime/errors.js';
import { normalizeInput } from '../../src/runtime/items.js';
import { OutputBuilder } from '../../src/runtime/output-builder.js';
import { applyCompaction, itemsToMessages } from '../../src/runtime/to-chat.js';
import type { Item } from '../../src/runtime/types.js';

/** Unit tests of the item ↔ chat mapping, compaction rule, truncation and output building. */

let counter = 0;
const ids = (prefix: string) => `${prefix}${++counter}`;

describe('normalizeInput', () => {
  it('mints ids, expands string content and recognises item references', () => {
    const { entries, compactionTrigger } = normalizeInput(
      [
        { role: 'user', content: 'hi' },
        { type: 'message', role: 'assistant', content: 'hello', id: 'msg_mine' },
        { id: 'fc_stored' },
        { type: 'item_reference', id: 'rs_stored' },
        { type: 'function_call_output', call_id: 'call_1', output: 'ok' },
        { type: 'compaction_trigger' },
      ],
      ids,
    );
    expect(compactionTrigger).toBe(true);
    expect(entries[0]).toMatchObject({
      kind: 'item',
      item: {
        type: 'message',
        role: 'user',
        status: 'completed',
        content: [{ type: 'input_text', text: 'hi' }],
      },
    });
    expect((entries[0] as { item: Item }).item.id).toMatch(/^msg_/);
    expect(entries[1]).toMatchObject({
      kind: 'item',
      item: { id: 'msg_mine', content: [{ type: 'output_text', text: 'hello' }] },
    });
    expect(entries[2]).toEqual({ kind: 'reference', id: 'fc_stored', index: 2 });
    expect(entries[3]).toEqual({ kind: 'reference', id: 'rs_stored', index: 3 });
    expect((entries[4] as { item: Item }).item.id).toMatch(/^fco_/);
  });

  it('rejects what it cannot carry, by name', () => {
    expect(() =>
      normalizeInput([{ type: 'compaction_trigger' }, { role: 'user', content: 'x' }], ids),
    ).toThrow(/final input item/);
    expect(() => normalizeInput([{ type: 'web_search_call', id: 'ws_1' }], ids)).toThrow(
      RuntimeError,
    );
    expect(() => normalizeInput([{ role: 'robot', content: 'x' }], ids)).toThrow(/role/);
    expect(() => normalizeInput([{ type: 'function_call', call_id: 'c', name: 'f' }], ids)).toThrow(
      /arguments/,
    );
  });
});

describe('itemsToMessages', () => {
  const reasoning = (model: string): Item => ({
    type: 'reasoning',
    id: 'rs_1',
    summary: [],
    encrypted_content: encodeReasoning({ text: 'hmm', signature: 'sig', model }),
  });

  it('folds one assistant turn (reasoning, text, calls) into one message and keeps call ids', () => {
    const items: Item[] = [
      { type: 'message', role: 'developer', content: [{ type: 'input_text', text: 'be nice' }] },
      { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'weather?' }] },
      reasoning('m1'),
      { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Checking.' }] },
      { type: 'function_call', call_id: 'call_sig_abc', name: 'get_weather', arguments: '{}' },
      { type: 'function_call', call_id: 'call_2', name: 'get_time', arguments: '{}' },
      { type: 'function_call_output', call_id: 'call_sig_abc', output: 'sunny' },
      {
        type: 'function_call_output',
        call_id: 'call_2',
        output: [{ type: 'input_text', text: 'noon' }],
      },
    ];
    expect(itemsToMessages(items, 'm1')).toEqual([
      { role: 'system', content: 'be nice' },
      { role: 'user', content: 'weather?' },
      {
        role: 'assistant',
        content: 'Checking.',
        reasoning_content: 'hmm',
        reasoning_signature: 'sig',
        tool_calls: [
          {
            id: 'call_sig_abc',
            type: 'function',
            function: { name: 'get_weather', arguments: '{}' },
          },
          { id: 'call_2', type: 'function', function: { name: 'get_time', arguments: '{}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'call_sig_abc', content: 'sunny' },
      { role: 'tool', tool_call_id: 'call_2', content: 'noon' },
    ]);
  });

  it('leaves out reasoning made by another model and reasoning-only turns', () => {
    const items: Item[] = [
      { type: 'message', role: 'user', content: 'q' },
      reasoning('m1'),
      { type: 'message', role: 'assistant', content: 'a' },
      reasoning('m1'),
    ];
    expect(itemsToMessages(items, 'm2')).toEqual([
      { role: 'user', content: 'q' },
      { role: 'assistant', content: 'a' },
    ]);
    expect(itemsToMessages(items, 'm1')[1]).toMatchObject({ reasoning_content: 'hmmhmm' });
  });

  it('keeps images as parts and turns compaction into a system summary', () => {
    const items: Item[] = [
      {
        type: 'compaction',
        id: 'cmp_1',
        encrypted_content: encodeCompaction({ summary: 'They met.' }),
      },
      {
        type: 'message',
        role: 'user',
        content: [
          { type: 'input_text', text: 'look' },
          { type: 'input_image', image_url: 'data:image/png;base64,AA', detail: 'low' },
        ],
      },
    ];
    expect(itemsToMessages(items, 'm')).toEqual([
      { role: 'system', content: 'Summary of the earlier conversation:\nThey met.' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'look' },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,AA', detail: 'low' } },
        ],
      },
    ]);
    expect(() =>
      itemsToMessages(
        [{ type: 'compaction', id: 'cmp_x', encrypted_content: 'gAAAA-openai-blob' }],
        'm',
      ),
    ).toThrow(/not produced by Switchyard/);
  });
});

describe('applyCompaction', () => {
  it('keeps user messages before the last compaction item and everything after it', () => {
    const items: Item[] = [
      { type: 'message', role: 'user', id: 'u1', content: 'a' },
      { type: 'message', role: 'assistant', id: 'a1', content: 'b' },
      { type: 'compaction', id: 'c1', encrypted_content: '' },
      { type: 'message', role: 'user', id: 'u2', content: 'c' },
      { type: 'function_call', id: 'f1', call_id: 'x', name: 'n', arguments: '{}' },
      { type: 'compaction', id: 'c2', encrypted_content: '' },
      { type: 'message', role: 'assistant', id: 'a2', content: 'd' },
    ];
    expect(applyCompaction(items).map((item) => item.id)).toEqual(['u1', 'u2', 'c2', 'a2']);
  });
});

describe('fitToWindow', () => {
  const long = 'word '.repeat(200);
  const messages: ChatMessage[] = [
    { role: 'system', content: 'rules' },
    { role: 'user', content: `old question ${long}` },
    {
      role: 'assistant',
      content: null,
      tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }],
    },
    { role: 'tool', tool_call_id: 'c1', content: long },
    { role: 'assistant', content: `old answer ${long}` },
    { role: 'user', content: 'new question' },
  ];

  it('returns the context untouched when it fits', () => {
    expect(fitToWindow(messages, [], 100_000, 'disabled')).toBe(messages);
  });

  it('answers a clear context error when truncation is disabled', () => {
    expect(() => fitToWindow(messages, [], 300, 'disabled')).toThrow(
      expect.objectContaining({ status: 400, apiCode: 'context_length_exceeded', param: 'input' }),
    );
  });

  it('drops the oldest turns, never leaving an orphan tool result, when truncation is auto', () => {
    const budget =
      messageTokens(messages[0]!) + messageTokens(messages[4]!) + messageTokens(messages[5]!) + 5;
    const kept = fitToWindow(messages, [], budget, 'auto');
    // The assistant answer would fit, but the kept part must start at a user message.
    expect(kept).toEqual([messages[0], messages[5]]);
    const roomy = fitToWindow(
      messages,
      [],
      budget + messageTokens(messages[1]!) + messageTokens(messages[2]!),
      'auto',
    );
    expect(roomy.map((message) => message.role)).toEqual(['system', 'user']);
    expect(() => fitToWindow(messages, [], 5, 'auto')).toThrow(RuntimeError);
  });
});

describe('OutputBuilder', () => {
  it('builds the same items with or without a sink, and snapshots open items', () => {
    const events: Array<Record<string, unknown>> = [];
    const streamed = new OutputBuilder({ ids, sink: (event) => events.push(event), model: 'm' });
    const whole = new OutputBuilder({ ids, model: 'm' });
    for (const builder of [streamed, whole]) {
      builder.delta({ reasoning_content: 'r' });
      builder.delta({ content: 'Hi' });
      expect(builder.snapshot()[1]).toMatchObject({
        type: 'message',
        status: 'in_progress',
        content: [{ text: 'Hi' }],
      });
      builder.delta({
        tool_calls: [{ index: 0, id: 'call_1', function: { name: 'f', arguments: '{"a"' } }],
      });
      builder.delta({
        tool_calls: [{ index: 1, id: 'call_2', function: { name: 'g', arguments: '{}' } }],
      });
      // A late fragment of the first call still lands in its final item.
      builder.delta({ tool_calls: [{ index: 0, function: { arguments: ':1}' } }] });
      builder.close();
    }
    const strip = (items: Item[]) => items.map(({ id: _id, ...rest }) => rest);
    expect(strip(streamed.items)).toEqual(strip(whole.items));
    expect(streamed.items.map((item) => item.type)).toEqual([
      'reasoning',
      'message',
      'function_call',
      'function_call',
    ]);
    expect(streamed.items[2]).toMatchObject({ arguments: '{"a":1}', status: 'completed' });
    const added = events
      .filter((event) => event['type'] === 'response.output_item.added')
      .map((event) => (event['item'] as Item).id);
    const done = events
      .filter((event) => event['type'] === 'response.output_item.done')
      .map((event) => (event['item'] as Item).id);
    expect(done).toEqual(added);
    expect(new Set(added).size).toBe(4);
  });
});
