import { z } from 'zod';
import { decimal, instant } from './values.js';

/** A price or cost, USD per 1M tokens. */
export const tokenPriceSchema = z.strictObject({
  input: decimal,
  cachedInput: decimal.optional(),
  output: decimal,
  reasoning: decimal.optional(),
  /** Input tokens written to a prompt cache (5-minute lifetime where the provider has several); defaults to `input`. */
  cacheWrite: decimal.optional(),
  /** Input tokens written to a one-hour prompt cache (Anthropic); defaults to `cacheWrite`. */
  cacheWrite1h: decimal.optional(),
  /** Instant from which this price applies (for versioned prices). */
  effective: instant.optional(),
});

const deploymentSchema = z.strictObject({
  provider: z.string(),
  /** Upstream model id or Azure deployment name. */
  model: z.string(),
  weight: z.number().positive().default(1),
  /** What the cloud charges us, USD per 1M tokens (for lowest-cost routing and margins). */
  cost: tokenPriceSchema.optional(),
  /** Bedrock only: `converse` (default) or `openai` (Bedrock's OpenAI-compatible endpoint). */
  api: z.enum(['converse', 'openai']).optional(),
  contextWindow: z.number().int().positive().optional(),
  /**
   * Reserved capacity (PTU-like) of this deployment, tokens per minute: routing fills it first
   * and spills to pay-as-you-go deployments of the model when it is used up (counted across
   * replicas through Redis) or the upstream answers 429. Default: none (pay-as-you-go).
   */
  reservedTpm: z.number().int().positive().optional(),
  /** Longest silence between stream events from this deployment, ms. Default: the model's, else routing's. */
  streamIdleTimeoutMs: z.number().int().positive().optional(),
  /** Longest stream from this deployment (from the attempt's start), ms. Default: the model's, else routing's. */
  streamTimeoutMs: z.number().int().positive().optional(),
  /**
   * Where this deployment runs (`eastus`, `eu-west-1`), for licence regions and tenant
   * residency. Default: the provider's `region` (bedrock) or `location` (vertex), else unknown.
   */
  region: z.string().min(1).optional(),
});

/** What a model can do (`capabilities`), and a routing rule can ask for (`needs`). */
export const capability = z.enum(['tools', 'vision', 'json_schema', 'reasoning', 'logprobs']);

/** `models.<name>`: a model clients ask for, with its deployments. */
export const modelSchema = z.strictObject({
  kind: z.enum(['chat', 'embedding']).default('chat'),
  description: z.string().optional(),
  contextWindow: z.number().int().positive().optional(),
  maxOutputTokens: z.number().int().positive().optional(),
  capabilities: z.array(capability).default([]),
  /** What customers pay, USD per 1M tokens; a list for versioned prices. */
  price: z.union([tokenPriceSchema, z.array(tokenPriceSchema)]).optional(),
  tags: z.array(z.string()).default([]),
  /** Models to try, in order, when every deployment of this one fails in a way another model could fix. */
  fallbacks: z.array(z.string()).default([]),
  /** Longest silence between stream events, ms, for this model's deployments. Default: routing's. */
  streamIdleTimeoutMs: z.number().int().positive().optional(),
  /** Longest stream (from the attempt's start), ms, for this model's deployments. Default: routing's. */
  streamTimeoutMs: z.number().int().positive().optional(),
  deployments: z.array(deploymentSchema).min(1),
});
