import type { Config } from '../config/index.js';
import type { Database } from '../store/index.js';
import { billingTransaction, type BillingTx, type ClauseRecord } from '../store/billing/store.js';
import { type ClauseTerms, termsFromConfig, termsHash } from './agreements.js';
import { merged } from '../core/objects.js';

/**
 * Keeps stored revenue-share clauses in step with their definitions (config or admin API).
 *
 * One clause is active per partner. Changing its cap, end date or clawback policy updates it in
 * place. Changing a term the accrual formula rests on (rate, basis, clouds, models, start,
 * currency) after the clause has counted anything retires it and starts a new version
 * (`azure@2`) with zero totals: past accruals stay exactly as they were posted. A clause set
 * through the admin API wins over the config until it is removed.
 */

/** What {@link putClause} did. */
export type ClauseChange = 'created' | 'updated' | 'versioned' | 'unchanged' | 'skipped';

/** Applies `partners.*.revenueShare` from the config; retires config clauses no longer there. */
export async function syncAgreements(
  database: Database,
  config: Pick<Config, 'partners'>,
  now: number,
): Promise<Record<string, ClauseChange>> {
  const changes: Record<string, ClauseChange> = {};
  const partners = Object.entries(config.partners).sort(([a], [b]) => (a < b ? -1 : 1));
  for (const [partner, settings] of partners) {
    const terms = settings.revenueShare ? termsFromConfig(partner, settings.revenueShare) : null;
    changes[partner] = await billingTransaction(database, (tx) =>
      terms ? putClause(tx, terms, 'config', now) : retireClause(tx, partner, 'config', now),
    );
  }
  const configured = new Set(Object.keys(config.partners));
  await billingTransaction(database, async (tx) => {
    for (const clause of await tx.activeClauses()) {
      if (clause.source === 'config' && !configured.has(clause.partner))
        await tx.putClause(merged(clause, { status: 'retired' }), now);
    }
  });
  return changes;
}

/**
 * Sets the active clause of `terms.partner` inside `tx`. A `config` change is skipped while an
 * admin clause is active for the partner.
 */
export async function putClause(
  tx: BillingTx,
  terms: ClauseTerms,
  source: 'config' | 'admin',
  now: number,
): Promise<ClauseChange> {
  const all = await tx.partnerClauses(terms.partner);
  const active = all.find((clause) => clause.status === 'active');
  if (active && source === 'config' && active.source === 'admin') return 'skipped';
  const hash = termsHash(terms);
  if (!active) {
    await tx.putClause(fresh(terms, nextId(terms.partner, all), source, hash), now);
    return 'created';
  }
  const untouched = active.basisTotal === 0n && active.accruedTotal === 0n;
  if (active.termsHash !== hash && !untouched) {
    await tx.putClause(merged(active, { status: 'retired' }), now);
    await tx.putClause(fresh(terms, nextId(terms.partner, all), source, hash), now);
    return 'versioned';
  }
  const next: ClauseRecord = merged(active, terms, { source, termsHash: hash });
  if (same(next, active)) return 'unchanged';
  await tx.putClause(next, now);
  return 'updated';
}

/** Retires the active clause of `partner` (of `source` only, when given). */
export async function retireClause(
  tx: BillingTx,
  partner: string,
  source: 'config' | 'admin' | null,
  now: number,
): Promise<ClauseChange> {
  const active = (await tx.partnerClauses(partner)).find((clause) => clause.status === 'active');
  if (!active || (source !== null && active.source !== source)) return 'unchanged';
  await tx.putClause(merged(active, { status: 'retired' }), now);
  return 'updated';
}

function fresh(
  terms: ClauseTerms,
  id: string,
  source: 'config' | 'admin',
  hash: string,
): ClauseRecord {
  return merged(terms, {
    id,
    status: 'active',
    source,
    termsHash: hash,
    basisTotal: 0n,
    accruedTotal: 0n,
  });
}

function nextId(partner: string, existing: readonly ClauseRecord[]): string {
  if (existing.length === 0) return partner;
  return `${partner}@${existing.length + 1}`;
}

function same(a: ClauseRecord, b: ClauseRecord): boolean {
  return JSON.stringify(a, replacer) === JSON.stringify(b, replacer);
}

function replacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}
