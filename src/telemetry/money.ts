import { createPriceBook, parsePrice, type ModelPrice, type PriceBook } from '../billing/prices.js';
import type { Catalog } from '../router/catalog.js';
import type { UsageEvent } from '../store/index.js';

/** Revenue (what the client is charged) and cost (what the cloud charges) of one request, USD. */
export interface Amounts {
  revenueUsd: number;
  costUsd: number;
}

/** Prices requests for metrics and roll-ups (floating USD: exact money lives in the ledger). */
export interface Pricer {
  price(event: UsageEvent): Amounts;
}

const PICOS_PER_USD = 1e12;
const ZERO: Amounts = Object.freeze({ revenueUsd: 0, costUsd: 0 });

/** A price in µUSD per 1M tokens as plain numbers (exact below 2^53 for any realistic request). */
interface NumberPrice {
  input: number;
  cachedInput: number;
  output: number;
  reasoning: number;
}

const numbers = (price: ModelPrice): NumberPrice => ({
  input: Number(price.input),
  cachedInput: Number(price.cachedInput),
  output: Number(price.output),
  reasoning: Number(price.reasoning),
});

/** Pico-USD of an event at a price, as billing's `costPicos` (cached input and reasoning at their own rates). */
function picos(event: UsageEvent, price: NumberPrice): number {
  const cached = Math.min(event.cachedInputTokens, event.inputTokens);
  const reasoning = Math.min(event.reasoningTokens, event.outputTokens);
  return (
    (event.inputTokens - cached) * price.input +
    cached * price.cachedInput +
    (event.outputTokens - reasoning) * price.output +
    reasoning * price.reasoning
  );
}

/**
 * Builds a pricer from the catalog: revenue from the model's `price` (as of the request's
 * time), cost from the serving deployment's `cost`. The last event's amounts are kept, since
 * metrics and roll-ups price the same event one after the other.
 */
export function createPricer(catalog: Catalog): Pricer {
  const prices: PriceBook = createPriceBook(
    Object.fromEntries(catalog.all().map((model) => [model.name, model.config])),
  );
  const revenue = new Map<ModelPrice, NumberPrice>();
  const costs = new Map<string, NumberPrice>();
  for (const model of catalog.all()) {
    for (const deployment of model.deployments) {
      if (deployment.config.cost)
        costs.set(
          `${model.name}\u0001${deployment.provider}`,
          numbers(parsePrice(deployment.config.cost)),
        );
    }
  }
  let lastEvent: UsageEvent | undefined;
  let lastAmounts: Amounts = ZERO;
  return {
    price(event) {
      if (event === lastEvent) return lastAmounts;
      lastEvent = event;
      if (event.model === null || (event.inputTokens === 0 && event.outputTokens === 0))
        return (lastAmounts = ZERO);
      const price = prices.at(event.model, event.createdAt);
      let revenuePrice = price && revenue.get(price);
      if (price && !revenuePrice) revenue.set(price, (revenuePrice = numbers(price)));
      const cost =
        event.deployment === null
          ? undefined
          : costs.get(`${event.model}\u0001${event.deployment}`);
      return (lastAmounts = {
        revenueUsd: revenuePrice ? picos(event, revenuePrice) / PICOS_PER_USD : 0,
        costUsd: cost ? picos(event, cost) / PICOS_PER_USD : 0,
      });
    },
  };
}
