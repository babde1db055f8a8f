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
import {
  type Exclusive,
  exclusiveApplies,
  exclusiveOf,
  exclusiveReason,
  LICENCE_ENDED,
  NOT_YET_IN_FORCE,
  type RouteScope,
  type Skip,
  scopeExclusion,
} from './licence-scope.js';

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
  /** The request's API kind (licence `apis`); undefined: not checked. */
  api?: RouteScope['api'];
  /** The tenant's pinned regions; undefined: any region. */
  regions?: RouteScope['regions'];
  /** When given, every deployment left out is pushed here with its cause and reason. */
  skipped?: Skip[];
}

/** A routing strategy (`routing.strategy`, or a rule's `strategy`). */
export type RoutingStrategy = RoutingConfig['strategy'];

/** Orders deployments by policy: allowed by agreements, healthy first, then the strategy. */
export interface Policy {
  plan(input: PlanInput): Deployment[];
  /** Why a deployment is excluded now (licence, scope, residency), or undefined when allowed. */
  excluded(
    deployment: Deployment,
    now: number,
    all: Deployment[],
    scope?: RouteScope,
  ): string | undefined;
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
  const guard = deps.routing.coverageGuard;
  const exclusion = (
    deployment: Deployment,
    now: number,
    all: Deployment[],
    scope: RouteScope | undefined,
  ): Omit<Skip, 'deployment'> | undefined => {
    const license = deployment.partnerConfig?.license;
    if (license) {
      if (license.from !== undefined && now < license.from) return NOT_YET_IN_FORCE;
      if (license.until !== undefined && now >= license.until) return LICENCE_ENDED;
    }
    // Another partner's exclusive licence in force (for this API kind and region) keeps everyone else out.
    for (const other of exclusives(all)) {
      if (other.partner === deployment.partner) continue;
      if (exclusiveApplies(other, deployment, now, scope)) return exclusiveReason(other.partner);
    }
    return scopeExclusion(deployment, scope, guard);
  };
  const excluded = (
    deployment: Deployment,
    now: number,
    all: Deployment[],
    scope?: RouteScope,
  ): string | undefined => exclusion(deployment, now, all, scope)?.reason;

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
      const { model, now, skipped } = input;
      const healthy: Deployment[] = [];
      const unhealthy: Deployment[] = [];
      for (const deployment of model.deployments) {
        const why = exclusion(deployment, now, model.deployments, input);
        if (why !== undefined) {
          skipped?.push({ deployment, ...why });
          continue;
        }
        (deps.health.isAvailable(deployment.key) ? healthy : unhealthy).push(deployment);
      }
      // Commitments first: reserved capacity, then committed spend, then pay-as-you-go.
      const ordered = commitmentOrder(order(healthy, input), model.deployments, deps, now);
      // Unhealthy deployments stay at the end as a last resort rather than failing outright.
      return unhealthy.length === 0 ? ordered : [...ordered, ...order(unhealthy, input)];
    },
  };
}

/** Exclusive licences among a model's deployments, computed once per deployment list. */
const exclusiveCache = new WeakMap<Deployment[], Exclusive[]>();
function exclusives(all: Deployment[]): Exclusive[] {
  let found = exclusiveCache.get(all);
  if (!found) {
    found = [];
    for (const deployment of all) {
      const exclusive = exclusiveOf(deployment.partner, deployment.partnerConfig);
      if (exclusive && !found.some((item) => item.partner === deployment.partner))
        found.push(exclusive);
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
  // Keys in a typed array and a sort of indices: a comparator reading a Map cost ~5x more at
  // 50 deployments (bench/routing.ts).
  const count = deployments.length;
  const keys = new Float64Array(count);
  const order: number[] = new Array(count);
  for (let index = 0; index < count; index++) {
    keys[index] = Math.log(random()) / deployments[index]!.weight;
    order[index] = index;
  }
  order.sort((a, b) => keys[b]! - keys[a]!);
  const before = deployments.slice();
  for (let index = 0; index < count; index++) deployments[index] = before[order[index]!]!;
  return deployments;
}
