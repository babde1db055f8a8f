import type { ModelConfig, TokenPrice } from '../config/index.js';
import { decimalToScaled } from '../core/money.js';
import type { Usage } from '../core/usage.js';

/**
 * Token prices and exact costs.
 *
 * Config prices are decimal USD per 1M tokens (`"0.15"`). In code they are integers: µUSD per 1M
 * tokens (`150000n`), so a price has at most six decimal places. A cost is then
 * `tokens × price / 1_000_000` µUSD. The product `tokens × price` is exact in pico-USD (10⁻¹² USD);
 * only the final division by 10⁶ rounds, once per cost, by the rule the caller names:
 *
 * - `up` (default): any fraction of a µUSD is charged as a whole one. Budget reservations and
 *   budget spend use it, so a reservation for N tokens is never below the cost of N tokens and a
 *   budget never undercounts.
 * - `down`: fractions are dropped.
 * - `half-even`: banker's rounding, for ledgers that must not drift over many events.
 */

/** A model price resolved to integers: µUSD per 1M tokens. */
export interface ModelPrice {
  input: bigint;
  /** Cached input tokens; defaults to `input`. */
  cachedInput: bigint;
  output: bigint;
  /** Reasoning tokens; defaults to `output`. */
  reasoning: bigint;
  /** Input tokens written to a prompt cache (5-minute writes); defaults to `input`. */
  cacheWrite: bigint;
  /** Input tokens written to a one-hour prompt cache; defaults to `cacheWrite`. */
  cacheWrite1h: bigint;
  /** Epoch ms from which this version applies; undefined = since forever. */
  effective: number | undefined;
  /** Index of this version in the model's `price` list (0 for a single price). */
  version: number;
}

/** How {@link costMicros} rounds a fractional µUSD. */
export type Rounding = 'up' | 'down' | 'half-even';

const PER_MILLION = 1_000_000n;

/** Parses one config price (decimal USD per 1M tokens) into µUSD per 1M tokens. */
export function parsePrice(price: TokenPrice, version = 0): ModelPrice {
  const input = decimalToScaled(price.input, 6);
  const output = decimalToScaled(price.output, 6);
  const cacheWrite = price.cacheWrite === undefined ? input : decimalToScaled(price.cacheWrite, 6);
  return {
    input,
    cachedInput: price.cachedInput === undefined ? input : decimalToScaled(price.cachedInput, 6),
    output,
    reasoning: price.reasoning === undefined ? output : decimalToScaled(price.reasoning, 6),
    cacheWrite,
    cacheWrite1h:
      price.cacheWrite1h === undefined ? cacheWrite : decimalToScaled(price.cacheWrite1h, 6),
    effective: price.effective,
    version,
  };
}

/**
 * The price of a model at an instant: of the versions whose `effective` is at or before `at`
 * (a version without `effective` applies from the start of time), the one that started last; on
 * a tie, the later entry in the list. Undefined when the model has no price or none applies yet.
 *
 * @example priceAt(config.models['gpt-4o-mini'], Date.parse('2026-01-01'))
 */
export function priceAt(
  model: Pick<ModelConfig, 'price'> | undefined,
  at: number,
): ModelPrice | undefined {
  const price = model?.price;
  if (price === undefined) return undefined;
  const versions = Array.isArray(price) ? price : [price];
  let best: { price: TokenPrice; index: number; from: number } | undefined;
  versions.forEach((version, index) => {
    const from = version.effective ?? Number.NEGATIVE_INFINITY;
    if (from > at) return;
    if (!best || from >= best.from) best = { price: version, index, from };
  });
  return best && parsePrice(best.price, best.index);
}

/** A price lookup with parsed versions cached per model, for the hot path. */
export interface PriceBook {
  /** The price of `model` at `at` (epoch ms), or undefined when it has none. */
  at(model: string, at: number): ModelPrice | undefined;
}

/** Builds a {@link PriceBook} over `models` (the `models:` section of the config). */
export function createPriceBook(models: Record<string, Pick<ModelConfig, 'price'>>): PriceBook {
  const parsed = new Map<string, ModelPrice[]>();
  for (const [name, model] of Object.entries(models)) {
    if (model.price === undefined) continue;
    const list = Array.isArray(model.price) ? model.price : [model.price];
    parsed.set(
      name,
      list.map((price, index) => parsePrice(price, index)),
    );
  }
  return {
    at(model, at) {
      const versions = parsed.get(model);
      if (!versions) return undefined;
      let best: ModelPrice | undefined;
      for (const version of versions) {
        const from = version.effective ?? Number.NEGATIVE_INFINITY;
        if (from <= at && (!best || from >= (best.effective ?? Number.NEGATIVE_INFINITY)))
          best = version;
      }
      return best;
    },
  };
}

/**
 * Exact cost of `usage` in pico-USD (µUSD × 10⁻⁶): no rounding at all. `inputTokens` includes
 * `cachedInputTokens` (cache reads) and `cacheWriteTokens` (cache writes, of which
 * `cacheWrite1hTokens` were one-hour writes), and `outputTokens` includes `reasoningTokens` (see
 * core/usage.ts), so each token is priced once, at its own rate. Counts that claim more than
 * their total are capped to it, so a malformed usage block can never price a token twice.
 */
export function costPicos(usage: Usage, price: ModelPrice): bigint {
  const total = usage.inputTokens;
  const cachedTokens = Math.min(usage.cachedInputTokens, total);
  const writeTokens = Math.min(usage.cacheWriteTokens ?? 0, total - cachedTokens);
  const hourTokens = Math.min(usage.cacheWrite1hTokens ?? 0, writeTokens);
  const reasoning = BigInt(Math.min(usage.reasoningTokens, usage.outputTokens));
  const input = BigInt(total - cachedTokens - writeTokens);
  const output = BigInt(usage.outputTokens) - reasoning;
  return (
    input * price.input +
    BigInt(cachedTokens) * price.cachedInput +
    BigInt(writeTokens - hourTokens) * price.cacheWrite +
    BigInt(hourTokens) * price.cacheWrite1h +
    output * price.output +
    reasoning * price.reasoning
  );
}

/**
 * Cost of `usage` in µUSD, rounded once by `rounding` (default `up`).
 * @example costMicros({ inputTokens: 1000, cachedInputTokens: 0, outputTokens: 0, reasoningTokens: 0 }, parsePrice({ input: '0.15', output: '0.60' })) === 150n
 */
export function costMicros(usage: Usage, price: ModelPrice, rounding: Rounding = 'up'): bigint {
  return divide(costPicos(usage, price), PER_MILLION, rounding);
}

/** `numerator / denominator` for non-negative integers, rounded as asked. */
export function divide(numerator: bigint, denominator: bigint, rounding: Rounding): bigint {
  const quotient = numerator / denominator;
  const remainder = numerator % denominator;
  if (remainder === 0n) return quotient;
  if (rounding === 'up') return quotient + 1n;
  if (rounding === 'down') return quotient;
  const twice = remainder * 2n;
  if (twice > denominator || (twice === denominator && quotient % 2n === 1n)) return quotient + 1n;
  return quotient;
}
