import { scaledToDecimal } from '../core/money.js';
import type { Deployment } from './catalog.js';

/**
 * `lowest-net-cost` ordering: what serving one request on a deployment really costs the
 * operator, the cloud's price for the request's expected tokens plus the revenue share that
 * request adds at the margin (the partner's rate until its cap is reached, zero after it, zero
 * outside the share's window). Live figures come from an injected {@link NetCostSource}
 * (implemented by billing over the ledger's clause totals, refreshed in the background), so
 * ordering never waits on the store and the router never imports billing.
 *
 * Money is integer µUSD (bigint) throughout.
 */

/** Tokens a request is expected to use. */
export interface TokenEstimate {
  inputTokens: number;
  /** The request's output limit, else the model's `maxOutputTokens`, else {@link DEFAULT_OUTPUT_TOKENS}. */
  outputTokens: number;
}

/** Output tokens assumed when neither the request nor the model sets a limit. */
export const DEFAULT_OUTPUT_TOKENS = 1024;

/** The estimate the routing view uses when there is no request: 1,000 tokens in, 1,000 out. */
export const REFERENCE_ESTIMATE: TokenEstimate = { inputTokens: 1000, outputTokens: 1000 };

/** Where a revenue-share clause stands for one more sale. */
export type ShareState =
  /** In its window, below its cap: the sale adds `rate × revenue`. */
  | 'rate'
  /** The sale reaches the cap: it adds only what is left below it. */
  | 'reaches-cap'
  /** The cap is reached: the sale adds nothing. */
  | 'cap-reached'
  /** The sale's time is before the clause's `from`: nothing. */
  | 'before-window'
  /** The sale's time is at or after the clause's `until`: nothing. */
  | 'after-window';

/** One clause's part of a deployment's marginal share. */
export interface ShareFigure {
  clause: string;
  partner: string;
  /** Parts per million. */
  ratePpm: bigint;
  /** µUSD; null = no cap. */
  cap: bigint | null;
  /** The clause's running totals as last read (µUSD). */
  basis: bigint;
  accrued: bigint;
  /** Share this sale would add, µUSD. */
  share: bigint;
  state: ShareState;
}

/** A sale as a revenue-share clause sees it. */
export interface NetCostSale {
  partner: string | null;
  /** Provider id (cloud) that would serve. */
  deployment: string;
  model: string;
  at: number;
}

/**
 * Live money figures for ordering; every call is synchronous and answered from memory
 * (billing keeps it current from the shared store, see src/billing/net-cost.ts).
 */
export interface NetCostSource {
  /** What the cloud charges for `estimate` on `deployment`, µUSD; undefined when it has no `cost`. */
  cloudCost(
    model: string,
    deployment: { provider: string; upstreamModel: string },
    estimate: TokenEstimate,
    at: number,
  ): bigint | undefined;
  /** What the customer pays for `estimate` on `model`, µUSD (0 when it has no price). */
  revenue(model: string, estimate: TokenEstimate, at: number): bigint;
  /** The share clauses that would count `sale` (and the partner's clauses out of window). */
  shares(sale: NetCostSale, revenue: bigint): ShareFigure[];
}

/** The figures behind one deployment's place in a `lowest-net-cost` order. */
export interface NetCostFigure {
  deployment: string;
  estimate: TokenEstimate;
  /** Cloud price, µUSD; null when the deployment has no `cost` (it then goes last). */
  cloud: bigint | null;
  /** Customer price of the request, µUSD (the basis the share is taken from). */
  revenue: bigint;
  /** Marginal share owed, µUSD (sum over `clauses`). */
  share: bigint;
  /** cloud + share, µUSD; null when the cloud price is unknown. */
  net: bigint | null;
  clauses: ShareFigure[];
}

/** The figures of each deployment of `model` for `estimate` at `at`, keyed by deployment key. */
export function netCostFigures(
  source: NetCostSource | undefined,
  deployments: readonly Deployment[],
  estimate: TokenEstimate,
  at: number,
  into: Map<string, NetCostFigure> = new Map(),
): Map<string, NetCostFigure> {
  const model = deployments[0]?.model;
  if (model === undefined) return into;
  const revenue = source ? source.revenue(model, estimate, at) : 0n;
  for (const deployment of deployments) {
    const cloud = source?.cloudCost(model, deployment, estimate, at);
    const clauses = source
      ? source.shares(
          { partner: deployment.partner, deployment: deployment.provider, model, at },
          revenue,
        )
      : [];
    let share = 0n;
    for (const clause of clauses) share += clause.share;
    into.set(deployment.key, {
      deployment: deployment.key,
      estimate,
      cloud: cloud ?? null,
      revenue,
      share,
      net: cloud === undefined ? null : cloud + share,
      clauses,
    });
  }
  return into;
}

/**
 * Orders `deployments` (in place) by net cost, cheapest first; deployments without a cloud
 * price go last; ties keep the primary partner first, then config order. Fills `figures`.
 */
export function orderByNetCost(
  deployments: Deployment[],
  source: NetCostSource | undefined,
  estimate: TokenEstimate,
  at: number,
  figures: Map<string, NetCostFigure> = new Map(),
): Deployment[] {
  netCostFigures(source, deployments, estimate, at, figures);
  const ranked = deployments.map((deployment) => ({
    deployment,
    net: figures.get(deployment.key)!.net,
  }));
  ranked.sort(byNet);
  for (let index = 0; index < ranked.length; index++)
    deployments[index] = ranked[index]!.deployment;
  return deployments;
}

/** Cheapest net first, unknown cloud price last; ties: primary partner first, then config order. */
function byNet(
  a: { deployment: Deployment; net: bigint | null },
  b: { deployment: Deployment; net: bigint | null },
): number {
  if (a.net !== b.net) {
    if (a.net === null) return 1;
    if (b.net === null) return -1;
    return a.net < b.net ? -1 : 1;
  }
  return (
    a.deployment.primaryRank - b.deployment.primaryRank || a.deployment.index - b.deployment.index
  );
}

/** µUSD as a decimal USD string: 1234n → "0.001234". */
export function microsToUsd(micros: bigint): string {
  return scaledToDecimal(micros, 6);
}

/**
 * The `x-switchyard-net-costs` header: every ranked deployment in order,
 * `key;net=…;cloud=…;share=…;state=…` joined by `, ` (USD; `state` lists each clause's state).
 */
export function netCostHeader(
  order: readonly string[],
  figures: Map<string, NetCostFigure>,
): string {
  const parts: string[] = [];
  for (const key of order) {
    const figure = figures.get(key);
    if (!figure) continue;
    const states = figure.clauses.map((clause) => `${clause.partner}:${clause.state}`).join('+');
    parts.push(
      `${key};net=${figure.net === null ? 'unknown' : microsToUsd(figure.net)};cloud=${
        figure.cloud === null ? 'unknown' : microsToUsd(figure.cloud)
      };share=${microsToUsd(figure.share)};state=${states || 'none'}`,
    );
  }
  return parts.join(', ');
}
