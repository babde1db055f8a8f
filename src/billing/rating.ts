import { createHash } from 'node:crypto';
import type { Config } from '../config/index.js';
import type { Usage } from '../core/usage.js';
import type { UsageEvent } from '../store/index.js';
import { costMicros, createPriceBook, type ModelPrice, parsePrice } from './prices.js';

/**
 * Rating: what a usage event earns (the model's customer price at the request's start) and what
 * it cost upstream (the serving deployment's `cost`). Both are rounded once per event, half to
 * even, so neither side drifts over many events.
 */

/** The money side of one usage event. */
export interface Rating {
  /** What the customer pays, µUSD. */
  revenue: bigint;
  /** What the cloud charges, µUSD (0 when the deployment has no `cost`). */
  cost: bigint;
  /** Index of the price version used, or null when the model has no price. */
  priceVersion: number | null;
}

/** Prices usage events against the config's `models.*.price` and `deployments[].cost`. */
export interface Rater {
  rate(event: UsageEvent): Rating;
}

/** Builds a {@link Rater} over `config.models`; prices are parsed once. */
export function createRater(config: Pick<Config, 'models'>): Rater {
  const book = createPriceBook(config.models);
  const costs = new Map<string, ModelPrice>();
  for (const [name, model] of Object.entries(config.models)) {
    for (const deployment of model.deployments) {
      if (!deployment.cost) continue;
      const price = parsePrice(deployment.cost);
      costs.set(costKey(name, deployment.provider, deployment.model), price);
      // The first deployment on a provider also answers when the upstream model is unknown.
      if (!costs.has(costKey(name, deployment.provider, null)))
        costs.set(costKey(name, deployment.provider, null), price);
    }
  }
  return {
    rate(event) {
      if (!billable(event) || event.model === null)
        return { revenue: 0n, cost: 0n, priceVersion: null };
      const usage = usageOf(event);
      const price = book.at(event.model, event.createdAt);
      const costPrice =
        event.deployment === null
          ? undefined
          : (costs.get(costKey(event.model, event.deployment, event.upstreamModel)) ??
            costs.get(costKey(event.model, event.deployment, null)));
      const applies =
        costPrice !== undefined &&
        (costPrice.effective === undefined || costPrice.effective <= event.createdAt);
      return {
        revenue: price ? costMicros(usage, price, 'half-even') : 0n,
        cost: applies ? costMicros(usage, costPrice, 'half-even') : 0n,
        priceVersion: price ? price.version : null,
      };
    },
  };
}

/** True when the event used any tokens. Failed requests without tokens post nothing. */
export function billable(event: UsageEvent): boolean {
  return (
    event.inputTokens > 0 ||
    event.outputTokens > 0 ||
    event.cachedInputTokens > 0 ||
    event.reasoningTokens > 0
  );
}

/**
 * SHA-256 of the billing-relevant fields of an event: identity, time, attribution, tokens and
 * status. Latency and logs are left out, so a retried write of the same request matches.
 */
export function payloadHash(event: UsageEvent): string {
  const fields = [
    event.requestId,
    event.createdAt,
    event.tenantId,
    event.projectId,
    event.keyId,
    event.model,
    event.deployment,
    event.partner,
    event.inputTokens,
    event.cachedInputTokens,
    event.outputTokens,
    event.reasoningTokens,
    event.status,
  ];
  // Cache writes joined the hash later: appended only when present, so the hashes of events
  // without them (every event recorded before) are unchanged.
  if (event.cacheWriteTokens || event.cacheWrite1hTokens)
    fields.push(event.cacheWriteTokens ?? 0, event.cacheWrite1hTokens ?? 0);
  return createHash('sha256').update(JSON.stringify(fields)).digest('hex');
}

function usageOf(event: UsageEvent): Usage {
  return {
    inputTokens: event.inputTokens,
    cachedInputTokens: event.cachedInputTokens,
    outputTokens: event.outputTokens,
    reasoningTokens: event.reasoningTokens,
    ...(event.cacheWriteTokens && { cacheWriteTokens: event.cacheWriteTokens }),
    ...(event.cacheWrite1hTokens && { cacheWrite1hTokens: event.cacheWrite1hTokens }),
  };
}

function costKey(model: string, provider: string, upstream: string | null): string {
  return `${model}\u0000${provider}\u0000${upstream ?? ''}`;
}
