import { sql } from 'kysely';
import type { Database } from '../../src/store/index.js';

/** The ledger and usage tables a what-if must never write. */
export const LEDGER_TABLES = [
  'usage_events',
  'ledger_transactions',
  'ledger_entries',
  'billing_clauses',
  'billing_share_lines',
  'billing_periods',
  'billing_statements',
  'billing_rollups',
  'billing_rollups_daily',
] as const;

/** Every row of the ledger tables, ordered, as text: equal snapshots mean nothing was written. */
export async function ledgerSnapshot(database: Database): Promise<string> {
  const parts: string[] = [];
  for (const table of LEDGER_TABLES) {
    const { rows } = await sql<Record<string, unknown>>`select * from ${sql.table(table)}`.execute(
      database.db,
    );
    const lines = rows
      .map((row) =>
        JSON.stringify(row, (_key, value) => (typeof value === 'bigint' ? `${value}n` : value)),
      )
      .sort();
    parts.push(`${table} ${rows.length}\n${lines.join('\n')}`);
  }
  return parts.join('\n');
}

/** Ledger balance per account (µUSD, debit positive). */
export async function accountBalances(database: Database): Promise<Map<string, bigint>> {
  const { rows } = await sql<{ account: string; total: bigint | string | number }>`
    select account, cast(sum(amount) as bigint) as total from ledger_entries group by account
  `.execute(database.db);
  return new Map(rows.map((row) => [row.account, BigInt(row.total)]));
}

/** Revenue, cost (all clouds) and accruals per partner from the ledger's balances. */
export async function ledgerFigures(database: Database) {
  const balances = await accountBalances(database);
  let cost = 0n;
  const accruals: Record<string, bigint> = {};
  for (const [account, total] of balances) {
    if (account.startsWith('cost:')) cost += total;
    if (account.startsWith('share_expense:'))
      accruals[account.slice('share_expense:'.length)] = total;
  }
  return { revenue: -(balances.get('revenue') ?? 0n), cost, accruals };
}
