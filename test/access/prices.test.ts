import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  costMicros,
  costPicos,
  createPriceBook,
  divide,
  parsePrice,
  priceAt,
} from '../../src/billing/prices.js';

const usage = (
  inputTokens: number,
  outputTokens: number,
  cachedInputTokens = 0,
  reasoningTokens = 0,
) => ({ inputTokens, outputTokens, cachedInputTokens, reasoningTokens });

describe('prices', () => {
  it('parses USD per 1M tokens into integer µUSD per 1M tokens, exactly', () => {
    expect(parsePrice({ input: '0.15', output: '0.60' })).toMatchObject({
      input: 150_000n,
      cachedInput: 150_000n,
      output: 600_000n,
      reasoning: 600_000n,
    });
    expect(
      parsePrice({ input: '0.0375', cachedInput: '0.01875', output: '2', reasoning: '3' }),
    ).toMatchObject({
      input: 37_500n,
      cachedInput: 18_750n,
      output: 2_000_000n,
      reasoning: 3_000_000n,
    });
    expect(() => parsePrice({ input: '0.0000001', output: '1' })).toThrow(/decimal places/);
  });

  it('prices each token once at its own rate (cached input and reasoning are parts of input and output)', () => {
    const price = parsePrice({ input: '1', cachedInput: '0.5', output: '4', reasoning: '8' });
    // 600 fresh input × 1 + 400 cached × 0.5 + 50 plain output × 4 + 50 reasoning × 8, in µUSD per 1M → pico-USD.
    expect(costPicos(usage(1000, 100, 400, 50), price)).toBe(
      600n * 1_000_000n + 400n * 500_000n + 50n * 4_000_000n + 50n * 8_000_000n,
    );
    expect(costMicros(usage(1000, 100, 400, 50), price)).toBe(1400n);
  });

  it('rounds once per cost: up by default, down or half-even on request', () => {
    const price = parsePrice({ input: '0.15', output: '0.60' });
    expect(costMicros(usage(1, 0), price)).toBe(1n); // 0.15 µUSD
    expect(costMicros(usage(1, 0), price, 'down')).toBe(0n);
    expect(costMicros(usage(10, 0), price, 'half-even')).toBe(2n); // 1.5 → 2
    expect(costMicros(usage(30, 0), price, 'half-even')).toBe(4n); // 4.5 → 4
    expect(costMicros(usage(1000, 1000), price)).toBe(750n);
    expect(divide(7n, 2n, 'half-even')).toBe(4n);
  });

  it('a reservation for N tokens is never below the cost of N tokens (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2_000_000 }),
        fc.integer({ min: 0, max: 200_000 }),
        fc.integer({ min: 0, max: 100_000_000 }),
        fc.integer({ min: 0, max: 100_000_000 }),
        (input, output, pi, po) => {
          const price = {
            input: BigInt(pi),
            cachedInput: BigInt(pi),
            output: BigInt(po),
            reasoning: BigInt(po),
            cacheWrite: BigInt(pi),
            cacheWrite1h: BigInt(pi),
            effective: undefined,
            version: 0,
          };
          const exact = costPicos(usage(input, output), price);
          const up = costMicros(usage(input, output), price);
          expect(up * 1_000_000n >= exact).toBe(true);
          expect((up - 1n) * 1_000_000n < exact || up === 0n).toBe(true);
        },
      ),
    );
  });

  it('chooses the price version in effect at an instant', () => {
    const model = {
      price: [
        { input: '1', output: '2' },
        { input: '3', output: '4', effective: Date.parse('2026-01-01T00:00:00Z') },
        { input: '5', output: '6', effective: Date.parse('2026-06-01T00:00:00Z') },
      ],
    };
    expect(priceAt(model, Date.parse('2025-12-31T23:59:59.999Z'))).toMatchObject({
      input: 1_000_000n,
      version: 0,
    });
    expect(priceAt(model, Date.parse('2026-01-01T00:00:00Z'))).toMatchObject({
      input: 3_000_000n,
      version: 1,
    });
    expect(priceAt(model, Date.parse('2030-01-01T00:00:00Z'))).toMatchObject({
      input: 5_000_000n,
      version: 2,
    });
    expect(priceAt({ price: [{ input: '1', output: '1', effective: 100 }] }, 99)).toBeUndefined();
    expect(priceAt({}, 0)).toBeUndefined();
    const book = createPriceBook({ m: model, free: {} });
    expect(book.at('m', Date.parse('2026-03-01'))).toMatchObject({ output: 4_000_000n });
    expect(book.at('free', 0)).toBeUndefined();
  });
});
