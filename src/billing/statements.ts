import { createHash } from 'node:crypto';
import { csvField } from '../core/csv.js';
import { scaledToDecimal } from '../core/money.js';
import { GatewayError, invalidRequest } from '../errors/index.js';
import type { Database } from '../store/index.js';
import { type BillingDb, billingDb } from '../store/billing/schema.js';
import { billingTransaction } from '../store/billing/store.js';
import {
  customerLines,
  forEachEntry,
  frozenStatement,
  partnerLines,
  statementSubjects,
} from '../store/billing/queries.js';
import { accounts } from './legs.js';
import { parsePeriod, type PeriodUnit } from './periods.js';

/**
 * Statements per partner and per customer per period. A statement of an open period is a draft,
 * computed on request; closing the period freezes every statement of it (stored JSON plus a
 * SHA-256 over its ledger entries). Closed periods take no new entries (late events are booked
 * as adjustments in the open period), so a frozen statement and its hash never change, and
 * recomputing it from the ledger gives the same hash.
 *
 * Money is a decimal string of USD with up to six places (exact µUSD).
 */

/** Whose statement. */
export type StatementKind = 'partner' | 'customer';

/** A statement line: transactions of one kind, model, cloud and adjusted period. */
export interface StatementLine {
  kind: string;
  model: string;
  cloud: string;
  /** Set on adjustments: the closed period these transactions belong to by their time. */
  adjusts_period: string | null;
  transactions: number;
  /** Customer: amount charged (refunds and credits negative). Partner: revenue counted toward the share. */
  amount: string;
  /** Partner only: share accrued (clawbacks negative). */
  accrued?: string;
  /**
   * Token quantities of the line's usage transactions, summed from their usage rows (joined on
   * the request id); refund, credit and reversal lines carry 0. Input includes the cache reads
   * and writes, as on the usage rows; `cache_write_1h_tokens` is the one-hour part of
   * `cache_write_tokens`. Absent from statements frozen before they were added (see
   * docs/billing.md).
   */
  input_tokens?: number;
  cached_input_tokens?: number;
  cache_write_tokens?: number;
  cache_write_1h_tokens?: number;
  output_tokens?: number;
}

/** The token fields of a statement line, in CSV column order. */
export const TOKEN_FIELDS = [
  'input_tokens',
  'cached_input_tokens',
  'cache_write_tokens',
  'cache_write_1h_tokens',
  'output_tokens',
] as const;

/** A statement as served (JSON) and frozen. */
export interface Statement {
  object: 'statement';
  kind: StatementKind;
  subject: string;
  period: string;
  period_start: string;
  period_end: string;
  status: 'draft' | 'final';
  currency: 'USD';
  lines: StatementLine[];
  totals: Record<string, string>;
  /** The ledger entries the statement covers: count, sum on its main account, and their hash. */
  entries: { accounts: string[]; count: number; balance: string; hash: string };
}

/** Dependencies of statement operations. */
export interface StatementDeps {
  database: Database;
  now: () => number;
  periodUnit: PeriodUnit;
  /** Partners that get a statement every period, even an empty one. */
  partners: readonly string[];
}

/** The statement of `subject` for `period`: frozen when the period is closed, else a draft. */
export async function getStatement(
  deps: StatementDeps,
  kind: StatementKind,
  subject: string,
  period: string,
): Promise<Statement> {
  const bounds = parsePeriodOrThrow(period, deps.periodUnit);
  const db = billingDb(deps.database);
  const frozen = await frozenStatement(db, statementId(kind, subject, bounds.id));
  if (frozen) return JSON.parse(frozen.body) as Statement;
  const closed = await db
    .selectFrom('billing_periods')
    .select('status')
    .where('id', '=', bounds.id)
    .executeTakeFirst();
  return buildStatement(db, kind, subject, bounds, closed?.status === 'closed' ? 'final' : 'draft');
}

/**
 * Closes `period` and freezes its statements, in one transaction. The period must have ended.
 * Closing an already closed period changes nothing. Returns the frozen statements' ids and hashes.
 */
export async function closePeriod(
  deps: StatementDeps,
  period: string,
): Promise<{ period: string; closed: boolean; statements: Array<{ id: string; hash: string }> }> {
  const bounds = parsePeriodOrThrow(period, deps.periodUnit);
  return billingTransaction(deps.database, async (tx) => {
    const now = deps.now();
    if (bounds.endsAt > now)
      throw invalidRequest(`period ${bounds.id} has not ended yet`, 'period');
    const closed = await tx.closePeriod(bounds, now);
    if (!closed) return { period: bounds.id, closed: false, statements: [] };
    const subjects = await statementSubjects(tx.db, bounds.id);
    const partners = [...new Set([...subjects.partners, ...deps.partners])].sort();
    const statements = [
      ...(await Promise.all(
        partners.map((partner) => buildStatement(tx.db, 'partner', partner, bounds, 'final')),
      )),
      ...(await Promise.all(
        subjects.customers.map((tenant) =>
          buildStatement(tx.db, 'customer', tenant, bounds, 'final'),
        ),
      )),
    ];
    const rows = statements.map((statement) => ({
      id: statementId(statement.kind, statement.subject, statement.period),
      kind: statement.kind,
      subject: statement.subject,
      period: statement.period,
      hash: statement.entries.hash,
      entryCount: statement.entries.count,
      body: JSON.stringify(statement),
    }));
    await tx.insertStatements(rows, now);
    return {
      period: bounds.id,
      closed: true,
      statements: rows.map((row) => ({ id: row.id, hash: row.hash })),
    };
  });
}

/** Computes a statement from the ledger (no caching). */
export async function buildStatement(
  db: BillingDb,
  kind: StatementKind,
  subject: string,
  bounds: { id: string; startsAt: number; endsAt: number },
  status: 'draft' | 'final',
): Promise<Statement> {
  const main = kind === 'partner' ? accounts.sharePayable(subject) : accounts.receivable(subject);
  const covered = kind === 'partner' ? [accounts.shareExpense(subject), main] : [main];
  const hash = createHash('sha256');
  let count = 0;
  let balance = 0n;
  const scope =
    kind === 'partner'
      ? { kind, partner: subject, period: bounds.id, accounts: covered }
      : { kind, tenantId: subject, period: bounds.id, accounts: covered };
  await forEachEntry(db, scope, (rows) => {
    for (const row of rows) {
      hash.update(`${row.transactionId}|${row.seq}|${row.account}|${row.amount}\n`);
      if (row.account === main) balance += row.amount;
    }
    count += rows.length;
  });
  const records =
    kind === 'partner'
      ? await partnerLines(db, subject, bounds.id)
      : await customerLines(db, subject, bounds.id);
  const lines: StatementLine[] = records.map((line) => ({
    kind: line.kind,
    model: line.model,
    cloud: line.deployment,
    adjusts_period: line.adjustsPeriod,
    transactions: line.transactions,
    amount: usd(line.basis),
    ...(kind === 'partner' ? { accrued: usd(line.accrued) } : {}),
    input_tokens: line.tokens.inputTokens,
    cached_input_tokens: line.tokens.cachedInputTokens,
    cache_write_tokens: line.tokens.cacheWriteTokens,
    cache_write_1h_tokens: line.tokens.cacheWrite1hTokens,
    output_tokens: line.tokens.outputTokens,
  }));
  const sum = (
    pick: (line: (typeof records)[number]) => bigint,
    filter: (line: (typeof records)[number]) => boolean = () => true,
  ) => records.filter(filter).reduce((total, line) => total + pick(line), 0n);
  const totals: Record<string, string> =
    kind === 'partner'
      ? {
          basis: usd(sum((line) => line.basis)),
          accrued: usd(sum((line) => line.accrued)),
          adjustments: usd(
            sum(
              (line) => line.accrued,
              (line) => line.adjustsPeriod !== null,
            ),
          ),
        }
      : {
          charges: usd(
            sum(
              (line) => line.basis,
              (line) => line.kind === 'usage',
            ),
          ),
          refunds: usd(
            sum(
              (line) => line.basis,
              (line) => line.kind === 'refund',
            ),
          ),
          credits: usd(
            sum(
              (line) => line.basis,
              (line) => line.kind === 'credit',
            ),
          ),
          reversals: usd(
            sum(
              (line) => line.basis,
              (line) => line.kind === 'reversal',
            ),
          ),
          adjustments: usd(
            sum(
              (line) => line.basis,
              (line) => line.adjustsPeriod !== null,
            ),
          ),
          net: usd(sum((line) => line.basis)),
        };
  return {
    object: 'statement',
    kind,
    subject,
    period: bounds.id,
    period_start: new Date(bounds.startsAt).toISOString(),
    period_end: new Date(bounds.endsAt).toISOString(),
    status,
    currency: 'USD',
    lines,
    totals,
    // Partner payable is a credit balance: shown as the amount owed (positive).
    entries: {
      accounts: covered,
      count,
      balance: usd(kind === 'partner' ? -balance : balance),
      hash: `sha256:${hash.digest('hex')}`,
    },
  };
}

/**
 * Renders a statement as CSV: one row per line and a `total` row; every row carries the
 * statement's identity and entry hash. The token columns come last (after `hash`), so readers of
 * the earlier columns by position are unaffected; they are empty on a statement frozen before
 * lines carried tokens (unknown, not zero).
 */
export function statementCsv(statement: Statement): string {
  const header = [
    'statement',
    'subject',
    'period',
    'status',
    'line',
    'model',
    'cloud',
    'adjusts_period',
    'transactions',
    'amount_usd',
    'accrued_usd',
    'hash',
    ...TOKEN_FIELDS,
  ];
  const tokenCells = (line: StatementLine) =>
    TOKEN_FIELDS.map((field) => (line[field] === undefined ? '' : String(line[field])));
  // The total row sums a token column only when every line has it.
  const tokenTotals = TOKEN_FIELDS.map((field) =>
    statement.lines.every((line) => line[field] !== undefined)
      ? String(statement.lines.reduce((total, line) => total + (line[field] ?? 0), 0))
      : '',
  );
  const base = [statement.kind, statement.subject, statement.period, statement.status];
  const rows = statement.lines.map((line) => [
    ...base,
    line.kind,
    line.model,
    line.cloud,
    line.adjusts_period ?? '',
    String(line.transactions),
    line.amount,
    line.accrued ?? '',
    statement.entries.hash,
    ...tokenCells(line),
  ]);
  const transactions = statement.lines.reduce((total, line) => total + line.transactions, 0);
  const amount =
    statement.kind === 'partner' ? statement.totals['basis']! : statement.totals['net']!;
  rows.push([
    ...base,
    'total',
    '',
    '',
    '',
    String(transactions),
    amount,
    statement.totals['accrued'] ?? '',
    statement.entries.hash,
    ...tokenTotals,
  ]);
  return `${[header, ...rows].map((row) => row.map(csvField).join(',')).join('\r\n')}\r\n`;
}

/** Id of a frozen statement. */
export function statementId(kind: StatementKind, subject: string, period: string): string {
  return `${kind}:${subject}:${period}`;
}

/** µUSD → decimal USD string. */
export function usd(micros: bigint): string {
  return scaledToDecimal(micros, 6);
}

function parsePeriodOrThrow(period: string, unit: PeriodUnit) {
  try {
    return parsePeriod(period, unit);
  } catch (error) {
    throw new GatewayError((error as Error).message, {
      code: 'invalid_request',
      status: 400,
      param: 'period',
      retryable: false,
    });
  }
}
