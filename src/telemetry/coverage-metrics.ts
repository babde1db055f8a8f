import { Counter, Gauge, type Registry } from 'prom-client';
import type { Catalog } from '../router/catalog.js';
import { coverageReport } from '../router/coverage.js';
import type { AgreementGap } from '../router/licence-scope.js';

/**
 * Agreement coverage metrics (issue 18, item 5). Every label value comes from the config
 * (models, partners, regions) or a fixed set (API kinds, statuses), so the series are bounded.
 *
 * - `switchyard_agreement_coverage{model,partner,api,region,status}`: 1 for each row of the
 *   coverage report (router/coverage.ts), computed at scrape; `status` is the row's status, or
 *   `ending` for a covered row whose licence ends within 90 days.
 * - `switchyard_agreement_gap_requests_total{model,partner,api}`: requests served through a
 *   partner with no licence for the model (coverage guard `alert`).
 */
export interface CoverageMetrics {
  /** Counts a request served where no agreement is in force. */
  gapServed(gap: AgreementGap): void;
}

/** Registers the coverage metrics on `registry`. */
export function createCoverageMetrics(
  registry: Registry,
  catalog: Catalog,
  clock: () => number,
): CoverageMetrics {
  new Gauge({
    name: 'switchyard_agreement_coverage',
    help: 'Agreement coverage per model, partner, API kind and region (1 for the current status; status ending = covered, licence ends within 90 days).',
    labelNames: ['model', 'partner', 'api', 'region', 'status'],
    registers: [registry],
    collect() {
      this.reset();
      for (const row of coverageReport(catalog, clock()).rows)
        this.set(
          {
            model: row.model,
            partner: row.partner ?? 'direct',
            api: row.api,
            region: row.region ?? 'unknown',
            status: row.ending ? 'ending' : row.status,
          },
          1,
        );
    },
  });
  const gaps = new Counter({
    name: 'switchyard_agreement_gap_requests_total',
    help: 'Requests served through a partner with no licence in force for the model (routing.coverageGuard: alert).',
    labelNames: ['model', 'partner', 'api'],
    registers: [registry],
  });
  return {
    gapServed: (gap) => gaps.inc({ model: gap.model, partner: gap.partner, api: gap.api }),
  };
}
