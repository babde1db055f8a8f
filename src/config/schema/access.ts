import { z } from 'zod';

/** `auth`: the master key and the virtual key lookups. */
export const authSchema = z.strictObject({
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
});

/** `tenants.<id>`: per-tenant settings that live in config (data residency). */
export const tenantSchema = z.strictObject({
  /** Regions the tenant's requests may be served in (exact, or a prefix ending in `*`). Default: any. */
  regions: z.array(z.string().min(1)).min(1).optional(),
});

/** `keys`: virtual keys seeded at start. */
export const keySeedSchema = z.strictObject({
  key: z.string().min(8),
  name: z.string().optional(),
  tenant: z.string().default('default'),
  project: z.string().default('default'),
  models: z.array(z.string()).optional(),
});
