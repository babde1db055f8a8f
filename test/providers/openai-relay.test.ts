import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { StreamItem } from '../../src/providers/adapter.js';
import { relaySse } from '../../src/providers/openai/relay.js';
import { passthroughStream } from '../../src/providers/openai/stream.js';
import { decodeSse } from '../../src/transport/sse.js';

/**
 * The relay (one item per upstream read, events forwarded as the upstream's bytes) must forward
 * exactly what the event-by-event passthrough forwards, for any way the bytes are cut into
 * reads: the same events, the same usage chunk held back, the same failures.
 */

interface Outcome {
  /** What the OpenAI chat surface writes for the non-usage items. */
  forwarded: string;
  usage: unknown;
  error?: string;
  /** Items the consumer saw (the relay's point: few). */
  items: number;
}

async function* reads(parts: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const part of parts) yield part;
}

async function collect(items: AsyncIterable<StreamItem>): Promise<Outcome> {
  let forwarded = '';
  let usage: unknown;
  let count = 0;
  try {
    for await (const item of items) {
      count += 1;
      if (item.usageOnly) {
        usage = item.chunk().usage;
        continue;
      }
      forwarded += item.framed
        ? Buffer.from(item.framed).toString('utf8')
        : `data: ${item.raw ?? JSON.stringify(item.chunk())}\n\n`;
    }
  } catch (error) {
    return {
      forwarded,
      usage,
      error: (error as { code?: string }).code ?? String(error),
      items: count,
    };
  }
  return { forwarded, usage, items: count };
}

function split(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
  const parts: Uint8Array[] = [];
  let at = 0;
  for (const point of points) {
    if (point > at) parts.push(bytes.subarray(at, point));
    at = Math.max(at, point);
  }
  if (at < bytes.length) parts.push(bytes.subarray(at));
  return parts;
}

const chunk = (delta: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    id: 'c1',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'm',
    choices: [{ index: 0, delta, finish_reason: null }],
    ...extra,
  });

const USAGE_CHUNK = JSON.stringify({
  id: 'c1',
  object: 'chat.completion.chunk',
  choices: [],
  usage: { prompt_tokens: 3, completion_tokens: 5, total_tokens: 8 },
});
const FINISH = JSON.stringify({
  id: 'c1',
  object: 'chat.completion.chunk',
  choices: [{ index: 0, delta: {}, finish_reason: 'stop' }],
});

/** One event as an upstream might frame it. */
const event = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .string({ unit: 'grapheme', maxLength: 12 })
      .map((text) => `data: ${chunk({ content: text })}\n\n`),
  },
  // Azure's filter-only chunk: dropped.
  {
    weight: 1,
    arbitrary: fc.constant(
      `data: ${JSON.stringify({ id: '', choices: [], prompt_filter_results: [] })}\n\n`,
    ),
  },
  // Spaced JSON, an `event:` field, a comment line, a multi-line data field.
  {
    weight: 1,
    arbitrary: fc.constant(
      `data: {"id": "c1", "choices" : [ {"index":0, "delta": {"content": "é"}} ]}\n\n`,
    ),
  },
  { weight: 1, arbitrary: fc.constant(`event: message\ndata: ${chunk({ content: 'x' })}\n\n`) },
  // Empty choices spaced as a server might space them (the relay finds them without a regex),
  // a `"choices"` text inside content, and a key that only starts like it.
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      `data: {"id":"","choices" :\t[ ],"prompt_filter_results":[]}\n\n`,
      `data: {"id":"","choices":[\r\t],"prompt_filter_results":[]}\n\n`,
      `data: ${chunk({ content: '"choices":[]' })}\n\n`,
      `data: {"id":"c1","choices_x":[],"choices":[{"index":0,"delta":{"content":"z"}}]}\n\n`,
      // Other empty arrays (the search's candidates that are not `choices`), and a spaced usage chunk.
      `data: {"id":"c1","choices":[{"index":0,"delta":{"content":"w","tool_calls":[]}}],"x": [ ],"y":[\t]}\n\n`,
      `data: {"id":"c1","choices": [\t],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}\n\n`,
    ),
  },
  { weight: 1, arbitrary: fc.constant(`: keep-alive\n\n`) },
  {
    weight: 1,
    arbitrary: fc.constant(
      `data: {"id":"c1","choices":[{"index":0,\ndata: "delta":{"content":"y"}}]}\n\n`,
    ),
  },
);

describe('relaySse', () => {
  it('forwards what the event-by-event passthrough forwards, however the bytes are cut', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(event, { maxLength: 30 }),
        fc.constantFrom('done', 'no-done', 'error', 'malformed', 'cut'),
        fc.boolean(),
        fc.array(fc.nat(), { maxLength: 12 }),
        async (events, ending, crlf, cuts) => {
          let text = `${events.join('')}data: ${FINISH}\n\ndata: ${USAGE_CHUNK}\n\n`;
          if (ending === 'done') text += 'data: [DONE]\n\n';
          if (ending === 'error')
            text += 'data: {"error":{"message":"boom","type":"server_error"}}\n\n';
          if (ending === 'malformed')
            text += `data: ${chunk({ content: 'LEAK' }).slice(0, 40)}\n\n`;
          if (ending === 'cut') text = text.slice(0, Math.max(1, text.length - 30));
          if (crlf) text = text.replace(/\n/g, '\r\n');
          const bytes = new TextEncoder().encode(text);
          const parts = split(bytes, cuts);
          const expected = await collect(passthroughStream(decodeSse(reads(parts)), 'p'));
          const actual = await collect(relaySse(reads(parts), 'p'));
          expect(actual.forwarded).toBe(expected.forwarded);
          expect(actual.usage).toEqual(expected.usage);
          expect(actual.error).toBe(expected.error);
          expect(actual.items).toBeLessThanOrEqual(parts.length * 2);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('hands a burst over as one item, and the usage chunk held apart', async () => {
    const text = `${Array.from({ length: 200 }, (_, i) => `data: ${chunk({ content: `t${i}` })}\n\n`).join('')}data: ${FINISH}\n\ndata: ${USAGE_CHUNK}\n\ndata: [DONE]\n\n`;
    const items: StreamItem[] = [];
    for await (const item of relaySse(reads([Buffer.from(text)]), 'p')) items.push(item);
    expect(items).toHaveLength(2);
    expect(items[0]!.framed).toBeDefined();
    expect(items[0]!.chunks!()).toHaveLength(201);
    expect(items[1]!.usageOnly).toBe(true);
    expect(items[1]!.chunk().usage?.total_tokens).toBe(8);
  });

  it('after [DONE], reads the body to its end when the end is already in hand', async () => {
    let readAfterDone = false;
    async function* body(): AsyncGenerator<Uint8Array> {
      yield Buffer.from(`data: ${FINISH}\n\ndata: ${USAGE_CHUNK}\n\ndata: [DONE]\n\n`);
      readAfterDone = true;
      yield Buffer.from('data: ignored\n\n');
    }
    for await (const _ of relaySse(body(), 'p', () => true)) void _;
    expect(readAfterDone).toBe(true);
    readAfterDone = false;
    for await (const _ of relaySse(body(), 'p', () => false)) void _;
    expect(readAfterDone).toBe(false);
  });
});
