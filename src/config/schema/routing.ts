import { z } from 'zod';
import { capability } from './models.js';

/**
 * How a model's deployments are ordered. `lowest-net-cost`: the cloud's price for the request's
 * expected tokens plus the revenue share it adds at the margin (docs/configuration.md#lowest-net-cost).
 */
const strategySchema = z.enum([
  'primary-first',
  'weighted',
  'least-latency',
  'lowest-cost',
  'lowest-net-cost',
]);

const ruleSchema = z.strictObject({
  when: z.strictObject({
    needs: z.array(capability).optional(),
    minInputTokens: z.number().int().nonnegative().optional(),
    maxInputTokens: z.number().int().nonnegative().optional(),
    tag: z.string().optional(),
    metadata: z.record(z.string(), z.string()).optional(),
    tenant: z.string().optional(),
    model: z.string().optional(),
    contextOverflow: z.boolean().optional(),
  }),
  /** The model to send a matching request to; optional when the rule sets `strategy`. */
  model: z.string().optional(),
  /** Rule action: order the request's deployments by this strategy (e.g. `lowest-net-cost`). */
  strategy: strategySchema.optional(),
});

/** `routing`: how a request's deployments are chosen, retried and timed out. */
export const routingSchema = z.strictObject({
  strategy: strategySchema.default('primary-first'),
  retries: z.number().int().min(0).max(10).default(2),
  attemptTimeoutMs: z.number().int().positive().default(30_000),
  totalTimeoutMs: z.number().int().positive().default(120_000),
  /** Longest silence between upstream stream events once a stream has started, ms. */
  streamIdleTimeoutMs: z.number().int().positive().default(60_000),
  /** Longest upstream stream, from the attempt's start, ms. */
  streamTimeoutMs: z.number().int().positive().default(900_000),
  /**
   * How long a stream whose client went away is still read, ms, for the upstream's own usage
   * (the upstream charges for the whole answer). 0 = stop at once (the usage is then estimated
   * with the tokenizer). Default 30000.
   */
  drainOnDisconnectMs: z.number().int().nonnegative().default(30_000),
  rules: z.array(ruleSchema).default([]),
  /**
   * A request that would be served through a partner with no licence in force for the model
   * (coverage guard): `refuse` it (`no_agreement`, 403) unless another deployment is covered,
   * serve it and raise an `agreement.gap` `alert`, or `off`. Default `alert`.
   */
  coverageGuard: z.enum(['refuse', 'alert', 'off']).default('alert'),
});
