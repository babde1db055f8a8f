import { z } from 'zod';

/** Fields every provider type takes. */
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

/** `providers.<id>`: an upstream, by `type`. */
export const providerSchema = z.discriminatedUnion('type', [
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
