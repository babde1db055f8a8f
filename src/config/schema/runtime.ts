import { z } from 'zod';

/**
 * A webhook endpoint for background responses (runtime/agent/webhook-endpoints.ts;
 * docs/configuration.md).
 */
export const webhookSchema = z.strictObject({
  /** Where events are POSTed (http or https; must pass the `runtime.tools` SSRF policy). */
  url: z.url({ protocol: /^https?$/ }),
  /** Signing secret, usually `${ENV}`: `whsec_<base64>` or any string (as the openai SDKs read it). */
  secret: z.string().min(1),
  /** Event types sent. Default: all four. */
  events: z
    .array(
      z.enum([
        'response.completed',
        'response.failed',
        'response.cancelled',
        'response.incomplete',
      ]),
    )
    .min(1)
    .optional(),
  /** Only background runs of these tenants. Default: every tenant. */
  tenants: z.array(z.string()).min(1).optional(),
  /** Per attempt, ms. Default 10000. */
  timeoutMs: z.number().int().positive().default(10_000),
  /** Attempts before giving up. Default 12. */
  maxAttempts: z.number().int().min(1).max(100).default(12),
  /** Wait before the first retry, ms; doubled each time. Default 5000. */
  backoffMs: z.number().int().positive().default(5_000),
  /** Longest wait between attempts, ms. Default 3600000. */
  maxBackoffMs: z.number().int().positive().default(3_600_000),
});

/** A 32-byte key as base64 (`openssl rand -base64 32`). */
const secretKeySchema = z
  .string()
  .refine(
    (value) =>
      /^[A-Za-z0-9+/_-]+={0,2}$/.test(value.trim()) &&
      Buffer.from(value.trim(), 'base64').length === 32,
    { message: 'must be base64 of exactly 32 bytes (openssl rand -base64 32)' },
  );

/** `runtime`: the stateful runtime (Responses and Conversations APIs). */
export const runtimeSchema = z.strictObject({
  /** Days a stored response (with its items and stream events) is kept; 0 = until deleted. Default 30. */
  retentionDays: z.number().nonnegative().default(30),
  /** Days a conversation (with its items) is kept after creation; 0 = until deleted. Default 0. */
  conversationRetentionDays: z.number().nonnegative().default(0),
  /** Interval of the background retention sweep, ms; 0 = no sweep. Default 600000 (10 minutes). */
  sweepIntervalMs: z.number().int().nonnegative().default(600_000),
  /**
   * Key sealing tool secrets at rest (MCP tool headers of background runs, HTTP tool auth
   * headers): base64 of 32 bytes, usually `${ENV}`. Default: derived from auth.masterKey,
   * else a key file next to the SQLite database (runtime/secrets.ts).
   */
  secretKey: secretKeySchema.optional(),
  /** Earlier secret keys, still accepted for opening what they sealed (key rotation). */
  previousSecretKeys: z.array(secretKeySchema).default([]),
  /** The built-in memory tool (`tools: [{type: "memory"}]`) and its limits per tenant and user. */
  memory: z
    .strictObject({
      /** Offer the memory tool. Default true. */
      enabled: z.boolean().default(true),
      /** Bytes of one value or note. Default 16384. */
      maxValueBytes: z.number().int().positive().default(16_384),
      /** Entries plus notes per user. Default 1000. */
      maxEntriesPerUser: z.number().int().positive().default(1_000),
      /** Bytes (keys + values) per user. Default 1048576. */
      maxBytesPerUser: z.number().int().positive().default(1_048_576),
    })
    .prefault({}),
  /** Server-run tools (MCP, HTTP tools) and background runs (runtime/agent). */
  tools: z
    .strictObject({
      /** Let tools reach private, loopback, link-local and metadata addresses. Default false. */
      allowPrivateNetworks: z.boolean().default(false),
      /** Hosts (names or IPs) allowed even when private. */
      allowHosts: z.array(z.string()).default([]),
      /** Per tool request (connect, list, call), ms. Default 60000. */
      timeoutMs: z.number().int().positive().default(60_000),
      /** Model calls per response. Default 16. */
      maxSteps: z.number().int().positive().default(16),
      /** Characters of tool output kept (the rest is truncated). Default 100000. */
      maxOutputChars: z.number().int().positive().default(100_000),
      /** Lease of a running background run, ms (renewed every third). Default 30000. */
      leaseMs: z.number().int().positive().default(30_000),
      /** Interval of the takeover worker, ms. Default 5000. */
      workerIntervalMs: z.number().int().nonnegative().default(5_000),
      /**
       * How long a cancel waits for the run's owner (told through Redis or Postgres) to end
       * the run before this replica takes it over and cancels it itself, ms. Default 1000.
       */
      cancelTakeoverMs: z.number().int().nonnegative().default(1_000),
      /**
       * A non-idempotent tool call in flight when its process died is never repeated:
       * `continue` records it failed and lets the model go on; `fail` fails the run.
       */
      interruptedCalls: z.enum(['continue', 'fail']).default('continue'),
    })
    .prefault({}),
  /** Signed webhooks when a background response ends (Standard Webhooks, as OpenAI sends them). */
  webhooks: z
    .array(webhookSchema)
    .default([])
    .superRefine((hooks, context) => {
      hooks.forEach((hook, index) => {
        if (hooks.findIndex((other) => other.url === hook.url) !== index)
          context.addIssue({
            code: 'custom',
            path: [index, 'url'],
            message: 'this URL is already listed; give one endpoint several events instead',
          });
      });
    }),
});
