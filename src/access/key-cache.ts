import { storeUnavailable, withStoreTimeout } from '../errors/index.js';
import type { Principal } from '../gateway/types.js';
import type { AccessRepository, KeyLookup } from '../store/index.js';
import type { Level } from './policy.js';
import { merged } from '../core/objects.js';

/** A virtual key resolved for the hot path: who it is, and every level it must pass. */
export interface ResolvedKey extends KeyLookup {
  principal: Principal;
  /** Tenant, project, key: in that order. */
  levels: Level[];
}

/** Why a known key is refused, or undefined when it may be used at `now`. */
export function refusal(resolved: KeyLookup, now: number): string | undefined {
  const { key, project, tenant, secretExpiresAt } = resolved;
  if (key.revokedAt !== null && key.revokedAt <= now) return 'API key has been revoked';
  if (key.status !== 'active') return 'API key is disabled';
  if (key.expiresAt !== null && key.expiresAt <= now) return 'API key has expired';
  if (secretExpiresAt !== null && secretExpiresAt <= now)
    return 'API key was rotated and its grace period is over';
  if (project.status !== 'active') return `Project ${project.id} is disabled`;
  if (tenant.status !== 'active') return `Tenant ${tenant.id} is disabled`;
  return undefined;
}

/** Caches key lookups by secret hash and by key id, for at most `ttlMs`. */
export interface KeyCache {
  byHash(hash: string, now: number): Promise<ResolvedKey | undefined>;
  byId(keyId: string, now: number): Promise<ResolvedKey | undefined>;
  /** Drops everything (after an admin change here or on another replica). */
  clear(): void;
}

interface Entry {
  value: ResolvedKey | undefined;
  loadedAt: number;
}

const MAX_ENTRIES = 50_000;

/** Options of {@link createKeyCache} (`auth.keyCache`). */
export interface KeyCacheOptions {
  /** How long an entry is trusted, ms. Default 500. */
  ttlMs?: number;
  /** How long past its TTL an entry still answers while the store fails, ms. Default 300000. */
  staleWhileErrorMs?: number;
  /** A lookup slower than this fails (stale answer, else 503 store_unavailable), ms. Default 2000. */
  lookupTimeoutMs?: number;
  /** Told when a lookup fails and a stale entry answers instead. */
  onStale?: (error: unknown) => void;
}

/**
 * A read-through cache over the repository. Entries live `ttlMs` (default 500 ms), so a key
 * revoked on another replica stops working here within that time even if the revocation message
 * is lost; unknown hashes are cached too (a random secret cannot be guessed, so a miss stays a
 * miss). Concurrent misses for one key share one database query.
 *
 * Store outages: a lookup is bounded by `lookupTimeoutMs`; when it fails or times out, an entry
 * loaded less than `ttlMs + staleWhileErrorMs` ago answers as it last did (keys already known
 * keep working), and a key never seen answers 503 `store_unavailable`. A timed-out lookup
 * leaves the shared in-flight slot at once, so the next request asks the store again instead
 * of waiting on a dead query.
 */
export function createKeyCache(
  repository: AccessRepository,
  options: KeyCacheOptions | number = {},
): KeyCache {
  const settings = typeof options === 'number' ? { ttlMs: options } : options;
  const ttlMs = settings.ttlMs ?? 500;
  const staleMs = settings.staleWhileErrorMs ?? 300_000;
  const lookupTimeoutMs = settings.lookupTimeoutMs ?? 2_000;
  const byHash = new Map<string, Entry>();
  const byId = new Map<string, Entry>();
  const pending = new Map<string, Promise<ResolvedKey | undefined>>();

  const read = async (
    map: Map<string, Entry>,
    id: string,
    now: number,
    load: () => Promise<KeyLookup | undefined>,
  ) => {
    const entry = map.get(id);
    if (entry && now - entry.loadedAt < ttlMs && now >= entry.loadedAt) return entry.value;
    let inFlight = pending.get(id);
    if (inFlight === undefined) {
      const promise = withStoreTimeout(load(), lookupTimeoutMs, 'key lookup')
        .then((lookup) => {
          const value = lookup && resolve(lookup);
          if (map.size >= MAX_ENTRIES) map.clear();
          map.set(id, { value, loadedAt: now });
          return value;
        })
        .finally(() => {
          if (pending.get(id) === promise) pending.delete(id);
        });
      pending.set(id, promise);
      inFlight = promise;
    }
    try {
      return await inFlight;
    } catch (error) {
      // Stale-while-error: what this key was a moment ago beats refusing a paying client.
      if (entry && now >= entry.loadedAt && now - entry.loadedAt < ttlMs + staleMs) {
        settings.onStale?.(error);
        return entry.value;
      }
      throw storeUnavailable(error);
    }
  };

  return {
    byHash: (hash, now) => read(byHash, hash, now, () => repository.findByHash(hash)),
    byId: (keyId, now) =>
      read(byId, `id:${keyId}`, now, async () => {
        const found = await repository.findById(keyId);
        return found && merged(found, { secretExpiresAt: null });
      }),
    clear() {
      byHash.clear();
      byId.clear();
    },
  };
}

function resolve(lookup: KeyLookup): ResolvedKey {
  const { key, project, tenant } = lookup;
  return merged(lookup, {
    principal: {
      keyId: key.id,
      tenantId: tenant.id,
      projectId: project.id,
      isMaster: false,
      allowedModels: key.allowedModels ?? undefined,
      ...(key.includeCost && { includeCost: true }),
    },
    levels: [
      { kind: 'tenant', id: tenant.id, policy: tenant.policy },
      { kind: 'project', id: project.id, policy: project.policy },
      { kind: 'key', id: key.id, policy: key.policy },
    ],
  });
}
