import { describe, expect, it } from 'vitest';
import { countTokens, estimateTokens } from '../../src/access/estimate.js';
import { modelAllowed, periodOf } from '../../src/access/policy.js';

describe('budget periods (UTC)', () => {
  const at = Date.parse('2026-03-18T15:30:00Z'); // a Wednesday
  it('day, ISO week from Monday, month, total', () => {
    expect(periodOf('day', at)).toEqual({
      start: Date.parse('2026-03-18T00:00:00Z'),
      end: Date.parse('2026-03-19T00:00:00Z'),
    });
    expect(periodOf('week', at)).toEqual({
      start: Date.parse('2026-03-16T00:00:00Z'),
      end: Date.parse('2026-03-23T00:00:00Z'),
    });
    expect(periodOf('month', at)).toEqual({
      start: Date.parse('2026-03-01T00:00:00Z'),
      end: Date.parse('2026-04-01T00:00:00Z'),
    });
    expect(periodOf('total', at)).toEqual({ start: 0, end: Number.POSITIVE_INFINITY });
  });
  it('rolls over at the boundary instant', () => {
    expect(periodOf('day', Date.parse('2026-12-31T23:59:59.999Z')).start).toBe(
      Date.parse('2026-12-31T00:00:00Z'),
    );
    expect(periodOf('month', Date.parse('2027-01-01T00:00:00Z')).start).toBe(
      Date.parse('2027-01-01T00:00:00Z'),
    );
    expect(periodOf('week', Date.parse('2026-03-22T23:59:59Z')).start).toBe(
      Date.parse('2026-03-16T00:00:00Z'),
    ); // Sunday
    expect(periodOf('week', Date.parse('2026-03-23T00:00:00Z')).start).toBe(
      Date.parse('2026-03-23T00:00:00Z'),
    ); // Monday
  });
});

describe('model allow-lists', () => {
  it('matches exact names and * patterns', () => {
    expect(modelAllowed(undefined, 'x')).toBe(true);
    expect(modelAllowed(['gpt-4o*'], 'gpt-4o-mini')).toBe(true);
    expect(modelAllowed(['gpt-4o*'], 'claude')).toBe(false);
    expect(modelAllowed(['*'], 'anything')).toBe(true);
    expect(modelAllowed(['a'], 'ab')).toBe(false);
  });
});

describe('token estimates', () => {
  it('counts every text, tool and image, plus the chat overhead, and max output × n', () => {
    const body = {
      model: 'm',
      n: 2,
      max_tokens: 50,
      tools: [
        { type: 'function' as const, function: { name: 'f', parameters: { type: 'object' } } },
      ],
      messages: [
        { role: 'system' as const, content: 'You are terse.' },
        {
          role: 'user' as const,
          content: [
            { type: 'text', text: 'Hello there' },
            { type: 'image_url', image_url: { url: 'data:' } },
          ],
        },
        {
          role: 'assistant' as const,
          content: null,
          tool_calls: [
            { id: 'c', type: 'function' as const, function: { name: 'f', arguments: '{}' } },
          ],
        },
      ],
    };
    const estimate = estimateTokens(body, 'chat');
    const texts =
      countTokens('You are terse.') +
      countTokens('Hello there') +
      85 +
      countTokens('f') +
      countTokens('{}') +
      countTokens(JSON.stringify(body.tools));
    expect(estimate).toEqual({ inputTokens: texts + 3 + 3 * 4, outputTokens: 100 });
    expect(
      estimateTokens(body, 'chat', { overhead: { perMessage: 0, perRequest: 0 } }).inputTokens,
    ).toBe(texts);
  });
  it('falls back to the model maximum, then to the default, for output', () => {
    const body = { model: 'm', messages: [{ role: 'user' as const, content: 'hi' }] };
    expect(estimateTokens(body, 'chat', { modelMaxOutputTokens: 777 }).outputTokens).toBe(777);
    expect(estimateTokens(body, 'chat').outputTokens).toBe(4096);
    expect(
      estimateTokens({ ...body, max_completion_tokens: 9, max_tokens: 100 }, 'chat').outputTokens,
    ).toBe(9);
  });
  it('counts embeddings input only', () => {
    expect(estimateTokens({ model: 'e', input: ['hello world', 'bye'] }, 'embeddings')).toEqual({
      inputTokens: countTokens('hello world') + countTokens('bye'),
      outputTokens: 0,
    });
    expect(
      estimateTokens({ model: 'e', input: [[1, 2, 3]] } as never, 'embeddings').inputTokens,
    ).toBe(3);
  });
});
