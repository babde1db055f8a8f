import type { ApiKind } from '../config/index.js';
import type { Catalog, Deployment } from './catalog.js';
import { exclusiveApplies, exclusiveOf, hasAgreement, regionMatches } from './licence-scope.js';

/**
 * Agreement coverage (issue 18, item 5): every model × partner × API kind × region the config
 * can serve, with the licence and revenue-share clause in force and what keeps it from serving.
 * `switchyard agreements coverage`, `GET /admin/v1/agreements/coverage`, the
 * `switchyard_agreement_coverage` metric and the Partners page all read this one function.
 */

/** Licence ends within this many days are flagged. */
export const ENDING_WITHIN_DAYS = 90;
const DAY_MS = 86_400_000;

/**
 * How one model × partner × API × region stands:
 * - `covered`: a licence in force covers it;
 * - `direct`: served without a partner (the vendor's own API), no agreement needed;
 * - `gap`: the partner serves it with no licence for the model (the coverage guard's case);
 * - `not_covered`: the partner's licence leaves this API kind or region out;
 * - `exclusive`: another partner's exclusive licence keeps this partner out;
 * - `not_yet` / `ended`: outside the licence window.
 */
export type CoverageStatus =
  | 'covered'
  | 'direct'
  | 'gap'
  | 'not_covered'
  | 'exclusive'
  | 'not_yet'
  | 'ended';

/** One row of the coverage report. */
export interface CoverageRow {
  model: string;
  partner: string | null;
  api: ApiKind;
  /** The deployments' region; null when unknown. */
  region: string | null;
  /** Provider ids of the deployments this row stands for. */
  deployments: string[];
  status: CoverageStatus;
  /** Why it is not covered, in words; null when covered or direct. */
  reason: string | null;
  licence: {
    from: string | null;
    until: string | null;
    exclusive: boolean;
    apis: ApiKind[] | null;
    regions: string[] | null;
  } | null;
  share: { rate: string; cap: string | null; until: string | null } | null;
  /** When the licence ends (ISO), null when it does not. */
  endsAt: string | null;
  /** Whole days until the licence ends (rounded down), null when it does not end. */
  endsInDays: number | null;
  /** Covered now, but the licence ends within {@link ENDING_WITHIN_DAYS} days. */
  ending: boolean;
}

/** The report: rows, plus the model × API kinds no deployment covers at all. */
export interface CoverageReport {
  at: string;
  rows: CoverageRow[];
  /** Model × API kinds with no covered or direct row: a request of that kind cannot be served under an agreement. */
  gaps: Array<{ model: string; api: ApiKind }>;
}

/** The API kinds a model can be asked for, by model kind. */
export function apiKindsOf(kind: 'chat' | 'embedding'): ApiKind[] {
  return kind === 'embedding'
    ? ['embeddings', 'batch']
    : ['chat', 'responses', 'stateful', 'batch'];
}

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

/** Builds the coverage report at `now`. */
export function coverageReport(catalog: Catalog, now: number): CoverageReport {
  const rows: CoverageRow[] = [];
  const gaps: CoverageReport['gaps'] = [];
  for (const model of catalog.all()) {
    const exclusives = model.deployments.flatMap(
      (deployment) => exclusiveOf(deployment.partner, deployment.partnerConfig) ?? [],
    );
    for (const api of apiKindsOf(model.config.kind)) {
      const byKey = new Map<string, CoverageRow>();
      for (const deployment of model.deployments) {
        const key = `${deployment.partner ?? ''}\u0000${deployment.region ?? ''}`;
        const existing = byKey.get(key);
        if (existing) {
          if (!existing.deployments.includes(deployment.provider))
            existing.deployments.push(deployment.provider);
          continue;
        }
        const row = rowOf(deployment, api, now);
        const blocking = exclusives.find(
          (other) =>
            other.partner !== deployment.partner &&
            exclusiveApplies(other, deployment, now, { api }),
        );
        if (blocking && (row.status === 'covered' || row.status === 'direct')) {
          row.status = 'exclusive';
          row.reason = `exclusive licence of ${blocking.partner}`;
          row.ending = false;
        }
        byKey.set(key, row);
        rows.push(row);
      }
      const served = [...byKey.values()].some(
        (row) => row.status === 'covered' || row.status === 'direct',
      );
      if (!served) gaps.push({ model: model.name, api });
    }
  }
  return { at: new Date(now).toISOString(), rows, gaps };
}

function rowOf(deployment: Deployment, api: ApiKind, now: number): CoverageRow {
  const licence = deployment.partnerConfig?.license;
  const share = deployment.partnerConfig?.revenueShare;
  const until = licence?.until;
  const row: CoverageRow = {
    model: deployment.model,
    partner: deployment.partner,
    api,
    region: deployment.region ?? null,
    deployments: [deployment.provider],
    status: 'covered',
    reason: null,
    licence: licence
      ? {
          from: iso(licence.from),
          until: iso(licence.until),
          exclusive: licence.exclusive,
          apis: licence.apis ? [...licence.apis] : null,
          regions: licence.regions ? [...licence.regions] : null,
        }
      : null,
    share: share ? { rate: share.rate, cap: share.cap ?? null, until: iso(share.until) } : null,
    endsAt: iso(until),
    endsInDays: until === undefined ? null : Math.floor((until - now) / DAY_MS),
    ending: false,
  };
  if (deployment.partner === null) {
    row.status = 'direct';
    return row;
  }
  if (!hasAgreement(deployment)) {
    row.status = 'gap';
    row.reason = licence
      ? `licence of ${deployment.partner} does not name ${deployment.model}`
      : `${deployment.partner} has no licence`;
    return row;
  }
  if (licence?.from !== undefined && now < licence.from) {
    row.status = 'not_yet';
    row.reason = `licence starts ${iso(licence.from)}`;
    return row;
  }
  if (until !== undefined && now >= until) {
    row.status = 'ended';
    row.reason = `licence ended ${iso(until)}`;
    return row;
  }
  if (licence?.apis && !licence.apis.includes(api)) {
    row.status = 'not_covered';
    row.reason = `licence does not cover ${api}`;
    return row;
  }
  if (licence?.regions) {
    const region = deployment.region;
    if (region === undefined || !regionMatches(licence.regions, region)) {
      row.status = 'not_covered';
      row.reason =
        region === undefined
          ? 'deployment region unknown'
          : `licence does not cover region ${region}`;
      return row;
    }
  }
  row.ending = until !== undefined && until - now <= ENDING_WITHIN_DAYS * DAY_MS;
  return row;
}
