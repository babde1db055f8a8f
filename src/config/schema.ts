import { z } from 'zod';
import { isAddressOrCidr } from '../core/addresses.js';
import { isDecimalString } from '../core/money.js';
import { storeSchema } from './store-schema.js';

/**
 * The configuration users write (see docs/configuration.md). Field names are a contract.
 * Decimal fields (rates, prices, caps) are kept as exact decimal strings.
 */

const decimal = z
  .union([z.string(), z.number().int()])
  .transform((value) => String(value))
  .refine(isDecimalString, { message: 'must be a decimal number such as "0.20"' });

/** A date ("2030-12-31") or an ISO instant; parsed to epoch milliseconds (UTC). */
const instant = z.union([z.string(), z.date()]).transform((value, context) => {
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

/** `billing`: the commerce plane (src/billing; docs/configuration.md#billing). */
const billingSchema = z.strictObject({
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

const partnerSchema = z.strictObject({
  name: z.string().optional(),
  primary: z.boolean().default(false),
  license: licenseSchema.optional(),
  revenueShare: revenueShareSchema.optional(),
  /** Committed spend with this partner's clouds per period, burned down before pay-as-you-go (docs/configuration.md#commitments). */
  commitment: commitmentSchema.optional(),
});

const common = {
  partner: z.string().optional(),
  baseUrl: z.url().optional(),
  /** Extra headers sent with every upstream request. */
  headers: z.record(z.string(), z.string()).optional(),
  /** Marks a provider as a local emulator (sandbox): shown as such in responses and usage. */
  sandbox: z.boolean().default(false),
  /**
   * Max sockets open at once to this provider, each holding one request or stream. Default:
   * the shared pool's 1024 per origin. Set it to give the provider its own pool of this size.
   */
  maxConnections: z.number().int().positive().max(65_536).optional(),
};

const providerSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('openai'),
    apiKey: z.string().optional(),
    organization: z.string().optional(),
    ...common,
  }),
  z.strictObject({
    type: z.literal('azure-openai'),
    apiKey: z.string().optional(),
    /** Entra ID bearer token (used instead of apiKey). */
    bearerToken: z.string().optional(),
    /** Omit to use the v1 API (/openai/v1/...). */
    apiVersion: z.string().optional(),
    ...common,
  }),
  z.strictObject({
    type: z.literal('openai-compatible'),
    apiKey: z.string().optional(),
    ...common,
  }),
  z.strictObject({
    type: z.literal('bedrock'),
    region: z.string().default('us-east-1'),
    accessKeyId: z.string().optional(),
    secretAccessKey: z.string().optional(),
    sessionToken: z.string().optional(),
    /** Bedrock API key (sent as a bearer token instead of SigV4). */
    apiKey: z.string().optional(),
    ...common,
  }),
  z.strictObject({
    type: z.literal('anthropic'),
    apiKey: z.string().optional(),
    version: z.string().default('2023-06-01'),
    ...common,
  }),
  z.strictObject({ type: z.literal('gemini'), apiKey: z.string().optional(), ...common }),
  z.strictObject({
    type: z.literal('vertex'),
    project: z.string(),
    location: z.string().default('us-central1'),
    /** OAuth access token; or a path to service-account credentials. */
    accessToken: z.string().optional(),
    credentials: z.string().optional(),
    ...common,
  }),
]);

const tokenPriceSchema = z.strictObject({
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

const capability = z.enum(['tools', 'vision', 'json_schema', 'reasoning', 'logprobs']);

const modelSchema = z.strictObject({
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

const routingSchema = z.strictObject({
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

/** `tenants.<id>`: per-tenant settings that live in config (data residency). */
const tenantSchema = z.strictObject({
  /** Regions the tenant's requests may be served in (exact, or a prefix ending in `*`). Default: any. */
  regions: z.array(z.string().min(1)).min(1).optional(),
});

const keySeedSchema = z.strictObject({
  key: z.string().min(8),
  name: z.string().optional(),
  tenant: z.string().default('default'),
  project: z.string().default('default'),
  models: z.array(z.string()).optional(),
});

/** Metrics, traces, request logs and debug body capture (see docs/operations.md). */
const telemetrySchema = z.strictObject({
  /** Prometheus metrics at GET /metrics. Default true. */
  metrics: z.boolean().default(true),
  /** Serve /metrics without a key (for scrapers on a private network). Default false: the master key is needed, as for /admin. */
  metricsPublic: z.boolean().default(false),
  /** OTLP/HTTP traces endpoint (`http://collector:4318/v1/traces`); traces are recorded only when set. Env: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT. */
  otlpEndpoint: z.url().optional(),
  /** Extra headers for the OTLP exporter (auth). */
  otlpHeaders: z.record(z.string(), z.string()).optional(),
  /** Share of new traces recorded, 0–1 (a client's sampled flag is honoured). Default 1. */
  sampleRatio: z.number().min(0).max(1).default(1),
  /** `service.name` of the traces. Default `switchyard`. */
  serviceName: z.string().default('switchyard'),
  /** Per-minute and per-hour usage roll-ups that keep the dashboard fast. Default true. */
  rollups: z.boolean().default(true),
  /** Debug storage of request and response bodies, redacted. Off by default. */
  bodies: z
    .strictObject({
      enabled: z.boolean().default(false),
      /** Hours a stored body is kept. Default 24. */
      retentionHours: z.number().positive().default(24),
      /** Bytes kept of each body (the rest is cut). Default 65536. */
      maxBytes: z.number().int().positive().default(65_536),
    })
    .prefault({}),
});

/** A webhook endpoint for background responses (runtime/agent/webhooks.ts; docs/configuration.md). */
const webhookSchema = z.strictObject({
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

/** Alert event types (alerts/index.ts). */
export const ALERT_EVENT_TYPES = [
  'budget.threshold',
  'partner.share_cap',
  'licence.ending',
  'commitment.under_use',
  'agreement.gap',
] as const;

const percentList = z.array(z.number().int().min(1).max(100)).max(10);

/** Alerts that reach people: budget thresholds, partner caps, licence ends (docs/configuration.md). */
const alertsSchema = z.strictObject({
  /** Percent of every hard or soft budget (levels and rules) at which an alert goes out, once per period each. Default [50, 80, 100]. */
  budgetThresholds: percentList.default([50, 80, 100]),
  /** Percent of a partner's revenue-share cap accrued at which an alert goes out. Default [80, 100]. */
  partnerCapThresholds: percentList.default([80, 100]),
  /** Days before a partner licence's `until` at which an alert goes out. Default [30, 7, 1]. */
  licenceDays: z.array(z.number().int().min(1).max(365)).max(10).default([30, 7, 1]),
  /** How often partner caps and licences are checked, ms. Default 3600000 (1 hour). */
  checkIntervalMs: z.number().int().positive().default(3_600_000),
  /** Where alerts are sent: signed webhooks (Standard Webhooks), or a Slack-compatible `{text}` body. */
  webhooks: z
    .array(
      webhookSchema.extend({
        events: z.array(z.enum(ALERT_EVENT_TYPES)).min(1).optional(),
        /** `standard`: `{id, object: "event", created_at, type, data}`; `slack`: `{text}` (Slack incoming webhooks). Default standard. */
        format: z.enum(['standard', 'slack']).default('standard'),
      }),
    )
    .default([]),
});

export const configSchema = z.strictObject({
  server: z
    .strictObject({
      host: z.string().default('127.0.0.1'),
      port: z.number().int().min(0).max(65_535).default(8080),
      /**
       * Processes serving the one port (node:cluster): a count, or `auto` for the CPUs this
       * process may use (affinity and cgroup quota). Default 1. See src/cluster/primary.ts.
       */
      workers: z.union([z.number().int().min(1).max(256), z.literal('auto')]).default(1),
      /** Largest request body accepted, in bytes. */
      maxBodyBytes: z
        .number()
        .int()
        .positive()
        .default(10 * 1024 * 1024),
      /** How long SIGTERM waits for in-flight requests before closing them, in ms. */
      drainTimeoutMs: z.number().int().nonnegative().default(30_000),
      /**
       * Proxies whose X-Forwarded-For is believed: addresses or CIDRs (`127.0.0.1`,
       * `10.0.0.0/8`). Default none: the socket's address is the client, and a loopback peer
       * that forwards for someone gets no loopback rights.
       */
      trustProxy: z
        .array(
          z.string().refine(isAddressOrCidr, {
            message: 'must be an IP address or a CIDR block such as 10.0.0.0/8',
          }),
        )
        .default([]),
      /**
       * Listen on a non-loopback address without auth.masterKey (virtual keys only; the admin
       * API stays loopback-only). Default false: such a start is refused.
       */
      allowNoMasterKey: z.boolean().default(false),
      /**
       * After SIGTERM, how long /readyz answers 503 while the listener still serves, so load
       * balancers stop sending new connections before it closes, in ms. Default 5000 (two
       * failed checks at a 2 s interval plus propagation; docs/operations.md).
       */
      shutdownDelayMs: z.number().int().nonnegative().default(5_000),
      /**
       * A stable name of this replica (a StatefulSet pod name, `${HOSTNAME}`): restarted under
       * the same name after a crash, it takes its background runs back at once instead of
       * waiting for their leases. Two live processes must never share one.
       */
      replicaId: z
        .string()
        .regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, ".", "_" and "-" (at most 64)')
        .optional(),
      /** Time a client has to send a request's headers (from the connection, or the next request's first byte), ms. */
      headersTimeoutMs: z.number().int().positive().default(30_000),
      /** Longest silence while a request body is being received, ms. */
      bodyIdleTimeoutMs: z.number().int().positive().default(30_000),
      /** How long an idle connection is kept open for the next request, ms. */
      keepAliveTimeoutMs: z.number().int().positive().default(65_000),
      /** Largest request head (request line and headers; HTTP/2 header list), bytes. */
      maxHeaderBytes: z
        .number()
        .int()
        .min(1024)
        .max(1024 * 1024)
        .default(16_384),
      /** Most client connections open at once; more are closed as they arrive. */
      maxConnections: z.number().int().positive().default(10_000),
      /** Deepest nesting of a JSON request body (objects and arrays); deeper → 400 json_too_deep. */
      maxJsonDepth: z.number().int().min(8).max(1000).default(128),
    })
    .prefault({}),
  /** The store: a URL, or `{url, pool, spool, readyTimeoutMs}` (store-schema.ts). */
  store: storeSchema,
  redis: z.string().optional(),
  /** Prefix of every Redis key and channel, so several deployments can share one Redis. */
  redisPrefix: z.string().default('switchyard:'),
  /** Opening a Redis connection, ms. Default 2000. */
  redisConnectTimeoutMs: z.number().int().positive().default(2_000),
  /**
   * One Redis command, ms: past it, limits and budgets take their fallback (memory windows;
   * 503 for budgets and concurrency) and the client counts as stalled until a PING answers.
   * Default 150.
   */
  redisCommandTimeoutMs: z.number().int().positive().default(150),
  auth: z
    .strictObject({
      masterKey: z.string().min(1).optional(),
      /** Virtual key lookups (src/access/key-cache.ts). */
      keyCache: z
        .strictObject({
          /** How long a lookup is trusted without asking the store, ms. Default 500. */
          ttlMs: z.number().int().positive().default(500),
          /**
           * While the store fails or is slow, a key looked up before keeps its last answer for this
           * long past its TTL, ms (0 = never). Default 300000 (5 minutes).
           */
          staleWhileErrorMs: z.number().int().nonnegative().default(300_000),
          /** A lookup that takes longer fails (stale answer, else 503), ms. Default 2000. */
          lookupTimeoutMs: z.number().int().positive().default(2_000),
        })
        .prefault({}),
    })
    .prefault({}),
  logging: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    })
    .prefault({}),
  partners: z.record(z.string(), partnerSchema).default({}),
  /** Per-tenant settings by tenant id (data residency `regions`). */
  tenants: z.record(z.string(), tenantSchema).default({}),
  billing: billingSchema.prefault({}),
  providers: z.record(z.string(), providerSchema).default({}),
  models: z.record(z.string(), modelSchema).default({}),
  routing: routingSchema.prefault({}),
  keys: z.array(keySeedSchema).default([]),
  /** Stateful runtime (Responses and Conversations APIs). */
  runtime: z
    .strictObject({
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
    })
    .prefault({}),
  telemetry: telemetrySchema.prefault({}),
  /** Alerts delivered as signed webhooks (budget thresholds, partner caps, licence ends). */
  alerts: alertsSchema.prefault({}),
});

export type Config = z.output<typeof configSchema>;
/** Resolved `telemetry` section. */
export type TelemetryConfig = Config['telemetry'];
export type ConfigInput = z.input<typeof configSchema>;
export type ProviderConfig = Config['providers'][string];
export type ProviderType = ProviderConfig['type'];
export type ModelConfig = Config['models'][string];
export type DeploymentConfig = ModelConfig['deployments'][number];
export type PartnerConfig = Config['partners'][string];
export type RoutingConfig = Config['routing'];
export type RoutingRule = RoutingConfig['rules'][number];
export type TokenPrice = z.output<typeof tokenPriceSchema>;
export type Capability = z.output<typeof capability>;
/** An API kind (licence `apis`). */
export type ApiKind = (typeof API_KINDS)[number];

/** A plain object (not an array, not null), or undefined: what the reference checks can walk. */
function record(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/** The items of an array, or none. */
function items(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/**
 * Cross-field checks: references between sections. Returns [path, message] pairs.
 *
 * Written against the raw (interpolated, not yet validated) shape as well as a parsed Config, so
 * `config check` can report a reference error (`unknown provider "bedrok"`) in the same pass as
 * the schema errors: a part whose shape is wrong is skipped here (the schema reports it), and a
 * default the schema would fill (`kind: chat`, no fallbacks) is assumed.
 */
export function crossCheck(config: unknown): Array<[string, string]> {
  const problems: Array<[string, string]> = [];
  const root = record(config) ?? {};
  const partners = record(root['partners']) ?? {};
  const providers = record(root['providers']) ?? {};
  const models = record(root['models']) ?? {};
  for (const [id, value] of Object.entries(providers)) {
    const provider = record(value);
    if (!provider) continue;
    const partner = provider['partner'];
    if (typeof partner === 'string' && !Object.hasOwn(partners, partner)) {
      problems.push([`providers.${id}.partner`, `unknown partner "${partner}"`]);
    }
    if (
      provider['type'] === 'bedrock' &&
      (provider['accessKeyId'] === undefined) !== (provider['secretAccessKey'] === undefined)
    ) {
      problems.push([`providers.${id}`, 'accessKeyId and secretAccessKey go together']);
    }
  }
  const kindOf = (model: Record<string, unknown>) =>
    typeof model['kind'] === 'string' ? model['kind'] : 'chat';
  for (const [name, value] of Object.entries(models)) {
    const model = record(value);
    if (!model) continue;
    items(model['deployments']).forEach((item, index) => {
      const deployment = record(item);
      if (!deployment || typeof deployment['provider'] !== 'string') return;
      const path = `models.${name}.deployments[${index}]`;
      if (!Object.hasOwn(providers, deployment['provider'])) {
        problems.push([`${path}.provider`, `unknown provider "${deployment['provider']}"`]);
        return;
      }
      const provider = record(providers[deployment['provider']]);
      const partnerId = provider?.['partner'];
      const licence =
        typeof partnerId === 'string'
          ? record(record(partners[partnerId])?.['license'])
          : undefined;
      const region = deployment['region'] ?? provider?.['region'] ?? provider?.['location'];
      if (Array.isArray(licence?.['regions']) && typeof region !== 'string')
        problems.push([
          `${path}.region`,
          `partner "${String(partnerId)}" is licensed in some regions only: give the deployment a region`,
        ]);
      if (
        provider &&
        deployment['api'] !== undefined &&
        typeof provider['type'] === 'string' &&
        provider['type'] !== 'bedrock'
      ) {
        problems.push([
          `${path}.api`,
          `"api" applies to bedrock deployments only, not ${provider['type']}`,
        ]);
      }
    });
    items(model['fallbacks']).forEach((fallback, index) => {
      if (typeof fallback !== 'string') return;
      const path = `models.${name}.fallbacks[${index}]`;
      const target = Object.hasOwn(models, fallback) ? record(models[fallback]) : undefined;
      if (!Object.hasOwn(models, fallback)) problems.push([path, `unknown model "${fallback}"`]);
      else if (fallback === name) problems.push([path, 'a model cannot be its own fallback']);
      else if (target && kindOf(target) !== kindOf(model))
        problems.push([
          path,
          `"${fallback}" is an ${kindOf(target)} model; "${name}" is a ${kindOf(model)} model`,
        ]);
    });
  }
  items(record(root['routing'])?.['rules']).forEach((item, index) => {
    const model = record(item)?.['model'];
    if (typeof model === 'string' && !Object.hasOwn(models, model))
      problems.push([`routing.rules[${index}].model`, `unknown model "${model}"`]);
    if (model === undefined && record(item) !== undefined) {
      const overflow = record(record(item)?.['when'])?.['contextOverflow'] === true;
      if (overflow || record(item)?.['strategy'] === undefined)
        problems.push([
          `routing.rules[${index}].model`,
          overflow
            ? 'a contextOverflow rule needs `model`'
            : 'a rule needs `model`, `strategy`, or both',
        ]);
    }
  });
  const primaries = Object.entries(partners).filter(
    ([, partner]) => record(partner)?.['primary'] === true,
  );
  if (primaries.length > 1)
    problems.push([
      'partners',
      `only one partner may be primary (${primaries.map(([id]) => id).join(', ')})`,
    ]);
  return problems;
}
