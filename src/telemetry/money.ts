import { costPicos, createPriceBook, parsePrice, type ModelPrice, type PriceBook } from '../billing/prices.js';
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

/**
 * Builds a pricer from the catalog: revenue from the model's `price` (as of the request's
 * time), cost from the serving deployment's `cost`.
 */
export function createPricer(catalog: Catalog): Pricer {
  const prices: PriceBook = createPriceBook(Object.fromEntries(catalog.all().map((model) => [model.name, model.config])));
  const costs = new Map<string, ModelPrice>();
  for (const model of catalog.all()) {
    for (const deployment of model.deployments) {
      if (deployment.config.cost) costs.set(`${model.name}\u0001${deployment.provider}`, parsePrice(deployment.config.cost));
    }
  }
  return {
    price(event) {
      if (event.model === null || (event.inputTokens === 0 && event.outputTokens === 0)) return ZERO;
      const price = prices.at(event.model, event.createdAt);
      const cost = event.deployment === null ? undefined : costs.get(`${event.model}\u0001${event.deployment}`);
      return {
        revenueUsd: price ? Number(costPicos(event, price)) / PICOS_PER_USD : 0,
        costUsd: cost ? Number(costPicos(event, cost)) / PICOS_PER_USD : 0,
      };
    },
  };
}
