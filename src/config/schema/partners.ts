import { z } from 'zod';
import { decimal, instant } from './values.js';

/** API kinds a licence may cover, and a request is classed as (router/licence-scope.ts). */
export const API_KINDS = ['chat', 'embeddings', 'responses', 'stateful', 'batch'] as const;

const licenseSchema = z.strictObject({
  from: instant.optional(),
  until: instant.optional(),
  exclusive: z.boolean().default(false),
  /** Models the licence covers (patterns); default: all models served through the partner. */
  models: z.array(z.string()).optional(),
  /**
   * API kinds the licence covers (router/licence-scope.ts): `chat`, `embeddings`, `responses`
   * (stateless Responses), `stateful` (stored responses, conversations, agent runs), `batch`.
   * Default: every kind.
   */
  apis: z.array(z.enum(API_KINDS)).min(1).optional(),
  /** Regions the licence covers (exact, or a prefix ending in `*` such as `eu-*`). Default: every region. */
  regions: z.array(z.string().min(1)).min(1).optional(),
});

const revenueShareSchema = z.strictObject({
  rate: decimal,
  cap: decimal.optional(),
  /** The ledger keeps µUSD only, so USD is the only currency an agreement can be in (yet). */
  currency: z
    .string()
    .refine((value) => value.toUpperCase() === 'USD', {
      message: 'only USD is supported: the ledger, caps and statements are in µUSD',
    })
    .default('USD'),
  from: instant.optional(),
  until: instant.optional(),
  basis: z.enum(['gross', 'net']).default('gross'),
  /** Which providers (clouds) count toward the share; default: the partner's own providers. */
  clouds: z.array(z.string()).optional(),
  /** Which models count (patterns); default: all. */
  models: z.array(z.string()).optional(),
  /** What a refund does to accruals already made: reverse them (clawback) or leave them. */
  clawback: z.enum(['reverse', 'none']).default('reverse'),
});

/**
 * `partners.<id>.commitment`: spend committed to the partner's clouds per period (an Azure
 * MACC, an AWS private offer). Consumed = the upstream cost the ledger booked on the partner's
 * providers (`cost:<provider>` accounts) in the period; see src/billing/commitments.ts.
 */
const commitmentSchema = z.strictObject({
  /** Committed spend per period, USD decimal ("50000.00"). */
  spend: decimal,
  /** Length of the commitment's period: month, week or day. Default: `billing.period`. */
  period: z.enum(['month', 'week', 'day'], { error: 'expected month, week or day' }).optional(),
  /**
   * Percent of the period that must have elapsed before a projection below the commitment is
   * reported as under-use (the first hours say little about a month). Default 10.
   */
  warnAfterPercent: z.number().min(0).max(100).default(10),
});

/** `partners.<id>`: a partner (cloud) with its licence, revenue share and commitment. */
export const partnerSchema = z.strictObject({
  name: z.string().optional(),
  primary: z.boolean().default(false),
  license: licenseSchema.optional(),
  revenueShare: revenueShareSchema.optional(),
  /** Committed spend with this partner's clouds per period, burned down before pay-as-you-go (docs/configuration.md#commitments). */
  commitment: commitmentSchema.optional(),
});
