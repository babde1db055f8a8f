import {
  type AccrualCache,
  createNetCostSource,
  type MarginFigure,
  marginalShare,
} from '../billing/net-cost.js';
import type { ApiKind, Config } from '../config/index.js';
import type { SurfaceName } from '../core/surface.js';
import { createCatalog, type Deployment } from '../router/catalog.js';
import { createHealthTracker } from '../router/health.js';
import { createPolicy } from '../router/policy.js';
import type { UsageEvent } from '../store/index.js';
import type { DryLedger } from './dry-ledger.js';

/**
 * Dry-run routing: which deployment would have served a stored request under a config.
 *
 * The rule: the request goes to the first deployment of `Policy.plan()` at the request's own
 * time (licence windows, exclusivity and the strategy of that config), with every deployment
 * healthy except the ones this very request saw fail (its attempt log), which are skipped, as
 * the executor would have failed over past them. Weighted order draws from a generator seeded
 * by the request id, so a replay is reproducible. No deployment left means refused.
 *
 * Licence scope and residency apply as in the gateway: the request's API kind comes from its
 * surface (a stored row does not say whether a `/v1/responses` call kept state, so it counts as
 * `stateful`, the gateway's own default for that surface) and the tenant's pinned `regions` from
 * the alternative config. Under `lowest-net-cost` the revenue share at the margin is read from
 * the alternative's dry ledger as the replay goes (caps reached in time order), and the expected
 * tokens are the row's real ones (the live router estimated them from the request).
 */

/** The API kind (licence `apis`) of a stored request, from the surface it arrived on. */
export function apiKindOfSurface(surface: string): ApiKind {
  switch (surface as SurfaceName) {
    case 'openai-embeddings':
      return 'embeddings';
    case 'openai-responses':
      return 'stateful';
    default:
      return 'chat';
  }
}

/** Where a replayed request goes: a deployment, or refused (none allowed or all failed). */
export type RouteChoice = Deployment | null;

/** Chooses deployments for stored requests under `config`. */
export type Chooser = (event: UsageEvent) => RouteChoice;

/** Builds a {@link Chooser} from `config` with `createCatalog` and `createPolicy`, as the gateway does. */
export function createChooser(config: Config, ledger?: DryLedger): Chooser {
  const catalog = createCatalog(config);
  // No clock reads matter: nothing is ever recorded on this tracker, so all are healthy.
  const health = createHealthTracker(() => 0);
  let draw = seeded('');
  const policy = createPolicy({
    routing: config.routing,
    health,
    random: () => draw(),
    ...(ledger && { netCost: createNetCostSource(config, dryAccruals(ledger)) }),
  });
  return (event) => {
    if (event.model === null) return null;
    const model = catalog.get(event.model);
    if (!model) return null;
    if (config.routing.strategy === 'weighted') draw = seeded(event.requestId);
    const plan = policy.plan({
      model,
      now: event.createdAt,
      api: apiKindOfSurface(event.surface),
      regions: config.tenants[event.tenantId]?.regions,
      estimate: {
        inputTokens: event.inputTokens,
        outputTokens: event.outputTokens,
      },
    });
    if (event.attemptLog.length === 0) return plan[0] ?? null;
    const failed = new Set(
      event.attemptLog.filter((attempt) => attempt.errorClass !== null).map((a) => a.provider),
    );
    return plan.find((deployment) => !failed.has(deployment.provider)) ?? null;
  };
}

/** The share clauses of a dry ledger as `lowest-net-cost` reads them: live, from memory. */
function dryAccruals(ledger: DryLedger): AccrualCache {
  return {
    shares(sale, revenue) {
      const out: MarginFigure[] = [];
      for (const clause of ledger.stands()) {
        const figure = marginalShare(clause, sale, revenue);
        if (figure) out.push(figure);
      }
      return out;
    },
    apply() {},
    refresh: () => Promise.resolve(),
    start() {},
    stop() {},
    loadedAt: 0,
  };
}

/** A deterministic generator in [0, 1) seeded by a string (FNV-1a into mulberry32). */
function seeded(seed: string): () => number {
  let state = 0x811c9dc5;
  for (let index = 0; index < seed.length; index += 1)
    state = Math.imul(state ^ seed.charCodeAt(index), 0x01000193);
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let value = Math.imul(state ^ (state >>> 15), 1 | state);
    value = (value + Math.imul(value ^ (value >>> 7), 61 | value)) ^ value;
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
}
