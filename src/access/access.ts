import type { Redis } from 'ioredis';
import { createPriceBook } from '../billing/prices.js';
import type { Config } from '../config/index.js';
import { isLoopback } from '../core/addresses.js';
import { type Clock, systemClock } from '../core/clock.js';
import { GatewayError } from '../errors/index.js';
import type { Credential, Principal } from '../gateway/types.js';
import {
  accessDb,
  createAccessLedger,
  createAccessRepository,
  type Database,
} from '../store/index.js';
import { type AccessAdmin, createAccessAdmin } from './admin.js';
import { type BudgetAlert, createAdmitter } from './admission.js';
import { type BudgetCounters, createMemoryBudgets } from './budgets.js';
import { createRedisBudgets } from './budgets-redis.js';
import { type ConcurrencyGate, createConcurrencyGate } from './concurrency.js';
import type { EstimateOptions } from './estimate.js';
import { createKeyCache, refusal, type ResolvedKey } from './key-cache.js';
import { createRateLimits, type RateLimits } from './rate-limits.js';
import { secretMatcher } from './secrets.js';
import { seedKeys } from './seed.js';
import { createSpendWriter, type SpendWriter } from './spend-writer.js';
import type { Admission, AdmissionRequest } from './types.js';

export type { Admission, AdmissionRequest } from './types.js';

/** Resolves credentials to principals, and admits requests against limits and budgets. */
export interface Access {
  authenticate(credential: Credential, remoteAddress: string | undefined): Promise<Principal>;
  resolveSigV4Secret(
    accessKeyId: string,
  ): Promise<{ secret: string; principal: Principal } | undefined>;
  /** Checks rate limits and reserves budget; throws a 429/402 GatewayError when refused. */
  admit(request: AdmissionRequest): Promise<Admission>;
}

/** Access plus its management side and lifecycle. */
export interface AccessModule extends Access {
  admin: AccessAdmin;
  /** Stops listening for changes from other replicas. Does not close the Redis client it was given. */
  close(): Promise<void>;
}

/** Options of {@link createAccess}. */
export interface AccessOptions {
  config: Config;
  /** Migrated database: tenants, projects, keys, spend and audit live there. */
  database: Database;
  /** Redis client (shared limits, budgets and revocations across replicas); omit for one process. */
  redis?: Redis | undefined;
  /** Prefix of every Redis key and channel. Default `config.redisPrefix`, else `switchyard:`. */
  prefix?: string | undefined;
  clock?: Clock | undefined;
  /** How long a key lookup is cached, ms. Default `auth.keyCache.ttlMs` (500): a revocation holds everywhere within it. */
  cacheTtlMs?: number | undefined;
  /** Token estimate tuning (see estimate.ts). */
  estimate?: EstimateOptions | undefined;
  onAlert?: ((alert: BudgetAlert) => void) | undefined;
  onError?: ((error: unknown) => void) | undefined;
  /**
   * Counters owned by another process: a `server.workers` worker without Redis asks the cluster
   * primary, so N workers count as one process does. Used instead of memory or Redis.
   */
  shared?: SharedCounters | undefined;
  /** Tells other processes that keys changed, without Redis (cluster workers relay it). */
  changes?: ChangeRelay | undefined;
}

/** Rate limits, concurrency slots, budgets and spend writes kept by one owner for many processes. */
export interface SharedCounters {
  rates: RateLimits;
  gate: ConcurrencyGate;
  budgets: BudgetCounters;
  spend: SpendWriter;
}

/** A fan-out of "keys changed" between processes. */
export interface ChangeRelay {
  publish(): void;
  subscribe(listener: () => void): void;
}

const MASTER: Principal = {
  keyId: 'master',
  tenantId: 'default',
  projectId: 'default',
  isMaster: true,
};
const LOOPBACK: Principal = {
  keyId: null,
  tenantId: 'default',
  projectId: 'default',
  isMaster: true,
};
const NO_ADMISSION: Admission = { headers: {}, settle: async () => {} };

/**
 * Access control: `auth.masterKey` is accepted everywhere and may use the admin API; virtual
 * keys (stored in the database as SHA-256 hashes, seeded from `keys:` at start) are resolved
 * through a short cache and must pass the limits and budgets of their tenant, project and key.
 * With no master key configured, loopback clients are served as an anonymous principal with full
 * rights (even when they send an unknown key, as SDKs always send one).
 */
export async function createAccess(options: AccessOptions): Promise<AccessModule> {
  const { config, database } = options;
  const clock = options.clock ?? systemClock;
  const master = config.auth.masterKey;
  const matchMaster = secretMatcher(master);
  const prefix =
    options.prefix ?? (config as { redisPrefix?: string }).redisPrefix ?? 'switchyard:';
  const onError = options.onError ?? ((error: unknown) => process.emitWarning(error as Error));
  const db = accessDb(database);
  const repository = createAccessRepository(db);
  const ledger = createAccessLedger(db);
  const keyCache = (config.auth as Partial<Config['auth']>).keyCache;
  const cache = createKeyCache(repository, {
    ttlMs: options.cacheTtlMs ?? keyCache?.ttlMs ?? 500,
    ...(keyCache && {
      staleWhileErrorMs: keyCache.staleWhileErrorMs,
      lookupTimeoutMs: keyCache.lookupTimeoutMs,
    }),
  });
  const load = (scope: string, periodStart: number) => ledger.spent(scope, periodStart);
  const redis = options.redis;
  const shared = options.shared;
  const budgets =
    shared?.budgets ??
    (redis ? createRedisBudgets({ redis, prefix, load }) : createMemoryBudgets(load));
  const admitter = createAdmitter({
    config,
    prices: createPriceBook(config.models),
    rates: shared?.rates ?? createRateLimits({ redis, prefix, clock, onError }),
    gate: shared?.gate ?? createConcurrencyGate({ redis, prefix }),
    budgets,
    ledger,
    spend: shared?.spend ?? createSpendWriter(ledger),
    estimate: options.estimate,
    onAlert: options.onAlert,
  });
  const resolvedBy = new WeakMap<Principal, ResolvedKey>();

  // Admin changes anywhere clear every replica's key cache (pub/sub); the TTL covers lost messages.
  const channel = `${prefix}access`;
  let subscriber: Redis | undefined;
  if (redis) {
    subscriber = redis.duplicate();
    subscriber.on('error', onError);
    subscriber.on('message', () => cache.clear());
    // (Re)subscribe on every connect, so a subscriber that lost Redis listens again once back;
    // missed messages are covered by the cache TTL.
    subscriber.on('ready', () => void subscriber!.subscribe(channel).catch(onError));
    // The first subscription is awaited, as before (bounded by the command timeout).
    await subscriber.subscribe(channel).catch(onError);
  }
  options.changes?.subscribe(() => cache.clear());
  const changed = async () => {
    cache.clear();
    options.changes?.publish();
    if (redis) await redis.publish(channel, 'changed').catch(onError);
  };

  await seedKeys({ database, keys: config.keys, now: clock() });
  const admin = createAccessAdmin({ database, budgets, clock, changed });

  const unauthorized = (message: string) =>
    new GatewayError(message, {
      code: 'unauthorized',
      status: 401,
      errorClass: 'auth',
      retryable: false,
      failover: false,
    });

  return {
    admin,
    async authenticate(credential, remoteAddress) {
      if (credential.kind === 'bearer') {
        const token = matchMaster(credential.token);
        if (token.matches) return MASTER;
        const now = clock();
        const resolved = await cache.byHash(token.hash, now);
        if (resolved) {
          const reason = refusal(resolved, now);
          if (reason) throw unauthorized(reason);
          resolvedBy.set(resolved.principal, resolved);
          return resolved.principal;
        }
        // Open loopback mode: SDKs always send some key, so an unknown one gets what no key gets.
        if (master === undefined && isLoopback(remoteAddress)) return LOOPBACK;
        throw unauthorized('Invalid API key');
      }
      if (master === undefined && isLoopback(remoteAddress)) return LOOPBACK;
      throw unauthorized(
        master === undefined
          ? 'Switchyard serves only loopback clients until auth.masterKey is set'
          : 'Missing API key (send Authorization: Bearer <key>)',
      );
    },
    async resolveSigV4Secret(accessKeyId) {
      // Virtual keys are stored only as hashes, so they cannot verify a SigV4 signature; Bedrock
      // clients use them as bearer tokens (Bedrock API keys) instead.
      if (accessKeyId === 'master' && master !== undefined)
        return { secret: master, principal: MASTER };
      return undefined;
    },
    async admit(request) {
      const { principal } = request;
      if (principal.isMaster || principal.keyId === null) return NO_ADMISSION;
      let resolved = resolvedBy.get(principal);
      if (!resolved) {
        resolved = await cache.byId(principal.keyId, request.now);
        const reason = resolved ? refusal(resolved, request.now) : 'Invalid API key';
        if (reason || !resolved) throw unauthorized(reason ?? 'Invalid API key');
      }
      return admitter(request, resolved.levels);
    },
    async close() {
      if (subscriber) subscriber.disconnect();
    },
  };
}
