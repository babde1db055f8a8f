import type { Config } from '../config/index.js';
import type { RollupQueries } from './rollup-queries.js';

/** One partner as the dashboard's Partners page shows it. */
export interface PartnerView {
  id: string;
  name: string;
  primary: boolean;
  licence: {
    from: string | null;
    until: string | null;
    exclusive: boolean;
    models: string[] | null;
  } | null;
  revenueShare: {
    rate: string;
    cap: string | null;
    currency: string;
    from: string | null;
    until: string | null;
    basis: string;
    /** Revenue served through the partner inside the share window, from the usage roll-ups. */
    revenueUsd: number;
    /** `revenueUsd × rate`, capped: an estimate until the billing ledger is available. */
    accruedUsd: number;
    capped: boolean;
    source: 'usage-rollups';
  } | null;
}

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

/**
 * Partners from config, with an estimate of the revenue share accrued so far: revenue the
 * partner's deployments served inside the share window (usage roll-ups) times the rate, capped.
 * The ledger's exact accruals replace this when billing is wired in.
 */
export async function partnersView(
  config: Config,
  rollups: RollupQueries | undefined,
  now: number,
): Promise<PartnerView[]> {
  const views: PartnerView[] = [];
  for (const [id, partner] of Object.entries(config.partners)) {
    const share = partner.revenueShare;
    let revenueShare: PartnerView['revenueShare'] = null;
    if (share) {
      const from = share.from ?? 0;
      const to = Math.min(share.until ?? now, now);
      const top =
        rollups && to > from ? await rollups.top({ from, to, partner: id }, 'partner', 1) : [];
      const revenueUsd = top[0]?.revenueUsd ?? 0;
      const raw = revenueUsd * Number(share.rate);
      const cap = share.cap === undefined ? undefined : Number(share.cap);
      revenueShare = {
        rate: share.rate,
        cap: share.cap ?? null,
        currency: share.currency,
        from: iso(share.from),
        until: iso(share.until),
        basis: share.basis,
        revenueUsd,
        accruedUsd: cap === undefined ? raw : Math.min(raw, cap),
        capped: cap !== undefined && raw >= cap,
        source: 'usage-rollups',
      };
    }
    views.push({
      id,
      name: partner.name ?? id,
      primary: partner.primary,
      licence: partner.license
        ? {
            from: iso(partner.license.from),
            until: iso(partner.license.until),
            exclusive: partner.license.exclusive,
            models: partner.license.models ?? null,
          }
        : null,
      revenueShare,
    });
  }
  return views;
}
