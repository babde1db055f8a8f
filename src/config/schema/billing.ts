import { z } from 'zod';

/** `billing`: the commerce plane (src/billing; docs/configuration.md#billing). */
export const billingSchema = z.strictObject({
  /** Length of accounting periods: `month` (ids YYYY-MM), `week` (ISO weeks, YYYY-Www) or `day` (YYYY-MM-DD). Default month. */
  period: z
    .enum(['month', 'week', 'day'], { error: 'expected month, week or day' })
    .default('month'),
  /**
   * Answer `usage.cost` (the booked cost, USD) in every model call's body, as a request's
   * `usage: {include: true}` or header `x-switchyard-include-cost: true` does. Default false;
   * the `x-switchyard-cost` header is always sent.
   */
  costInBody: z.boolean().default(false),
  /**
   * Fewest output tokens a request without a max must be able to buy from a hard budget's
   * remainder; below this it is refused (402). Default 16.
   */
  budgetMinOutputTokens: z.number().int().positive().default(16),
});
