import { z } from 'zod';
import type { ReportDimension, ReportQuery } from '../../billing/index.js';
import { REPORT_DIMENSIONS } from '../../billing/index.js';
import { ConfigError, type PartnerConfig, validateConfig } from '../../config/index.js';
import { decimalToScaled, isDecimalString } from '../../core/money.js';
import { invalidRequest } from '../../errors/index.js';

/**
 * Billing admin inputs: snake_case JSON bodies and query strings. Money is never a JSON
 * number (a float): `amount` is a decimal string of USD ("0.50"), `amount_micros` a whole
 * number of µUSD (string or safe integer).
 */

const usd = z
  .string()
  .refine(isDecimalString, 'must be a decimal string of USD such as "0.50"')
  .transform((value, context) => {
    try {
      return decimalToScaled(value, 6);
    } catch (error) {
      context.addIssue({ code: 'custom', message: (error as Error).message });
      return z.NEVER;
    }
  });
const micros = z
  .union([
    z.string().regex(/^\d+$/, 'must be a whole number of µUSD'),
    z.number().int().nonnegative(),
  ])
  .transform((value) => BigInt(value));
const id = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[\w.:@-]+$/, 'letters, digits and _ . : @ - only');

const refundBody = z.strictObject({
  request_id: z.string().min(1),
  amount: usd.optional(),
  amount_micros: micros.optional(),
  id: id.optional(),
  memo: z.string().max(500).optional(),
});
const creditBody = z.strictObject({
  tenant_id: z.string().min(1),
  amount: usd.optional(),
  amount_micros: micros.optional(),
  id: id.optional(),
  memo: z.string().max(500).optional(),
});
const reverseBody = z.strictObject({ memo: z.string().max(500).optional() });

function parse<T extends z.ZodType>(schema: T, value: unknown): z.output<T> {
  const result = schema.safeParse(value ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const path = issue.path.join('.');
  throw invalidRequest(path ? `${path}: ${issue.message}` : issue.message, path || null);
}

function amountOf(body: {
  amount?: bigint | undefined;
  amount_micros?: bigint | undefined;
}): bigint | undefined {
  if (body.amount !== undefined && body.amount_micros !== undefined)
    throw invalidRequest('give amount or amount_micros, not both', 'amount');
  return body.amount ?? body.amount_micros;
}

/** POST /admin/v1/billing/refunds body. */
export function parseRefund(value: unknown): {
  requestId: string;
  amount?: bigint;
  id?: string;
  memo?: string;
} {
  const body = parse(refundBody, value);
  const amount = amountOf(body);
  return {
    requestId: body.request_id,
    ...(amount === undefined ? {} : { amount }),
    ...(body.id === undefined ? {} : { id: body.id }),
    ...(body.memo === undefined ? {} : { memo: body.memo }),
  };
}

/** POST /admin/v1/billing/credits body. */
export function parseCredit(value: unknown): {
  tenantId: string;
  amount: bigint;
  id?: string;
  memo?: string;
} {
  const body = parse(creditBody, value);
  const amount = amountOf(body);
  if (amount === undefined) throw invalidRequest('amount is required', 'amount');
  return {
    tenantId: body.tenant_id,
    amount,
    ...(body.id === undefined ? {} : { id: body.id }),
    ...(body.memo === undefined ? {} : { memo: body.memo }),
  };
}

/** POST /admin/v1/billing/transactions/:id/reverse body. */
export function parseReverse(value: unknown): { memo?: string } {
  const body = parse(reverseBody, value);
  return body.memo === undefined ? {} : { memo: body.memo };
}

/**
 * PUT /admin/v1/billing/agreements/:partner body: the same shape as
 * `partners.<id>.revenueShare` in the config, validated by the config schema itself.
 */
export function parseAgreement(
  partner: string,
  value: unknown,
): NonNullable<PartnerConfig['revenueShare']> {
  try {
    const config = validateConfig({ partners: { [partner]: { revenueShare: value } } });
    return config.partners[partner]!.revenueShare!;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const problem = error.problems[0]!;
    const path = problem.path
      .replace(`partners.${partner}.revenueShare.`, '')
      .replace(`partners.${partner}.revenueShare`, '');
    throw invalidRequest(path ? `${path}: ${problem.message}` : problem.message, path || null);
  }
}

/** Query of GET /admin/v1/billing/usage: `from`/`to` (ISO or epoch ms), `group_by`, and a filter per dimension. */
export function parseReportQuery(search: URLSearchParams, now: number): ReportQuery {
  const time = (name: string, fallback: number) => {
    const raw = search.get(name);
    if (raw === null || raw === '') return fallback;
    const ms = /^\d+$/.test(raw) ? Number(raw) : Date.parse(raw);
    if (!Number.isSafeInteger(ms))
      throw invalidRequest(`${name} must be an ISO date-time or epoch milliseconds`, name);
    return ms;
  };
  const to = time('to', now);
  const from = time('from', to - 30 * 86_400_000);
  const groupBy = (search.get('group_by') ?? '')
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean);
  for (const dimension of groupBy) {
    if (!REPORT_DIMENSIONS.includes(dimension as ReportDimension))
      throw invalidRequest(
        `unknown dimension "${dimension}" (use ${REPORT_DIMENSIONS.join(', ')})`,
        'group_by',
      );
  }
  const where: Partial<Record<ReportDimension, string>> = {};
  for (const dimension of REPORT_DIMENSIONS) {
    const value = search.get(dimension);
    if (value !== null) where[dimension] = value;
  }
  return { from, to, groupBy: groupBy as ReportDimension[], where };
}
