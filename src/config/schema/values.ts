import { z } from 'zod';
import { isDecimalString } from '../../core/money.js';

/** A decimal field (a rate, price or cap): a string or an integer, kept as an exact decimal string. */
export const decimal = z
  .union([z.string(), z.number().int()])
  .transform((value) => String(value))
  .refine(isDecimalString, { message: 'must be a decimal number such as "0.20"' });

/** A date ("2030-12-31") or an ISO instant; parsed to epoch milliseconds (UTC). */
export const instant = z.union([z.string(), z.date()]).transform((value, context) => {
  const ms =
    value instanceof Date
      ? value.getTime()
      : Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00Z` : value);
  if (Number.isNaN(ms)) {
    context.addIssue({ code: 'custom', message: `not a date: "${String(value)}"` });
    return z.NEVER;
  }
  return ms;
});
