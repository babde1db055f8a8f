import { z } from 'zod';
import { authSchema, keySeedSchema, tenantSchema } from './schema/access.js';
import { alertsSchema } from './schema/alerts.js';
import { billingSchema } from './schema/billing.js';
import { type capability, modelSchema, type tokenPriceSchema } from './schema/models.js';
import { type API_KINDS, partnerSchema } from './schema/partners.js';
import { providerSchema } from './schema/providers.js';
import { routingSchema } from './schema/routing.js';
import { runtimeSchema } from './schema/runtime.js';
import { serverSchema } from './schema/server.js';
import { telemetrySchema } from './schema/telemetry.js';
import { storeSchema } from './store-schema.js';

export { crossCheck } from './schema/cross-check.js';
export { ALERT_EVENT_TYPES } from './schema/alerts.js';
export { API_KINDS } from './schema/partners.js';

/**
 * The configuration users write (see docs/configuration.md). Field names are a contract.
 * Decimal fields (rates, prices, caps) are kept as exact decimal strings.
 */
export const configSchema = z.strictObject({
  server: serverSchema.prefault({}),
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
  auth: authSchema.prefault({}),
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
  runtime: runtimeSchema.prefault({}),
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
