import type { RoutingConfig } from '../config/index.js';
import type { CatalogModel, Deployment } from './catalog.js';
import type { HealthTracker } from './health.js';

/** Inputs to ordering a model's deployments. */
export interface PlanInput {
  model: CatalogModel;
  /** Request time, epoch ms (licence windows are checked against it). */
  now: number;
}

/** Orders deployments by policy: allowed by agreements, healthy first, then the strategy. */
export interface Policy {
  plan(input: PlanInput): Deployment[];
  /** Why a deployment is excluded now (licence), or undefined when allowed. */
  excluded(deployment: Deployment, now: number, all: Deployment[]): string | undefined;
}

/** Options of the policy. */
export interface PolicyDeps {
  routing: RoutingConfig;
  health: HealthTracker;
  /** Random source in [0,1) for weighted choice (tests inject a fixed one). */
  random?: () => number;
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
    for (const other of all) {
      const otherLicense = other.partnerConfig?.license;
      if (other.partner === deployment.partner || !otherLicense?.exclusive) continue;
      const inForce = (otherLicense.from === undefined || now >= otherLicense.from) && (otherLicense.until === undefined || now < otherLicense.until);
      if (inForce) return `exclusive licence of ${other.partner}`;
    }
    return undefined;
  };

  const order = (deployments: Deployment[]): Deployment[] => {
    switch (deps.routing.strategy) {
      case 'weighted':
        return weightedShuffle(deployments, random);
      case 'least-latency':
        return [...deployments].sort((a, b) => latency(deps.health, a) - latency(deps.health, b) || a.index - b.index);
      case 'lowest-cost':
        return [...deployments].sort((a, b) => cost(a) - cost(b) || a.index - b.index);
      default:
        return [...deployments].sort((a, b) => primaryRank(a) - primaryRank(b) || a.index - b.index);
    }
  };

  return {
    excluded,
    plan({ model, now }) {
      const allowed = model.deployments.filter((deployment) => excluded(deployment, now, model.deployments) === undefined);
      const healthy = allowed.filter((deployment) => deps.health.isAvailable(deployment.key));
      const unhealthy = allowed.filter((deployment) => !deps.health.isAvailable(deployment.key));
      // Unhealthy deployments stay at the end as a last resort rather than failing outright.
      return [...order(healthy), ...order(unhealthy)];
    },
  };
}

function primaryRank(deployment: Deployment): number {
  return deployment.partnerConfig?.primary ? 0 : 1;
}

function latency(health: HealthTracker, deployment: Deployment): number {
  return health.get(deployment.key).ttfbMs ?? 0;
}

function cost(deployment: Deployment): number {
  const price = deployment.config.cost;
  return price ? Number(price.input) + Number(price.output) : Number.MAX_SAFE_INTEGER;
}

/** Weighted random order without replacement (Efraimidis–Spirakis keys). */
function weightedShuffle(deployments: Deployment[], random: () => number): Deployment[] {
  return deployments
    .map((deployment) => ({ deployment, key: Math.pow(random(), 1 / deployment.weight) }))
    .sort((a, b) => b.key - a.key)
    .map((entry) => entry.deployment);
}
