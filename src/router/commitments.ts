import type { GatewayCall } from '../providers/index.js';
import type { Deployment } from './catalog.js';

/**
 * Commitments in routing (issue 18 item 3): reserved capacity (`reservedTpm` on a deployment,
 * PTU-like) is filled first, then deployments of partners whose committed spend for the period
 * is not yet consumed, then pay-as-you-go. A reserved deployment whose tokens-per-minute are
 * used up, or whose upstream just answered 429, goes to the end of the plan (a last resort)
 * until its window frees. Everything here is synchronous over in-process state: the counters
 * shared across replicas are read by the executor ({@link ReservedCapacity.take}), never by
 * `plan()`.
 */

/** A call as the executor holds it (no deployment chosen yet). */
export type CapacityCall = Omit<GatewayCall, 'deployment'>;

/** Reserved capacity as the router sees it (implemented in wiring/commitments.ts). */
export interface ReservedCapacity {
  /** Whether the deployment's reserved capacity is known to be used up at `now` (this replica's view). */
  full(key: string, now: number): boolean;
  /**
   * Takes the call's estimated tokens from the deployment's per-minute window (exact across
   * replicas with Redis). False when they do not fit: the call spills to pay-as-you-go. Never
   * rejects (a failing counter answers true: the upstream stays the judge).
   */
  take(deployment: Deployment, call: CapacityCall): Promise<boolean>;
  /** The upstream refused with 429: used up until `until` (epoch ms). */
  exhausted(key: string, until: number): void;
}

/** Partners whose committed spend for the current period is not yet consumed (a cache refreshed in the background). */
export interface CommitmentView {
  open(partner: string): boolean;
}

/** What {@link commitmentOrder} reads. */
export interface CommitmentSources {
  capacity?: ReservedCapacity | undefined;
  commitments?: CommitmentView | undefined;
}

/** Whether any deployment of the list has reserved capacity or a partner commitment (cached per list). */
const relevant = new WeakMap<Deployment[], boolean>();
function hasCommitments(all: Deployment[]): boolean {
  let found = relevant.get(all);
  if (found === undefined) {
    found = all.some(
      (deployment) =>
        deployment.config.reservedTpm !== undefined ||
        deployment.partnerConfig?.commitment !== undefined,
    );
    relevant.set(all, found);
  }
  return found;
}

/**
 * Reorders an ordered plan (stable inside each group): reserved capacity with room, then
 * deployments of partners with an open commitment, then the rest, then reserved capacity known
 * to be full. `all` is the model's deployment list (the cache key); `ordered` is returned as is
 * when nothing in it has a commitment.
 */
export function commitmentOrder(
  ordered: Deployment[],
  all: Deployment[],
  sources: CommitmentSources,
  now: number,
): Deployment[] {
  if (ordered.length < 2 || !hasCommitments(all)) return ordered;
  const reserved: Deployment[] = [];
  const committed: Deployment[] = [];
  const payg: Deployment[] = [];
  const full: Deployment[] = [];
  for (const deployment of ordered) {
    if (deployment.config.reservedTpm !== undefined) {
      (sources.capacity?.full(deployment.key, now) ? full : reserved).push(deployment);
    } else if (
      deployment.partner !== null &&
      deployment.partnerConfig?.commitment !== undefined &&
      sources.commitments?.open(deployment.partner) !== false
    ) {
      committed.push(deployment);
    } else payg.push(deployment);
  }
  return [...reserved, ...committed, ...payg, ...full];
}

/** Whether a failed attempt is reserved capacity saying "full" (429 rate limit): spill, not a failure. */
export function isReservedSpill(
  deployment: Deployment,
  status: number | undefined,
  code: string,
): boolean {
  return (
    deployment.config.reservedTpm !== undefined &&
    status === 429 &&
    code === 'upstream_rate_limited'
  );
}
