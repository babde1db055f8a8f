import type { ApiKind, PartnerConfig } from '../config/index.js';
import type { Deployment } from './catalog.js';

/**
 * Licences scoped by API kind and region, tenant residency and the coverage guard (issue 18,
 * items 1 and 5): the checks `Policy.excluded` adds to the licence window and exclusivity.
 * Everything here is pure over config already resolved into the catalog, so a routing
 * decision never waits on the store.
 */

/** What a request brings to routing beyond the model: its API kind and the tenant's regions. */
export interface RouteScope {
  /** The request's API kind (see docs/routing.md#api-kinds). Undefined: not checked. */
  api?: ApiKind | undefined;
  /** Regions the tenant is pinned to (config `tenants.<id>.regions`). Undefined: any region. */
  regions?: readonly string[] | undefined;
}

/** Why a deployment was left out, by cause: the executor picks its error from the causes. */
export type SkipCause = 'window' | 'exclusive' | 'licence' | 'agreement' | 'region';

/** One deployment the policy left out of a plan, and why. */
export interface Skip {
  deployment: Deployment;
  cause: SkipCause;
  reason: string;
}

/** A request served where no agreement is in force (coverage guard `alert`). */
export interface AgreementGap {
  model: string;
  partner: string;
  /** Provider id of the deployment that served. */
  deployment: string;
  api: ApiKind;
  region: string | null;
  /** Epoch ms. */
  at: number;
}

/** What `routing.coverageGuard` does with a deployment whose partner has no licence for the model. */
export type CoverageGuard = 'refuse' | 'alert' | 'off';

/** True when `region` is one of `patterns` (exact, or a prefix ending in `*`). Allocates nothing. */
export function regionMatches(patterns: readonly string[], region: string): boolean {
  for (const pattern of patterns) if (matchesOne(pattern, region)) return true;
  return false;
}

function matchesOne(pattern: string, value: string): boolean {
  const last = pattern.length - 1;
  if (last < 0 || pattern.charCodeAt(last) !== 42 /* '*' */) return pattern === value;
  if (value.length < last) return false;
  for (let i = 0; i < last; i++) if (pattern.charCodeAt(i) !== value.charCodeAt(i)) return false;
  return true;
}

type Exclusion = Omit<Skip, 'deployment'>;

/**
 * Reasons are built once per API kind or region and reused: a routing decision at 50
 * deployments must not allocate a string per deployment left out (bench/routing.ts). The
 * keys come from the config (API kinds, deployment regions), so the memo stays small.
 */
const reasons = new Map<string, Exclusion>();
function reason(cause: Skip['cause'], text: string): Exclusion {
  let found = reasons.get(text);
  if (!found) {
    found = Object.freeze({ cause, reason: text });
    if (reasons.size < 10_000) reasons.set(text, found);
  }
  return found;
}
const API_REASONS = new Map<string, Exclusion>();
const REGION_REASONS = new Map<string, Exclusion>();
const TENANT_REASONS = new Map<string, Exclusion>();
const AGREEMENT_REASONS = new Map<string, Exclusion>();
const EXCLUSIVE_REASONS = new Map<string, Exclusion>();

/** Licence window reasons (policy.ts). */
export const NOT_YET_IN_FORCE: Exclusion = Object.freeze({
  cause: 'window',
  reason: 'licence not yet in force',
});
export const LICENCE_ENDED: Exclusion = Object.freeze({ cause: 'window', reason: 'licence ended' });

/** `exclusive licence of <partner>`, built once per partner. */
export function exclusiveReason(partner: string | null): Exclusion {
  return memo(
    EXCLUSIVE_REASONS,
    String(partner),
    'exclusive',
    (id) => `exclusive licence of ${id}`,
  );
}
function memo(
  table: Map<string, Exclusion>,
  key: string,
  cause: Skip['cause'],
  text: (key: string) => string,
): Exclusion {
  let found = table.get(key);
  if (!found) {
    found = reason(cause, text(key));
    if (table.size < 10_000) table.set(key, found);
  }
  return found;
}
const REGION_UNKNOWN = Object.freeze({
  cause: 'licence',
  reason: 'licence is limited to regions; deployment region unknown',
} satisfies Exclusion);
const TENANT_REGION_UNKNOWN = Object.freeze({
  cause: 'region',
  reason: 'region unknown; tenant is pinned to regions',
} satisfies Exclusion);

/** True when `name` is one of `patterns` (exact, or a prefix ending in `*`), as licence models are. */
export function modelMatches(patterns: readonly string[], name: string): boolean {
  return regionMatches(patterns, name);
}

/**
 * Whether the deployment's partner has an agreement for its model: a licence that names the
 * model (or names no models). A deployment with no partner (the vendor's own API) needs none.
 * The licence window is checked separately (`excluded`).
 */
export function hasAgreement(deployment: Deployment): boolean {
  if (deployment.partner === null) return true;
  const licence = deployment.partnerConfig?.license;
  if (!licence) return false;
  return licence.models === undefined || modelMatches(licence.models, deployment.model);
}

/**
 * Why the partner's licence scope, the coverage guard or the tenant's regions keep this
 * deployment out of a request, or undefined when they let it in.
 */
export function scopeExclusion(
  deployment: Deployment,
  scope: RouteScope | undefined,
  guard: CoverageGuard,
): Exclusion | undefined {
  const licence = deployment.partnerConfig?.license;
  if (guard === 'refuse' && !hasAgreement(deployment))
    return memo(
      AGREEMENT_REASONS,
      deployment.key,
      'agreement',
      () =>
        `no agreement in force (partner ${deployment.partner} has no licence for ${deployment.model})`,
    );
  const api = scope?.api;
  if (licence?.apis && api !== undefined && !licence.apis.includes(api))
    return memo(API_REASONS, api, 'licence', (kind) => `licence does not cover ${kind}`);
  const region = deployment.region;
  if (licence?.regions) {
    if (region === undefined) return REGION_UNKNOWN;
    if (!regionMatches(licence.regions, region))
      return memo(
        REGION_REASONS,
        region,
        'licence',
        (name) => `licence does not cover region ${name}`,
      );
  }
  const pinned = scope?.regions;
  if (pinned) {
    if (region === undefined) return TENANT_REGION_UNKNOWN;
    if (!regionMatches(pinned, region))
      return memo(
        TENANT_REASONS,
        region,
        'region',
        (name) => `region ${name} is outside the tenant's regions`,
      );
  }
  return undefined;
}

/** An exclusive licence among a model's deployments. */
export interface Exclusive {
  partner: string | null;
  from: number | undefined;
  until: number | undefined;
  apis: readonly ApiKind[] | undefined;
  regions: readonly string[] | undefined;
}

/** The exclusive licence of a partner, or undefined. */
export function exclusiveOf(
  partner: string | null,
  config: PartnerConfig | undefined,
): Exclusive | undefined {
  const licence = config?.license;
  if (!licence?.exclusive) return undefined;
  return {
    partner,
    from: licence.from,
    until: licence.until,
    apis: licence.apis,
    regions: licence.regions,
  };
}

/**
 * Whether an exclusive licence keeps `deployment` out: in force at `now`, and scoped to this
 * request's API kind (or to every kind) and to the deployment's region (or to every region; an
 * unknown region counts as covered, so exclusivity errs on the side of the agreement).
 */
export function exclusiveApplies(
  other: Exclusive,
  deployment: Deployment,
  now: number,
  scope: RouteScope | undefined,
): boolean {
  if (other.from !== undefined && now < other.from) return false;
  if (other.until !== undefined && now >= other.until) return false;
  const api = scope?.api;
  if (other.apis && api !== undefined && !other.apis.includes(api)) return false;
  if (other.regions && deployment.region !== undefined)
    return regionMatches(other.regions, deployment.region);
  return true;
}

/**
 * The `x-switchyard-skipped` header value: `deployment=reason` pairs joined by `; `, printable
 * ASCII only (config strings could hold anything), at most 1 KiB.
 */
export function skippedHeader(skips: readonly Skip[]): string | undefined {
  if (skips.length === 0) return undefined;
  const seen = new Set<string>();
  const parts: string[] = [];
  for (const skip of skips) {
    const part = `${skip.deployment.provider}=${skip.reason}`.replace(/[^\x20-\x7e]|;/g, '?');
    if (seen.has(part)) continue;
    seen.add(part);
    parts.push(part);
  }
  const value = parts.join('; ');
  return value.length > 1024 ? `${value.slice(0, 1021)}...` : value;
}
