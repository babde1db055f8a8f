import type { RoutingConfig } from '../config/index.js';
import type { CatalogModel, Deployment } from './catalog.js';
import { type CommitmentView, commitmentOrder, type ReservedCapacity } from './commitments.js';
import type { HealthTracker } from './health.js';
import {
  type NetCostFigure,
  type NetCostSource,
  netCostFigures,
  orderByNetCost,
  REFERENCE_ESTIMATE,
  type TokenEstimate,
} from './net-cost.js';

/** Inputs to ordering a model's deployments. */
export interface PlanInput {
  model: CatalogModel;
  /** Request time, epoch ms (licence windows are checked against it). */
  now: number;
  /** The strategy a routing rule chose for this request; default `routing.strategy`. */
  strategy?: RoutingStrategy | undefined;
  /** Expected tokens of the request (`lowest-net-cost`); default {@link REFERENCE_ESTIMATE}. */
  estimate?: TokenEstimate | undefined;
  /** Filled with the figures behind a `lowest-net-cost` order, per deployment key. */
  figures?: Map<string, NetCostFigure> | undefined;
}

/** A routing strategy (`routing.strategy`, or a rule's `strategy`). */
export type RoutingStrategy = RoutingConfig['strategy'];

/** Orders deployments by policy: allowed by agreements, healthy first, then the strategy. */
export interface Policy {
  plan(input: PlanInput): Deployment[];
  /** Why a deployment is excluded now (licence), or undefined when allowed. */
  excluded(deployment: Deployment, now: number, all: Deployment[]): string | undefined;
  /** The net-cost figures of every deployment of `model` (the routing view shows them). */
  netCosts(model: CatalogModel, now: number, estimate?: TokenEstimate): Map<string, NetCostFigure>;
}

/** Options of the policy. */
export interface PolicyDeps {
  routing: RoutingConfig;
  health: HealthTracker;
  /** Random source in [0,1) for weighted choice (tests inject a fixed one). */
  random?: () => number;
  /** Live prices and share accruals for `lowest-net-cost` (billing's, see wiring/router.ts). */
  netCost?: NetCostSource | undefined;
  /** Reserved capacity's local view: a full deployment goes last (router/commitments.ts). */
  capacity?: ReservedCapacity | undefined;
  /** Partners with committed spend left this period: their deployments before pay-as-you-go. */
  commitments?: CommitmentView | undefined;
}

/** Creates the routing policy. */
export function createPolicy(deps: PolicyDeps): Policy {
  const random = deps.random ?? Math.random;
  const excluded = (deployment: Deployment, now: number, all: Deployment[]): string | undefined => {
    const license = deployment.partnerConfig?.license;
    if (license) {
      if (license.from !== undefined && now < license.from) return 'licence not yet in force';
      if (license.until !== undefined && now >= license.until) return 'licence ended';
    }
    // Another partner's exclusive licence in force keeps everyone else out.
    for (const other of exclusives(all)) {
      if (other.partner === deployment.partner) continue;
      const inForce =
        (other.from === undefined || now >= other.from) &&
        (other.until === undefined || now < other.until);
      if (inForce) return `exclusive licence of ${other.partner}`;
    }
    return undefined;
  };

  /** Orders in place (callers pass fresh arrays). */
  const order = (deployments: Deployment[], input: PlanInput): Deployment[] => {
    switch (input.strategy ?? deps.routing.strategy) {
      case 'lowest-net-cost':
        return orderByNetCost(
          deployments,
          deps.netCost,
          input.estimate ?? REFERENCE_ESTIMATE,
          input.now,
          input.figures,
        );
      case 'weighted':
        return weightedShuffle(deployments, random);
      case 'least-latency':
        return deployments.sort(
          (a, b) => latency(deps.health, a) - latency(deps.health, b) || a.index - b.index,
        );
      case 'lowest-cost':
        return deployments.sort((a, b) => a.costRank - b.costRank || a.index - b.index);
      default:
        return deployments.sort((a, b) => a.primaryRank - b.primaryRank || a.index - b.index);
    }
  };

  return {
    excluded,
    netCosts: (model, now, estimate = REFERENCE_ESTIMATE) =>
      netCostFigures(deps.netCost, model.deployments, estimate, now),
    plan(input) {
      const { model, now } = input;
      const healthy: Deployment[] = [];
      const unhealthy: Deployment[] = [];
      for (const deployment of model.deployments) {
        if (excluded(deployment, now, model.deployments) !== undefined) continue;
        (deps.health.isAvailable(deployment.key) ? healthy : unhealthy).push(deployment);
      }
      // Commitments first: reserved capacity, then committed spend, then pay-as-you-go.
      const ordered = commitmentOrder(order(healthy, input), model.deployments, deps, now);
      // Unhealthy deployments stay at the end as a last resort rather than failing outright.
      return unhealthy.length === 0 ? ordered : [...ordered, ...order(unhealthy, input)];
    },
  };
}

interface Exclusive {
  partner: string | null;
  from: number | undefined;
  until: number | undefined;
}

/** Exclusive licences among a model's deployments, computed once per deployment list. */
const exclusiveCache = new WeakMap<Deployment[], Exclusive[]>();
function exclusives(all: Deployment[]): Exclusive[] {
  let found = exclusiveCache.get(all);
  if (!found) {
    found = [];
    for (const deployment of all) {
      const license = deployment.partnerConfig?.license;
      if (license?.exclusive && !found.some((item) => item.partner === deployment.partner))
        found.push({ partner: deployment.partner, from: license.from, until: license.until });
    }
    exclusiveCache.set(all, found);
  }
  return found;
}

function latency(health: HealthTracker, deployment: Deployment): number {
  return health.get(deployment.key).ttfbMs ?? 0;
}

/** Weighted random order without replacement (Efraimidis–Spirakis keys). */
function weightedShuffle(deployments: Deployment[], random: () => number): Deployment[] {
  const keys = new Map<Deployment, number>();
  for (const deployment of deployments)
    keys.set(deployment, Math.log(random()) / deployment.weight);
  return deployments.sort((a, b) => keys.get(b)! - keys.get(a)!);
}
