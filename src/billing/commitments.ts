import { sql } from 'kysely';
import type { Config } from '../config/index.js';
import { decimalToScaled } from '../core/money.js';
import type { Database } from '../store/index.js';
import { parsePeriod, type PeriodUnit, periodOf } from './periods.js';

/**
 * Burn-down of committed spend (`partners.<id>.commitment`): how much of a partner's commitment
 * for a period the gateway has consumed, read from the ledger, and where the current rate takes
 * it by the period's end.
 *
 * Consumed is the upstream cost booked on the partner's clouds: the `cost` of every ledger
 * transaction (usage, and the reversals that undo it) whose `deployment` is one of the
 * partner's providers and whose `effective_at` falls in the period. The projection is linear:
 * `consumed × period length ÷ elapsed`, floored to the µUSD. A commitment is under-used when
 * that projection stays below the committed spend; it is reported (`warn`) once
 * `warnAfterPercent` of the period has gone by, since the first hours of a month say little.
 */

/** One partner's commitment for one period. Money is µUSD. */
export interface CommitmentBurnDown {
  partner: string;
  name: string | undefined;
  /** Period id (`2026-11`, `2026-W48`, `2026-11-05`). */
  period: string;
  unit: PeriodUnit;
  startsAt: number;
  /** Exclusive. */
  endsAt: number;
  /** The instant the figures are for (clamped into the period). */
  at: number;
  /** Fraction of the period gone by at `at`, 0–1. */
  elapsed: number;
  committed: bigint;
  consumed: bigint;
  /** `committed − consumed`, never below 0. */
  remaining: bigint;
  /** Consumed by the end of the period at the rate so far. */
  projected: bigint;
  /** `committed − projected` when positive, else 0. */
  shortfall: bigint;
  /** The projection falls short of the commitment (whatever the elapsed share). */
  underUse: boolean;
  /** Under-use past `warnAfterPercent` of the period: worth telling someone. */
  warn: boolean;
  /** Providers whose cost counts toward the commitment. */
  providers: string[];
}

/** Which period to report: the one holding `at` (default now), or one named by id. */
export interface BurnDownQuery {
  at: number;
  /** A period id in each commitment's unit; default the period holding `at`. */
  period?: string | undefined;
  /** Only this partner. */
  partner?: string | undefined;
}

/** The partners that have a commitment, with their burn-down for the period asked. */
export async function burnDown(
  database: Database,
  config: Pick<Config, 'partners' | 'providers'> & { billing?: Pick<Config['billing'], 'period'> },
  query: BurnDownQuery,
): Promise<CommitmentBurnDown[]> {
  const out: CommitmentBurnDown[] = [];
  for (const [partner, settings] of Object.entries(config.partners)) {
    const commitment = settings.commitment;
    if (!commitment) continue;
    if (query.partner !== undefined && query.partner !== partner) continue;
    const unit: PeriodUnit = commitment.period ?? config.billing?.period ?? 'month';
    const bounds =
      query.period === undefined ? periodOf(query.at, unit) : parsePeriod(query.period, unit);
    const providers = Object.entries(config.providers)
      .filter(([, provider]) => provider.partner === partner)
      .map(([id]) => id)
      .sort();
    const consumed = await consumedCost(database, providers, bounds.startsAt, bounds.endsAt);
    out.push(
      figures({
        partner,
        name: settings.name,
        period: bounds.id,
        unit,
        startsAt: bounds.startsAt,
        endsAt: bounds.endsAt,
        at: query.at,
        committed: decimalToScaled(commitment.spend, 6),
        consumed,
        warnAfterPercent: commitment.warnAfterPercent,
        providers,
      }),
    );
  }
  return out;
}

/** The derived figures (pure: tests and the what-if use it as is). */
export function figures(input: {
  partner: string;
  name: string | undefined;
  period: string;
  unit: PeriodUnit;
  startsAt: number;
  endsAt: number;
  at: number;
  committed: bigint;
  consumed: bigint;
  warnAfterPercent: number;
  providers: string[];
}): CommitmentBurnDown {
  const length = input.endsAt - input.startsAt;
  const at = Math.min(Math.max(input.at, input.startsAt), input.endsAt);
  const gone = at - input.startsAt;
  // Nothing has elapsed yet: the rate is unknown, so project what is already consumed.
  const projected = gone <= 0 ? input.consumed : (input.consumed * BigInt(length)) / BigInt(gone);
  const shortfall = input.committed > projected ? input.committed - projected : 0n;
  const elapsed = length > 0 ? gone / length : 1;
  const underUse = shortfall > 0n;
  return {
    partner: input.partner,
    name: input.name,
    period: input.period,
    unit: input.unit,
    startsAt: input.startsAt,
    endsAt: input.endsAt,
    at,
    elapsed,
    committed: input.committed,
    consumed: input.consumed,
    remaining: input.committed > input.consumed ? input.committed - input.consumed : 0n,
    projected,
    shortfall,
    underUse,
    warn: underUse && elapsed * 100 >= input.warnAfterPercent,
    providers: input.providers,
  };
}

/** Upstream cost booked on `providers` with `effective_at` in `[from, to)`, µUSD. */
async function consumedCost(
  database: Database,
  providers: string[],
  from: number,
  to: number,
): Promise<bigint> {
  if (providers.length === 0) return 0n;
  const result = await sql<{
    total: string | number | bigint;
  }>`select coalesce(sum(cost), 0) as total
    from ledger_transactions
    where effective_at >= ${from} and effective_at < ${to}
      and deployment in (${sql.join(providers)})`.execute(database.db);
  return BigInt(result.rows[0]?.total ?? 0);
}

/** The JSON shape of a burn-down (admin API, CLI `--json`): money as µUSD strings and USD decimals. */
export function burnDownJson(row: CommitmentBurnDown, usd: (micros: bigint) => string) {
  return {
    partner: row.partner,
    name: row.name ?? null,
    period: row.period,
    unit: row.unit,
    starts_at: new Date(row.startsAt).toISOString(),
    ends_at: new Date(row.endsAt).toISOString(),
    at: new Date(row.at).toISOString(),
    elapsed_percent: Math.round(row.elapsed * 10_000) / 100,
    committed: usd(row.committed),
    consumed: usd(row.consumed),
    remaining: usd(row.remaining),
    projected: usd(row.projected),
    shortfall: usd(row.shortfall),
    committed_micros: row.committed.toString(),
    consumed_micros: row.consumed.toString(),
    remaining_micros: row.remaining.toString(),
    projected_micros: row.projected.toString(),
    shortfall_micros: row.shortfall.toString(),
    under_use: row.underUse,
    warn: row.warn,
    providers: row.providers,
  };
}
