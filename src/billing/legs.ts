/**
 * Ledger accounts and the legs of a posting. Every leg pair nets to zero, so every transaction
 * does. Amounts are signed µUSD: debit positive, credit negative.
 *
 * | account | normal side | meaning |
 * |---|---|---|
 * | `receivable:<tenant>` | debit | what the customer owes |
 * | `revenue` | credit | what Switchyard earned (refunds and credits debit it) |
 * | `cost:<provider>` | debit | what a cloud charged for serving |
 * | `cost_payable:<provider>` | credit | owed to that cloud |
 * | `share_expense:<partner>` | debit | revenue share accrued to a partner |
 * | `share_payable:<partner>` | credit | revenue share owed to that partner |
 */

/** Account names. */
export const accounts = {
  receivable: (tenantId: string) => `receivable:${tenantId}`,
  revenue: 'revenue',
  cost: (provider: string) => `cost:${provider}`,
  costPayable: (provider: string) => `cost_payable:${provider}`,
  shareExpense: (partner: string) => `share_expense:${partner}`,
  sharePayable: (partner: string) => `share_payable:${partner}`,
} as const;

/** One leg of a transaction. */
export interface Leg {
  account: string;
  amount: bigint;
}

/** What a posting moves: revenue (negative for refunds), upstream cost, and accruals per partner. */
export interface LegInput {
  tenantId: string;
  /** Provider id the cost is owed to ('' when none). */
  provider: string;
  revenue: bigint;
  cost: bigint;
  accruals: ReadonlyArray<{ partner: string; amount: bigint }>;
}

/** Builds the legs of a posting; zero amounts produce no legs. */
export function legs(input: LegInput): Leg[] {
  const out: Leg[] = [];
  if (input.revenue !== 0n) {
    out.push({ account: accounts.receivable(input.tenantId), amount: input.revenue });
    out.push({ account: accounts.revenue, amount: -input.revenue });
  }
  if (input.cost !== 0n) {
    out.push({ account: accounts.cost(input.provider), amount: input.cost });
    out.push({ account: accounts.costPayable(input.provider), amount: -input.cost });
  }
  for (const accrual of input.accruals) {
    if (accrual.amount === 0n) continue;
    out.push({ account: accounts.shareExpense(accrual.partner), amount: accrual.amount });
    out.push({ account: accounts.sharePayable(accrual.partner), amount: -accrual.amount });
  }
  return out;
}

/** Largest amount a 64-bit integer column holds. */
export const INT64_MAX = 9_223_372_036_854_775_807n;

/** Throws a RangeError when `amount` would not fit a 64-bit column. */
export function assertInt64(amount: bigint, what: string): bigint {
  if (amount > INT64_MAX || amount < -INT64_MAX)
    throw new RangeError(`${what} ${amount} does not fit in 64 bits`);
  return amount;
}
